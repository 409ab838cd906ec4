import Foundation
import HDF5
import L2L
import Testing
import TestSupport
@testable import Pipeline

@Suite("model selection (training.validation)")
struct ValidationTests {
    static let topKPipeline = tinyQuadraticPipeline(epochs: 24).replacingOccurrences(
        of: "  validation_size: 2\n", with: "  validation: {size: 3, score: mean_last, last_steps: 5, top_k: 3}\n")

    @Test("validation_size alone keeps the paper's selection; the section's keys parse and are checked")
    func parsing() throws {
        let plain = try PipelineConfiguration(text: tinyQuadraticPipeline(), path: "p.yaml")
        #expect(plain.validation == ValidationConfiguration(period: 4, size: 2, score: .finalLoss, topK: nil))
        let topK = try PipelineConfiguration(text: Self.topKPipeline, path: "p.yaml")
        #expect(topK.validation == ValidationConfiguration(period: 4, size: 3, score: .meanOfLast(steps: 5), topK: 3))
        #expect(!topK.trainsLike(plain), "a different selection is a different run")

        func refused(_ validation: String) -> PipelineError? {
            let text = tinyQuadraticPipeline().replacingOccurrences(of: "  validation_size: 2\n", with: validation)
            do { _ = try PipelineConfiguration(text: text, path: "p.yaml") } catch { return error }
            return nil
        }
        #expect(refused("  validation_size: 2\n  validation: {size: 3, score: mean}\n")?.key == "training.validation_size")
        #expect(refused("  validation: {size: 3, score: median}\n")?.key == "training.validation.score")
        #expect(refused("  validation: {size: 3, score: mean, last_steps: 4}\n")?.key == "training.validation.last_steps")
        #expect(refused("  validation: {size: 3, score: mean_last, last_steps: 21}\n")?.reason.contains("outside") == true)
        #expect(refused("  validation: {size: 3, score: mean_last}\n")?.key == "training.validation.last_steps")
        #expect(refused("  validation: {size: 3, score: final, top_k: 0}\n")?.key == "training.validation.top_k")
        #expect(refused("  validation: {score: final}\n")?.key == "training.validation.size")
    }

    @Test("the scores are the final loss, the mean over all steps and the mean over the last K")
    func scores() {
        let losses: [Float] = [4, 3, 2, 1]
        #expect(ValidationScore.finalLoss.score(losses) == 1)
        #expect(ValidationScore.meanLoss.score(losses) == 2.5)
        #expect(ValidationScore.meanOfLast(steps: 2).score(losses) == 1.5)
    }

    @Test("validate scores each run as a hand-written loop over the same draws does")
    func validateMatchesALoop() throws {
        let problem = QuadraticProblem(problems: 3, dimensions: 4)
        var phiGenerator = Generator(seed: 2, purpose: "phi")
        let phi = Phi(initializing: .paperQuadratic, using: &phiGenerator)
        let steps = 7
        var expected = 0.0
        var generator = Generator(seed: 5, purpose: "validation")
        let optimizer = LearnedOptimizer(phi: phi)
        for _ in 0..<2 {
            var instance = problem.makeInstance(using: &generator)
            var theta = instance.initialTheta(using: &generator)
            var state = optimizer.makeState(parameterCount: theta.count)
            var gradient = [Float](repeating: 0, count: theta.count)
            var losses: [Float] = []
            for _ in 0..<steps {
                losses.append(instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &generator), gradient: &gradient))
                try optimizer.step(&theta, gradient: gradient, state: &state)
            }
            losses.append(instance.loss(theta, batch: instance.sampleBatch(using: &generator)))
            expected += Double(losses[1...].reduce(0, +)) / Double(steps)   // f(θ_1) … f(θ_T)
        }
        var again = Generator(seed: 5, purpose: "validation")
        let mean = ValidationConfiguration.validate(phi, on: problem, count: 2, steps: steps, score: .meanLoss, generator: &again)
        #expect(abs(mean - expected / 2) < 1e-5 * abs(expected))
        #expect(again == generator, "the same draws as the loop")
    }

    @Test("the candidates keep the K lowest finite scores, earlier first on ties")
    func candidates() {
        var candidates = ValidationCandidates(capacity: 2)
        for (epoch, loss) in [(1, 3.0), (2, .infinity), (3, 1.0), (4, 3.0), (5, 2.0), (6, 1.0)] {
            candidates.offer(BestPhi(epoch: epoch, loss: loss, values: [Float(epoch)]))
        }
        #expect(candidates.members.map(\.epoch) == [3, 6])
    }

    @Test("top_k re-evaluates the best candidates when training ends, and /phi/best is the best of them")
    func topK() throws {
        let (folder, _, out) = try trainedRun(Self.topKPipeline)
        defer { withExtendedLifetime(folder) {} }
        let file = try File.open(out + "/train.h5")
        let epochs = try file.openDataset("validation/top_k/epoch").read(Int64.self)
        let during = try file.openDataset("validation/top_k/loss").read(Double.self)
        let after = try file.openDataset("validation/top_k/reevaluated_loss").read(Double.self)
        #expect(epochs.count == 3 && after.count == 3)
        // The three lowest of the validation log, lowest first.
        let logged = try file.openDataset("validation/loss").read(Double.self)
        #expect(during == Array(logged.sorted().prefix(3)))
        #expect(Set(after).count == 3, "each candidate runs again (on the same fresh problems)")
        let best = try file.openGroup("phi/best")
        let winner = try #require(after.indices.min { after[$0] < after[$1] })
        #expect(try best.attribute("epoch", as: Int64.self) == epochs[winner])
        #expect(try best.attribute("reevaluated_loss", as: Double.self) == after[winner])
        #expect(try best.attribute("validation_loss", as: Double.self) == during[winner])
        // /phi/best holds the winner's φ, as the checkpoint keeps it among the candidates.
        let configuration = try PipelineConfiguration(text: Self.topKPipeline, path: "p.yaml")
        let phi = try TrainFile.readPhi("phi/best", in: file, architecture: configuration.architecture)
        let kept = try file.openDataset("checkpoint/candidates/values").readRows(winner..<winner + 1, as: Float.self)
        #expect(phi.values == kept)
        #expect(try file.openDataset("checkpoint/candidates/epoch").read(Int64.self) == epochs)
    }

    @Test("a run with top_k stopped at any trajectory and resumed ends as one that never stopped")
    func topKResumes() throws {
        let (folder, pipeline, out) = try trainedRun(Self.topKPipeline)
        defer { withExtendedLifetime(folder) {} }
        let stopped = folder.path("stopped")
        var result = try runProcess(executable("l2l-train"), [pipeline, "--out", stopped, "--epochs", "13"])
        #expect(result.status == 0 && result.standardError.contains("re-evaluating the 3 best φ"), "\(result.standardError)")
        result = try runProcess(executable("l2l-train"), [pipeline, "--out", stopped, "--resume"])
        #expect(result.status == 0, "\(result.standardError)")
        try expectIdentical(out + "/train.h5", stopped + "/train.h5", "resumed after 13 of 24 (re-evaluated at 13, then again at 24)")
        // Nothing more to do, and nothing changes.
        result = try runProcess(executable("l2l-train"), [pipeline, "--out", stopped, "--resume"])
        #expect(result.standardError.contains("nothing to do"))
        try expectIdentical(out + "/train.h5", stopped + "/train.h5", "a second resume")
    }
}
