import Testing
@testable import L2L

@Suite("the learned optimizer")
struct LearnedOptimizerTests {
    func preprocess(_ preprocessing: Preprocessing, _ gradient: [Float]) throws -> [Float] {
        var inputs = [Float](repeating: .nan, count: gradient.count * preprocessing.inputSize)
        try gradient.withUnsafeBufferPointer { g in
            try inputs.withUnsafeMutableBufferPointer { x in
                try preprocessing.apply(g.baseAddress!, count: gradient.count, into: x.baseAddress!)
            }
        }
        return inputs
    }

    @Test("LogAndSign on edge values equals the paper's piecewise rule (Appendix A)")
    func logAndSign() throws {
        let k: Float = 10
        let threshold = Float.exp(-k)  // |g| ≥ e^−k: (log|g|/k, sgn g); otherwise (−1, eᵏ g)
        let gradients: [Float] = [0, -0.0, .leastNonzeroMagnitude, -.leastNormalMagnitude, 1e-30, -1e-6, threshold * 0.5,
                                  threshold * 2, 0.3, -1, 1e10, -.greatestFiniteMagnitude]
        let inputs = try preprocess(.logAndSign(k: k), gradients)
        for (index, g) in gradients.enumerated() {
            let (logPart, signPart) = (inputs[index], inputs[gradients.count + index])  // feature-major
            if abs(g) >= threshold * 1.01 {
                // The ε of the formula shifts log|g| by at most ε/|g|.
                #expect(abs(logPart - Float.log(abs(g)) / k) <= (Float.ulpOfOne / abs(g)) / k + 1e-6, "log part of \(g)")
                #expect(signPart == (g > 0 ? 1 : -1), "sign part of \(g)")
            } else if abs(g) <= threshold * 0.99 {
                #expect(logPart == -1, "log part of \(g)")
                #expect(abs(signPart - Float.exp(k) * g) <= 1e-6 * max(1, abs(signPart)), "scaled part of \(g)")
            }
            #expect(logPart.isFinite && signPart.isFinite)
            #expect(signPart >= -1 && signPart <= 1)
        }
        #expect([inputs[0], inputs[gradients.count]] == [-1, 0])
        #expect(inputs[11] == Float.log(.greatestFiniteMagnitude) / k)
    }

    @Test("NaN and infinite gradients are rejected with the coordinate named", arguments: [Float.nan, .infinity, -.infinity])
    func nonFinite(value: Float) throws {
        for preprocessing in [Preprocessing.identity, .logAndSign(k: 5)] {
            let error = #expect(throws: NonFiniteGradientError.self) { try preprocess(preprocessing, [0.1, 0.2, value, 0.3]) }
            #expect(error?.coordinate == 2)
            #expect(error?.description.contains("coordinate 2") == true)
        }
        let optimizer = LearnedOptimizer(phi: Phi(zerosFor: .paperMNIST))
        var theta: [Float] = [1, 2]
        var state = optimizer.makeState(parameterCount: 2)
        #expect(throws: NonFiniteGradientError.self) { try optimizer.step(&theta, gradient: [value, 0], state: &state) }
        #expect(theta == [1, 2])
    }

    @Test("φ: the named tensors, their shapes, and Sonnet's truncated-normal initialisation")
    func phiLayout() throws {
        var generator = Generator(seed: 5)
        let phi = Phi(initializing: .paperMNIST, using: &generator)
        #expect(phi.tensors.map(\.name) == ["lstm1/w", "lstm1/b", "lstm2/w", "lstm2/b", "out/w", "out/b"])
        #expect(phi.tensors.map(\.shape) == [[22, 80], [80], [40, 80], [80], [20, 1], [1]])
        #expect(phi.values.count == 22 * 80 + 80 + 40 * 80 + 80 + 20 + 1)
        for (name, fanIn) in [("lstm1/w", 22.0), ("lstm1/b", 22), ("lstm2/w", 40), ("lstm2/b", 40), ("out/w", 20)] {
            let values = phi.values(of: name).map(Double.init)
            let sigma = 1 / fanIn.squareRoot()
            #expect(values.allSatisfy { abs($0) <= 2 * sigma }, "\(name) is cut at 2σ")
            let deviation = (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
            // A normal truncated at 2σ has standard deviation 0.880σ.
            if values.count >= 1000 { #expect(abs(deviation / sigma - 0.88) < 0.12, "\(name): σ ratio \(deviation / sigma)") }
        }
        #expect(phi.values(of: "out/b") == [0])
        #expect(Phi(zerosFor: .paperQuadratic).tensor(named: "lstm1/w")?.shape == [21, 80])
    }

    @Test("evaluation steps give exactly the updates of the training unroll")
    func evaluationMatchesTraining() throws {
        var generator = Generator(seed: 8)
        let phi = Phi(initializing: .paperQuadratic, using: &generator)
        var quadratic = QuadraticProblem(problems: 4, dimensions: 5).makeInstance(using: &generator)
        let theta0 = quadratic.initialTheta(using: &generator)

        var trajectory = Trajectory(instance: quadratic, theta: theta0, state: LSTMState(architecture: phi.architecture, coordinates: 20), step: 0)
        let tape = Tape(architecture: phi.architecture, coordinates: 20, steps: 5)
        var gradient = [Float](repeating: 0, count: 20)
        _ = try MetaTrainer<QuadraticProblem>.unroll(tape: tape, phi: phi, trajectory: &trajectory, batches: [(), (), (), (), (), ()], gradient: &gradient)

        let optimizer = LearnedOptimizer(phi: phi)
        var state = optimizer.makeState(parameterCount: 20)
        var theta = theta0
        for _ in 0..<5 {
            _ = quadratic.lossAndGradient(theta, batch: (), gradient: &gradient)
            try optimizer.step(&theta, gradient: gradient, state: &state)
        }
        #expect(theta.map(\.bitPattern) == trajectory.theta.map(\.bitPattern))
        #expect(state.lstm.h[1].array.map(\.bitPattern) == trajectory.state.h[1].array.map(\.bitPattern))
    }
}
