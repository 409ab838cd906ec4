import Testing
@testable import L2L

@Suite("optimizees")
struct OptimizeeTests {
    /// Checks ∇f against central differences of f at every coordinate (or `sample` of them).
    func checkGradient<O: Optimizee>(_ optimizee: inout O, theta: [Float], batch: O.Batch, step: Float, relative: Double, absolute: Double, sample: Int? = nil) {
        var gradient = [Float](repeating: 0, count: optimizee.parameterCount)
        _ = optimizee.lossAndGradient(theta, batch: batch, gradient: &gradient)
        var copy = optimizee
        let f: ([Float]) -> Double = { Double(copy.loss($0, batch: batch)) }
        let coordinates = sample.map { count in (0..<count).map { $0 * theta.count / count } } ?? Array(theta.indices)
        var failures = 0
        for i in coordinates {
            let numeric = centralDifference(f, at: theta, coordinate: i, step: step)
            if !isClose(Double(gradient[i]), numeric, relative: relative, absolute: absolute) {
                failures += 1
                if failures <= 5 { Issue.record("coordinate \(i): analytic \(gradient[i]), numeric \(numeric)") }
            }
        }
        _ = copy
    }

    @Test("quadratic: f and ∇f match a direct computation and finite differences", arguments: Quadratic.Distribution.allCases)
    func quadratic(distribution: Quadratic.Distribution) throws {
        var generator = Generator(seed: 1)
        var quadratic = QuadraticProblem(problems: 3, dimensions: 4, distribution: distribution).makeInstance(using: &generator)
        let theta = (0..<12).map { _ in Float(generator.normal()) }
        // f by the definition: (1/B) Σ_b ‖W_b θ_b − y_b‖².
        var direct: Double = 0
        for b in 0..<3 {
            for r in 0..<4 {
                var residual = -Double(quadratic.y[b * 4 + r])
                for c in 0..<4 { residual += Double(quadratic.w[b * 16 + r * 4 + c]) * Double(theta[b * 4 + c]) }
                direct += residual * residual
            }
        }
        #expect(isClose(Double(quadratic.loss(theta, batch: ())), direct / 3, relative: 1e-6, absolute: 0))
        checkGradient(&quadratic, theta: theta, batch: (), step: 1e-2, relative: 1e-3, absolute: 1e-4)
        if distribution == .uniform {
            #expect(quadratic.w.allSatisfy { $0 >= 0 && $0 < 1 })
        } else {
            #expect(quadratic.w.contains { $0 < 0 })
        }
    }

    @Test("the quadratic's θ₀ ~ N(0, 0.01²) and the paper's sizes")
    func quadraticInitialisation() throws {
        var generator = Generator(seed: 2)
        let quadratic = QuadraticProblem().makeInstance(using: &generator)
        #expect(quadratic.parameterCount == 1280)
        let theta = quadratic.initialTheta(using: &generator)
        let mean = theta.reduce(0, +) / Float(theta.count)
        let deviation = (theta.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(theta.count)).squareRoot()
        #expect(abs(mean) < 0.001 && abs(deviation - 0.01) < 0.001)
    }

    @Test("MLP: ∇f matches finite differences", arguments: [
        ([5], MLP.Activation.sigmoid), ([5], .relu), ([5], .tanh),
        ([4, 3], .sigmoid), ([4, 3], .relu), ([4, 3], .tanh),
    ])
    func mlpGradient(hidden: [Int], activation: MLP.Activation) throws {
        let data = toyData()
        var mlp = MLP(data: data, hiddenSizes: hidden, activation: activation, batchSize: 8)
        var generator = Generator(seed: 3)
        // Weights larger than the 0.01 initialisation, so every term of the gradient matters.
        let theta = (0..<mlp.parameterCount).map { _ in Float(generator.normal()) * 0.5 }
        let batch = mlp.sampleBatch(using: &generator)
        checkGradient(&mlp, theta: theta, batch: batch, step: 1e-2, relative: 2e-2, absolute: 2e-4)
    }

    @Test("MLP: splitting the minibatch and the weights across the workers changes no bit of the loss or ∇f",
          arguments: [([20], MLP.Activation.sigmoid), ([20, 20], .relu)])
    func mlpBlocksChangeNothing(hidden: [Int], activation: MLP.Activation) throws {
        var generator = Generator(seed: 5)
        let count = 300, inputSize = 784
        let data = ClassificationData(
            bytes: (0..<count * inputSize).map { _ in UInt8(generator.index(below: 256)) }, divisor: 255,
            labels: (0..<count).map { _ in UInt8(generator.index(below: 10)) }, inputSize: inputSize, classes: 10)
        let mlp = MLP(data: data, hiddenSizes: hidden, activation: activation)
        let theta = (0..<mlp.parameterCount).map { _ in Float(generator.normal()) * 0.1 }
        let batch = mlp.sampleBatch(using: &generator)
        var results: [(loss: Float, gradient: [Float])] = []
        for blocks in [1, 2, 3] {
            mlp.blockCount = blocks
            var gradient = [Float](repeating: .nan, count: mlp.parameterCount)
            let loss = mlp.lossAndGradient(theta, batch: batch, gradient: &gradient)
            results.append((loss, gradient))
        }
        #expect(results[0].gradient.allSatisfy { $0.isFinite } && results[0].gradient.contains { $0 != 0 })
        for result in results.dropFirst() {
            #expect(result.loss.bitPattern == results[0].loss.bitPattern)
            #expect(result.gradient.map(\.bitPattern) == results[0].gradient.map(\.bitPattern))
        }
    }

    @Test("MLP: the paper's base network has 15,910 parameters; the generalisation networks their own")
    func mlpSizes() throws {
        let data = ClassificationData(inputs: [Float](repeating: 0, count: 784), labels: [0], inputSize: 784, classes: 10)
        #expect(MLP(data: data).parameterCount == 15_910)
        #expect(MLP(data: data, hiddenSizes: [40]).parameterCount == 784 * 40 + 40 + 40 * 10 + 10)
        #expect(MLP(data: data, hiddenSizes: [20, 20]).parameterCount == 15_910 + 20 * 20 + 20)
    }

    @Test("MLP: the loss at θ = 0 is log(classes), and minibatches are drawn with replacement")
    func mlpLossAndBatches() throws {
        let data = toyData(count: 10, classes: 3)
        var mlp = MLP(data: data, hiddenSizes: [4], batchSize: 64)
        let zero = [Float](repeating: 0, count: mlp.parameterCount)
        var generator = Generator(seed: 4)
        let batch = mlp.sampleBatch(using: &generator)
        #expect(isClose(Double(mlp.loss(zero, batch: batch)), Double.log(3), relative: 1e-6, absolute: 0))
        #expect(batch.count == 64 && batch.allSatisfy { (0..<10).contains($0) })
        #expect(Set(batch).count < 64)  // 64 draws from 10 examples must repeat
    }

    @Test("MLP: a confidently wrong network has a large finite loss, not inf, even where p_label underflows",
          arguments: [30, 90, 300] as [Float])
    func mlpConfidentlyWrongLoss(gap: Float) throws {
        let data = toyData(count: 10, classes: 3)
        var mlp = MLP(data: data, hiddenSizes: [4], batchSize: 64)
        // Every weight 0, so the logits are the output biases for every example.
        var theta = [Float](repeating: 0, count: mlp.parameterCount)
        let outputBiases = try #require(mlp.layerRanges.last).biases
        theta[outputBiases.lowerBound + 1] = gap
        var generator = Generator(seed: 5)
        let batch = mlp.sampleBatch(using: &generator)
        let logits = [0, Double(gap), 0]
        let logSumExp = Double(gap) + Double.log(1 + 2 * Double.exp(-Double(gap)))
        let expected = batch.map { logSumExp - logits[Int(data.labels[Int($0)])] }.reduce(0, +) / Double(batch.count)
        var gradient = [Float](repeating: 0, count: mlp.parameterCount)
        let loss = mlp.lossAndGradient(theta, batch: batch, gradient: &gradient)
        #expect(loss.isFinite && gradient.allSatisfy(\.isFinite))
        #expect(isClose(Double(loss), expected, relative: 1e-6, absolute: 1e-6))
    }
}
