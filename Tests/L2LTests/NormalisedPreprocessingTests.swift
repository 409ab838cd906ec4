import Foundation
import Testing
@testable import L2L

/// Lv et al.'s normalised inputs: (g / s, m̂ / s) from running moments that the learned
/// optimizer's state carries, in training, in evaluation and through a checkpoint.
@Suite("the normalised preprocessing")
struct NormalisedPreprocessingTests {
    static let preprocessing = Preprocessing.normalised(beta1: 0.95, beta2: 0.95, epsilon: 1e-8)
    static let architecture = LSTMArchitecture(hiddenSizes: [20, 20], preprocessing: preprocessing, outputScale: 0.1)

    /// The inputs of a sequence of gradients of `count` coordinates, step after step.
    static func inputs(_ sequence: [[Float]], preprocessing: Preprocessing = preprocessing) throws -> [[Float]] {
        let count = sequence[0].count
        let previous = Buffer(count: 2 * count), next = Buffer(count: 2 * count)
        let moments = PreprocessingMoments(previousMean: previous.pointer, previousSquare: previous.pointer + count,
                                           nextMean: next.pointer, nextSquare: next.pointer + count, step: 1)
        var result: [[Float]] = []
        for (t, gradient) in sequence.enumerated() {
            var inputs = [Float](repeating: .nan, count: 2 * count)
            var step = moments
            step.step = t + 1
            try gradient.withUnsafeBufferPointer { g in
                try inputs.withUnsafeMutableBufferPointer { x in
                    try preprocessing.apply(g.baseAddress!, count: count, into: x.baseAddress!, moments: step)
                }
            }
            previous.copy(from: next)
            result.append(inputs)
        }
        return result
    }

    @Test("the inputs equal Adam's normalised gradient and mean, computed in Double, and ignore the gradients' scale")
    func reference() throws {
        var generator = Generator(seed: 4)
        let sequence = (0..<8).map { _ in (0..<5).map { _ in Float(generator.normal() * 0.3 + 0.1) } }
        let got = try Self.inputs(sequence)
        var m = [Double](repeating: 0, count: 5), v = m
        for (t, gradient) in sequence.enumerated() {
            for i in 0..<5 {
                let g = Double(gradient[i])
                m[i] = 0.95 * m[i] + 0.05 * g
                v[i] = 0.95 * v[i] + 0.05 * g * g
                let s = (v[i] / (1 - pow(0.95, Double(t + 1)))).squareRoot() + 1e-8
                let mHat = m[i] / (1 - pow(0.95, Double(t + 1)))
                #expect(abs(Double(got[t][i]) - g / s) < 1e-5, "g/s at step \(t), coordinate \(i)")
                #expect(abs(Double(got[t][5 + i]) - mHat / s) < 1e-5, "m̂/s at step \(t), coordinate \(i)")
            }
        }
        // The first step sees one gradient: (g/|g|, g/|g|) = (sgn g, sgn g).
        #expect(got[0][0..<5].allSatisfy { abs(abs($0) - 1) < 1e-5 })
        // Scaling f by 10⁴ scales every gradient and leaves the inputs as they were.
        let scaled = try Self.inputs(sequence.map { $0.map { $0 * 1e4 } })
        for t in got.indices { for i in got[t].indices { #expect(abs(got[t][i] - scaled[t][i]) < 1e-4) } }
        // A NaN is refused with its coordinate, as by every preprocessing.
        let error = #expect(throws: NonFiniteGradientError.self) { try Self.inputs([[0.1, .nan, 0.2]]) }
        #expect(error?.coordinate == 1)
    }

    @Test("MLP, normalised inputs: ∂L/∂φ matches finite differences for every tensor, from a state with moments")
    func metaGradient() throws {
        let problem = MLPProblem(data: toyData(), hiddenSizes: [4], activation: .sigmoid, batchSize: 6)
        let setup = try MetaGradientTests.Setup(problem: problem, architecture: Self.architecture, steps: 3, weights: [0.5, 1, 2, 3], seed: 14)
        #expect(setup.start.state.moments.count == 2 && setup.start.state.moments[1].array.contains { $0 > 0 }, "the unroll starts from non-zero moments")
        let (worst, example) = MetaGradientTests.worstDisagreement(setup, gradient: setup.analytic, step: 1e-2)
        #expect(worst < 1e-2, "worst \(worst): \(example)")
        let (wrong, _) = MetaGradientTests.worstDisagreement(setup, gradient: MetaGradientTests.swappedGates(setup.analytic, phi: setup.phi), step: 1e-2)
        #expect(wrong > 0.1, "swapping gates must be detected (got \(wrong))")
    }

    // Evaluation against training, moments included: LearnedOptimizerTests.evaluationMatchesTraining.

    @Test("a snapshot mid-trajectory carries the moments: a new trainer restored from it reproduces the rest exactly")
    func resume() throws {
        let problem = QuadraticProblem(problems: 16, dimensions: 10)
        let configuration = MetaTrainingConfiguration(steps: 100, unrollLength: 20)
        let original = MetaTrainer(problem: problem, architecture: Self.architecture, configuration: configuration, seed: 7)
        for _ in 0..<7 { try original.trainUnroll() }
        let snapshot = try #require(original.snapshot())
        #expect(snapshot.lstmState.count == (2 * 40 + 2) * 160, "h and c of two layers of 20, then m and v")

        let resumed = MetaTrainer(problem: problem, architecture: Self.architecture, configuration: configuration, seed: 999)
        resumed.setPhi(original.phi)
        resumed.metaState = original.metaState
        resumed.problemGenerator.state = original.problemGenerator.state
        resumed.batchGenerator.state = original.batchGenerator.state
        try resumed.restore(snapshot)
        for _ in 0..<8 {
            let a = try original.trainUnroll(), b = try resumed.trainUnroll()
            #expect(a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern))
        }
        #expect(original.phi.values.map(\.bitPattern) == resumed.phi.values.map(\.bitPattern))

        // Without the moments, the snapshot does not fit.
        var truncated = snapshot
        truncated.lstmState.removeLast(2 * 160)
        #expect(throws: SnapshotMismatch.self) { try resumed.restore(truncated) }
    }
}
