import Foundation
import Testing
@testable import L2L

/// Task mixtures (issue 13): each instance draws one component by weight; meta-training runs on
/// components of different sizes and resumes bit for bit.
@Suite("task mixtures")
struct MixtureTests {
    static let small = QuadraticProblem(problems: 3, dimensions: 3, distribution: .gaussian)
    static let large = QuadraticProblem(problems: 3, dimensions: 7, distribution: .gaussian)
    static let data = ClassificationData(inputs: (0..<40 * 6).map { Float(($0 * 7) % 11) / 11 }, labels: (0..<40).map { UInt8($0 % 3) },
                                         inputSize: 6, classes: 3)
    static let mlp = MLPProblem(data: data, hiddenSizes: [4], batchSize: 8)

    /// Quadratics of 3 × 3 and 3 × 7 coordinates (three independent problems each) and an MLP of 6·4 + 4 + 4·3 + 3 = 43, weights 1 : 2 : 1.
    static func mixture() throws -> MixtureProblem {
        try MixtureProblem([.init(weight: 1, problem: small), .init(weight: 2, problem: large), .init(weight: 1, problem: mlp)])
    }

    @Test("components are drawn with probability weight / Σ weights, a zero weight never")
    func drawFrequencies() throws {
        let mixture = try MixtureProblem([
            .init(weight: 1, problem: Self.small), .init(weight: 0, problem: Self.large), .init(weight: 3, problem: Self.small),
            .init(weight: 6, problem: Self.mlp),
        ])
        #expect(mixture.probabilities.map { ($0 * 1000).rounded() / 1000 } == [0.1, 0, 0.3, 0.6])
        var generator = Generator(seed: 21)
        let draws = 20_000
        var counts = [Int](repeating: 0, count: 4)
        for _ in 0..<draws { counts[mixture.makeInstance(using: &generator).component] += 1 }
        #expect(counts[1] == 0)
        for (index, p) in mixture.probabilities.enumerated() where p > 0 {
            // Within 4 binomial standard errors, √(p(1 − p)/n) ≤ 0.0035 here.
            let share = Double(counts[index]) / Double(draws)
            #expect(abs(share - p) < 4 * (p * (1 - p) / Double(draws)).squareRoot(), "component \(index): \(share) against \(p)")
        }
        // The instance has its component's size, and the draw replays from the same state.
        var a = Generator(seed: 4), b = a
        let first = mixture.makeInstance(using: &a), again = mixture.makeInstance(using: &b)
        #expect(first.component == again.component && first.parameterCount == again.parameterCount)
        #expect([Self.small.parameterCount, Self.mlp.parameterCount].contains(first.parameterCount))
        #expect(mixture.parameterCount == max(Self.large.parameterCount, Self.mlp.parameterCount))
    }

    @Test("an instance behaves as the component instance it wraps: the same θ₀, minibatches, loss and gradient")
    func forwarding() throws {
        let mixture = try MixtureProblem([.init(weight: 1, problem: Self.mlp)])
        var generator = Generator(seed: 8)
        var wrapped = mixture.makeInstance(using: &generator)
        var replay = Generator(seed: 8)
        _ = replay.uniform()  // the component's draw
        let plain = Self.mlp.makeInstance(using: &replay)
        #expect(wrapped.initialTheta(using: &generator) == plain.initialTheta(using: &replay))
        let theta = (0..<plain.parameterCount).map { Float($0 % 5) / 10 - 0.2 }
        var g1 = [Float](repeating: 0, count: theta.count), g2 = g1
        let l1 = wrapped.lossAndGradient(theta, batch: wrapped.sampleBatch(using: &generator), gradient: &g1)
        let l2 = plain.lossAndGradient(theta, batch: plain.sampleBatch(using: &replay), gradient: &g2)
        #expect(l1.bitPattern == l2.bitPattern && g1 == g2)
    }

    @Test("negative, non-finite and all-zero weights and an empty mixture are refused")
    func weights() {
        #expect(throws: MixtureProblem.WeightError.noComponents) { try MixtureProblem([]) }
        #expect(throws: MixtureProblem.WeightError.allZero) { try MixtureProblem([.init(weight: 0, problem: Self.small)]) }
        for bad in [-1, Double.nan, .infinity] {
            #expect(throws: MixtureProblem.WeightError.self) { try MixtureProblem([.init(weight: 1, problem: Self.small), .init(weight: bad, problem: Self.large)]) }
        }
    }

    @Test("meta-training on components of 9, 21 and 43 coordinates meets all three, and a snapshot mid-trajectory resumes bit for bit")
    func trainAndResume() throws {
        let configuration = MetaTrainingConfiguration(steps: 12, unrollLength: 4, metaLearningRate: 0.003)
        let architecture = LSTMArchitecture(hiddenSizes: [5, 5], preprocessing: .logAndSign(k: 10), outputScale: 0.1)
        let original = MetaTrainer(problem: try Self.mixture(), architecture: architecture, configuration: configuration, seed: 2)
        var sizes: Set<Int> = []
        for _ in 0..<(3 * 30 + 2) {
            let record = try original.trainUnroll()
            #expect(record.losses.allSatisfy { $0.isFinite })
            if let trajectory = original.trajectory { sizes.insert(trajectory.instance.parameterCount) }
        }
        #expect(sizes == [9, 21, 43], "the first 31 trajectories met sizes \(sizes.sorted())")
        let snapshot = try #require(original.snapshot())

        let resumed = try MetaTrainer(problem: try Self.mixture(), configuration: configuration, state: original.state)
        #expect(resumed.snapshot() == snapshot)
        for _ in 0..<20 {
            let a = try original.trainUnroll(), b = try resumed.trainUnroll()
            #expect(a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern))
            #expect(a.metaLoss.bitPattern == b.metaLoss.bitPattern)
        }
        #expect(original.phi.values.map(\.bitPattern) == resumed.phi.values.map(\.bitPattern))
        #expect(original.state == resumed.state)
    }

    @Test("random scaling of a mixture draws c for each instance's own size")
    func scaledMixture() throws {
        let problem = RandomlyScaledProblem(try Self.mixture(), logRange: 3)
        var generator = Generator(seed: 6)
        for _ in 0..<20 {
            var instance = problem.makeInstance(using: &generator)
            #expect(instance.scale.count == instance.parameterCount)
            let theta = instance.initialTheta(using: &generator)
            var gradient = [Float](repeating: 0, count: theta.count)
            #expect(instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &generator), gradient: &gradient).isFinite)
        }
    }
}
