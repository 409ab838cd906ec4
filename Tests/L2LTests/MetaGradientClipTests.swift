import Testing
@testable import L2L

/// `training.meta_gradient_clip`: ∂L/∂φ scaled down to a largest norm before Adam's step.
@Suite("meta-gradient clipping")
struct MetaGradientClipTests {
    @Test("a gradient longer than the bound is scaled to it, direction kept; a shorter one is left bit for bit")
    func clip() {
        var long: [Float] = [3, 4, 0]
        #expect(MetaTrainingConfiguration.clip(&long, norm: 1) == 5)
        #expect(long == [0.6, 0.8, 0])
        var short: [Float] = [0.3, -0.4]
        let before = short
        #expect(MetaTrainingConfiguration.clip(&short, norm: 1) < 1)
        #expect(short == before)
    }

    static func phi(after unrolls: Int, clip: Float?) throws -> [Float] {
        let configuration = MetaTrainingConfiguration(steps: 20, unrollLength: 5, metaLearningRate: 0.01, metaGradientClip: clip)
        let trainer = MetaTrainer(problem: QuadraticProblem(problems: 4, dimensions: 5), architecture: .paperQuadratic, configuration: configuration, seed: 5)
        for _ in 0..<unrolls { try trainer.trainUnroll() }
        return trainer.phi.values
    }

    @Test("in meta-training: a bound never reached changes nothing; a small one changes φ's path")
    func inTraining() throws {
        let free = try Self.phi(after: 8, clip: nil)
        #expect(try Self.phi(after: 8, clip: 1e6) == free)
        #expect(try Self.phi(after: 8, clip: 1e-4) != free)
    }
}
