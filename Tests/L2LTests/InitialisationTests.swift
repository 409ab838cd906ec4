import Testing
@testable import L2L

/// θ₀ of the MLP optimizee (`optimizee.init`): the released code's draws unchanged, and the
/// statistics of the other forms.
@Suite("optimizee initialisation")
struct InitialisationTests {
    static let layers = [784, 20, 20, 10]

    static func theta(_ initialisation: Initialisation, seed: UInt64 = 11) -> [Float] {
        var generator = Generator(seed: seed)
        return initialisation.theta(layerSizes: layers, using: &generator)
    }

    /// (weights, biases) of layer `l` in θ.
    static func layer(_ l: Int, of theta: [Float]) -> (weights: ArraySlice<Float>, biases: ArraySlice<Float>) {
        var offset = 0
        for k in 0..<l { offset += layers[k] * layers[k + 1] + layers[k + 1] }
        let weights = layers[l] * layers[l + 1]
        return (theta[offset..<offset + weights], theta[offset + weights..<offset + weights + layers[l + 1]])
    }

    static func deviation(_ values: ArraySlice<Float>) -> Double {
        let mean = values.reduce(0) { $0 + Double($1) } / Double(values.count)
        return (values.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(values.count - 1)).squareRoot()
    }

    @Test("the default draws exactly what every earlier run drew: N(0, 0.01²) for each parameter in turn")
    func released() {
        var generator = Generator(seed: 11)
        let before = (0..<Self.theta(.released).count).map { _ in Float(generator.normal()) * 0.01 }
        #expect(Self.theta(.released) == before)
        #expect(Initialisation.released == .gaussian(weights: 0.01, biases: 0.01))
    }

    @Test("gaussian with separate scales: the weights' standard deviation as asked, biases 0 exactly")
    func gaussian() {
        let theta = Self.theta(.gaussian(weights: 0.001, biases: 0))
        #expect(theta.count == 784 * 20 + 20 + 20 * 20 + 20 + 20 * 10 + 10)
        let first = Self.layer(0, of: theta)
        #expect(abs(Self.deviation(first.weights) / 0.001 - 1) < 0.03)
        for l in 0..<3 { #expect(Self.layer(l, of: theta).biases.allSatisfy { $0 == 0 && $0.sign == .plus }) }
    }

    @Test("fan-in uniform: each layer within ±1/√fan_in, with the uniform's standard deviation bound/√3")
    func fanIn() {
        let theta = Self.theta(.fanInUniform)
        for l in 0..<3 {
            let bound = 1 / Float(Self.layers[l]).squareRoot()
            let (weights, biases) = Self.layer(l, of: theta)
            #expect(weights.allSatisfy { abs($0) <= bound } && biases.allSatisfy { abs($0) <= bound })
            #expect(abs(Self.deviation(weights) / (Double(bound) / 3.0.squareRoot()) - 1) < 0.05, "layer \(l)")
        }
    }

    @Test("an MLP instance draws its θ₀ with its problem's initialisation")
    func throughTheProblem() {
        let data = ClassificationData(inputs: [Float](repeating: 0.5, count: 8 * 4), labels: [0, 1, 2, 0, 1, 2, 0, 1], inputSize: 4, classes: 3)
        let problem = MLPProblem(data: data, hiddenSizes: [5], initialisation: .gaussian(weights: 0.5, biases: 0))
        var generator = Generator(seed: 2)
        let instance = problem.makeInstance(using: &generator)
        var a = Generator(seed: 9), b = Generator(seed: 9)
        #expect(instance.initialTheta(using: &a) == Initialisation.gaussian(weights: 0.5, biases: 0).theta(layerSizes: [4, 5, 3], using: &b))
    }
}
