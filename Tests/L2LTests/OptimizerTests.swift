import Testing
@testable import L2L

/// The baselines' update rules against values computed independently, to the last bit.
///
/// The expected values come from numpy in float32 (the same rules written elementwise in
/// Python, no fused multiply-add), printed as hexadecimal floats; the bias corrections of Adam
/// are 1 − β^t computed in double from the float32 β and rounded to float32.
@Suite("hand-crafted optimizers")
struct OptimizerTests {
    static let theta0: [Float] = [0.5, -1.25, 2.0]
    static let gradients: [[Float]] = [[0.1, -0.2, 0.3], [-0.05, 0.4, 0.0], [1.0, -1.0, 0.25]]

    static let expected: [String: [[Float]]] = [
        "sgd": [[0x1.f5c29p-2, -0x1.3ae148p+0, 0x1.f851ecp+0], [0x1.fae148p-2, -0x1.451eb8p+0, 0x1.f851ecp+0], [0x1.947ae2p-2, -0x1.2b851ep+0, 0x1.f1eb86p+0]],
        "nag": [[0x1.ec8b44p-2, -0x1.3645a2p+0, 0x1.f16872p+0], [0x1.edfa44p-2, -0x1.4594bp+0, 0x1.eb2fecp+0], [0x1.28199p-2, -0x1.1980b4p+0, 0x1.d96dbp+0]],
        "rmsprop": [[-0x1.ffffep-2, -0x1.fffffp-3, 0x1.fffff8p-1], [-0x1.a1ae5p-5, -0x1.2533e4p+0, 0x1.fffff8p-1], [-0x1.0b7ee2p+0, -0x1.da312p-3, 0x1.6c912cp-2]],
        "adam": [[0x1.99999ap-2, -0x1.266666p+0, 0x1.e66666p+0], [0x1.7e53bcp-2, -0x1.2fc5b2p+0, 0x1.d53f1ap+0], [0x1.3af9fep-2, -0x1.23cc56p+0, 0x1.c096bap+0]],
    ]

    func run<O: Optimizer>(_ optimizer: O) throws -> [[Float]] {
        var theta = Self.theta0
        var state = optimizer.makeState(parameterCount: theta.count)
        var trajectory: [[Float]] = []
        for gradient in Self.gradients {
            try optimizer.step(&theta, gradient: gradient, state: &state)
            trajectory.append(theta)
        }
        return trajectory
    }

    func expectBitIdentical(_ actual: [[Float]], _ name: String) {
        let expected = Self.expected[name] ?? []
        #expect(actual.map { $0.map(\.bitPattern) } == expected.map { $0.map(\.bitPattern) }, "\(name): \(actual) ≠ \(expected)")
    }

    @Test("SGD: θ ← θ − lr·g")
    func sgd() throws { expectBitIdentical(try run(SGD(learningRate: 0.1)), "sgd") }

    @Test("NAG: v ← μv + g, θ ← θ − lr·(g + μv), μ = 0.9")
    func nag() throws { expectBitIdentical(try run(NAG(learningRate: 0.1)), "nag") }

    @Test("RMSprop: v ← αv + (1−α)g², θ ← θ − lr·g/(√v + ε), α = 0.99, ε = 1e-8")
    func rmsprop() throws { expectBitIdentical(try run(RMSprop(learningRate: 0.1)), "rmsprop") }

    @Test("Adam: bias-corrected moments, β₁ = 0.9, β₂ = 0.999, ε = 1e-8")
    func adam() throws { expectBitIdentical(try run(Adam(learningRate: 0.1)), "adam") }

    @Test("Adam's first step moves every coordinate by lr against the gradient's sign")
    func adamFirstStep() throws {
        var theta: [Float] = [1, 1, 1]
        let adam = Adam(learningRate: 0.01)
        var state = adam.makeState(parameterCount: 3)
        adam.step(&theta, gradient: [1e-3, -5, 100], state: &state)
        #expect(state.step == 1)
        for (value, expected) in zip(theta, [Float(0.99), 1.01, 0.99]) { #expect(abs(value - expected) < 1e-5) }
    }
}
