import Foundation
import HDF5
import L2L
import Testing
import TestSupport
@testable import Pipeline

@Suite("l2l-probe gradient-scale")
struct GradientScaleTests {
    /// 30 examples of 8 inputs, the first two inputs blank in every example (as MNIST's borders).
    static let data: ClassificationData = {
        var generator = Generator(seed: 4)
        var inputs: [Float] = []
        for _ in 0..<30 { inputs += [0, 0] + (0..<6).map { _ in Float(generator.uniform()) } }
        let labels = (0..<30).map { _ in UInt8(generator.index(below: 3)) }
        return ClassificationData(inputs: inputs, labels: labels, inputSize: 8, classes: 3)
    }()

    @Test("each layer's median |∂f/∂W|, |∂f/∂b| and fractions are those of the gradients at the drawn θ₀")
    func statistics() throws {
        let problem = MLPProblem(data: Self.data, hiddenSizes: [5], activation: .sigmoid, batchSize: 10)
        var generator = Generator(seed: 9)
        let measured = GradientScaleProbe.measure(problem, samples: 3, threshold: 1e-3, generator: &generator)

        // The same draws by hand: the instance, then per sample θ₀, a minibatch, the gradient.
        var again = Generator(seed: 9)
        var instance = problem.makeInstance(using: &again)
        var first: [Float] = [], firstBiases: [Float] = []
        var gradient = [Float](repeating: 0, count: instance.parameterCount)
        for _ in 0..<3 {
            let theta = instance.initialTheta(using: &again)
            _ = instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &again), gradient: &gradient)
            first += gradient[0..<40].map(abs)           // W₁: 8 × 5
            firstBiases += gradient[40..<45].map(abs)    // b₁: 5
        }
        #expect(measured.count == 2)
        let sorted = first.sorted()
        #expect(measured[0].weightMedian == (Double(sorted[59]) + Double(sorted[60])) / 2)
        #expect(measured[0].biasMedian == Double(firstBiases.sorted()[7]))
        #expect(measured[0].weightsBelowThreshold == Double(first.count { $0 < 1e-3 }) / 120)
        // The blank inputs' weights (2 rows of 5) have no gradient at all.
        #expect(measured[0].weightsZero == 30.0 / 120, "10 of 40 weights in each of 3 samples")
        #expect(measured[1].weightsZero == 0)
    }

    @Test("a smaller θ₀ gives smaller first-layer gradients behind a sigmoid layer; fan-in init larger")
    func initialisationsOrder() {
        func firstLayer(_ initialisation: Initialisation) -> Double {
            var generator = Generator(seed: 2)
            let problem = MLPProblem(data: Self.data, hiddenSizes: [5, 5], activation: .sigmoid, batchSize: 10, initialisation: initialisation)
            return GradientScaleProbe.measure(problem, samples: 5, threshold: nil, generator: &generator)[0].weightMedian
        }
        let released = firstLayer(.released), small = firstLayer(.gaussian(weights: 0.001, biases: 0)), fanIn = firstLayer(.fanInUniform)
        // Two sigmoid layers each scale the back-propagated signal by ~σ'·|W| ≈ 0.25 · scale.
        #expect(small < released / 10 && released < fanIn, "small \(small), released \(released), fan-in \(fanIn)")
    }

    @Test("a quadratic pipeline is refused with its file named")
    func quadraticRefused() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        let pipeline = folder.path("q.yaml")
        try tinyQuadraticPipeline().write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-probe"), ["gradient-scale", pipeline, "--out", folder.path("g.h5")])
        #expect(result.status == 1)
        #expect(result.standardError.contains("q.yaml") && result.standardError.contains("quadratics"), "\(result.standardError)")
        let unknown = try runProcess(executable("l2l-probe"), ["gradient-scale", pipeline, "--init", "xavier"])
        #expect(unknown.status == 64 && unknown.standardError.contains("released, small, fan_in"), "\(unknown.standardError)")
    }
}

@Suite("l2l-probe meta-gradient")
struct MetaGradientProbeTests {
    @Test("the norms are those of the trainer's meta-gradients, before clipping, along l2l-train's own path")
    func norms() throws {
        let text = tinyQuadraticPipeline().replacingOccurrences(of: "  meta_learning_rate: 0.001\n", with: "  meta_learning_rate: 0.001\n  meta_gradient_clip: 0.001\n")
        let configuration = try PipelineConfiguration(text: text, path: "p.yaml")
        let norms = try MetaGradientProbe(configuration: configuration, data: DataFiles(folder: "unused"), unrolls: 6).run()
        let trainer = MetaTrainer(problem: QuadraticProblem(problems: 4, dimensions: 5), architecture: configuration.architecture,
                                  configuration: configuration.training, seed: configuration.seed)
        var expected: [Double] = []
        for _ in 0..<6 {
            try trainer.trainUnroll()
            expected.append(trainer.lastMetaGradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot())
        }
        #expect(norms == expected)
        #expect(norms.allSatisfy { $0 > 0.001 }, "reported before the clip of 0.001: \(norms)")
    }
}

@Suite("/trajectory/meta_gradient_norm")
struct MetaGradientNormLogTests {
    @Test("train.h5 logs every unroll's ‖∂L/∂φ‖ (the probe's numbers); a run without the log resumes with NaN rows for its earlier trajectories")
    func logged() throws {
        let text = tinyQuadraticPipeline(epochs: 4)
        let (folder, pipeline, out) = try trainedRun(text)
        defer { withExtendedLifetime(folder) {} }
        let configuration = try PipelineConfiguration(text: text, path: "p.yaml")
        let probe = try MetaGradientProbe(configuration: configuration, data: DataFiles(folder: "unused"), unrolls: 16).run()
        let logged = try File.open(out + "/train.h5").openDataset("trajectory/meta_gradient_norm")
        #expect(try logged.shape == [4, 4])
        #expect(try logged.read(Double.self) == probe)

        // An earlier l2l-train's run: two trajectories, no norms.
        let old = folder.path("old")
        var result = try runProcess(executable("l2l-train"), [pipeline, "--out", old, "--epochs", "2"])
        #expect(result.status == 0, "\(result.standardError)")
        let file = try File.openInMemory(old + "/train.h5")
        try file.openGroup("trajectory").remove("meta_gradient_norm")
        try file.save()
        try file.close()
        result = try runProcess(executable("l2l-train"), [pipeline, "--out", old, "--resume"])
        #expect(result.status == 0, "\(result.standardError)")
        let resumed = try File.open(old + "/train.h5").openDataset("trajectory/meta_gradient_norm").read(Double.self)
        #expect(resumed.count == 16 && resumed.prefix(8).allSatisfy(\.isNaN))
        #expect(Array(resumed.suffix(8)) == Array(probe.suffix(8)))
    }
}
