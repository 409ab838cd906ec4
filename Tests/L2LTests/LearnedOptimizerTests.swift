import Foundation
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

    @Test("evaluation steps give exactly the updates (and the state, moments included) of the training unroll",
          arguments: [LSTMArchitecture.paperQuadratic, NormalisedPreprocessingTests.architecture])
    func evaluationMatchesTraining(architecture: LSTMArchitecture) throws {
        var generator = Generator(seed: 8)
        let phi = Phi(initializing: architecture, using: &generator)
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
        #expect(state.lstm.flattened.map(\.bitPattern) == trajectory.state.flattened.map(\.bitPattern))
        #expect(state.lstm.moments.count == architecture.preprocessing.momentCount)
        #expect(state.lstm.moments.allSatisfy { $0.array.contains { $0 != 0 } })
    }

    @Test("the kernels' steps equal the paper's LSTM (Fig. 3, Appendix A) computed coordinate by coordinate in Double")
    func matchesReference() throws {
        var generator = Generator(seed: 11)
        let architecture = LSTMArchitecture.paperMNIST
        var phi = Phi(initializing: architecture, using: &generator)
        // Nonzero biases, so that every term of the cell is exercised.
        for name in ["lstm1/b", "lstm2/b", "out/b"] {
            let range = try #require(phi.tensor(named: name)).range
            for k in range { phi.values[k] = Float(generator.normal()) * 0.5 }
        }
        let n = 37  // not a multiple of 16: the padding must not leak
        let hidden = 20, k: Double = 10
        let w1 = phi.values(of: "lstm1/w").map(Double.init), b1 = phi.values(of: "lstm1/b").map(Double.init)
        let w2 = phi.values(of: "lstm2/w").map(Double.init), b2 = phi.values(of: "lstm2/b").map(Double.init)
        let wOut = phi.values(of: "out/w").map(Double.init), bOut = Double(phi.values(of: "out/b")[0])
        func sigmoid(_ x: Double) -> Double { 1 / (1 + Foundation.exp(-x)) }
        func cell(_ input: [Double], _ h: [Double], _ c: [Double], _ w: [Double], _ b: [Double]) -> (h: [Double], c: [Double]) {
            let x = input + h
            var z = b
            for row in x.indices { for gate in 0..<4 * hidden { z[gate] += x[row] * w[row * 4 * hidden + gate] } }
            var newH = [Double](repeating: 0, count: hidden), newC = newH
            for u in 0..<hidden {
                let i = sigmoid(z[u]), j = Foundation.tanh(z[hidden + u]), f = sigmoid(z[2 * hidden + u] + 1), o = sigmoid(z[3 * hidden + u])
                newC[u] = f * c[u] + i * j
                newH[u] = Foundation.tanh(newC[u]) * o
            }
            return (newH, newC)
        }

        let optimizer = LearnedOptimizer(phi: phi)
        var state = optimizer.makeState(parameterCount: n)
        var theta = [Float](repeating: 0, count: n)
        var reference = [[[Double]]](repeating: [[Double]](repeating: [Double](repeating: 0, count: hidden), count: 4), count: n)  // h1, c1, h2, c2
        var worst = 0.0
        for _ in 0..<3 {
            let gradient = (0..<n).map { index in Float(generator.normal()) * Float([1e-6, 1e-3, 1, 30][index % 4]) }
            let before = theta
            try optimizer.step(&theta, gradient: gradient, state: &state)
            for i in 0..<n {
                let g = Double(gradient[i])
                let x = [max(Foundation.log(abs(g) + Double(Float.ulpOfOne)) / k, -1), min(max(g * Foundation.exp(k), -1), 1)]
                let layer1 = cell(x, reference[i][0], reference[i][1], w1, b1)
                let layer2 = cell(layer1.h, reference[i][2], reference[i][3], w2, b2)
                reference[i] = [layer1.h, layer1.c, layer2.h, layer2.c]
                let delta = 0.1 * (zip(layer2.h, wOut).reduce(0) { $0 + $1.0 * $1.1 } + bOut)
                worst = max(worst, abs(Double(theta[i] - before[i]) - delta) / (1e-3 + abs(delta)))
            }
        }
        #expect(worst < 1e-5, "worst relative disagreement \(worst)")
    }
}
