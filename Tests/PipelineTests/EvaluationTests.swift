import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline
import L2L

@Suite("evaluation and failures")
struct EvaluationTests {
    @Test("l2l-eval: every optimizer meets the same draws, baselines get the best grid rate, the file has the documented layout")
    func evaluation() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline(epochs: 8).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let out = folder.path("run")
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out]).status == 0)
        let result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(result.status == 0, "\(result.standardError)")

        let file = try File.open(out + "/eval.h5")
        #expect(try file.stringAttribute("phi_source").hasPrefix("/phi/best"))
        #expect(try file.openGroup("problems/quadratic").children() == ["adam", "lstm", "nag", "rmsprop", "sgd"])
        var firstLosses: [[Float]] = []
        for optimizer in ["lstm", "sgd", "nag", "rmsprop", "adam"] {
            let losses = try file.openDataset("problems/quadratic/\(optimizer)/loss")
            #expect(try losses.shape == [4, 21])
            let values = try losses.read(Float.self, rank: 2)
            firstLosses.append((0..<4).map { values[$0 * 21] })
            let mean = try file.openDataset("problems/quadratic/\(optimizer)/mean").read(Double.self, rank: 1)
            #expect(abs(mean[20] - (0..<4).map { Double(values[$0 * 21 + 20]) }.reduce(0, +) / 4) < 1e-9)
            guard optimizer != "lstm" else { continue }
            let rates = try file.openDataset("problems/quadratic/\(optimizer)/tuning/learning_rates").read(Float.self, rank: 1)
            let scores = try file.openDataset("problems/quadratic/\(optimizer)/tuning/scores").read(Double.self, rank: 1)
            #expect(rates.count == 3 && scores.count == 3)
            let chosen = try file.openGroup("problems/quadratic/\(optimizer)").attribute("learning_rate", as: Float.self)
            #expect(chosen == rates[scores.indices.min { scores[$0] < scores[$1] } ?? 0])
            let edge = try file.openGroup("problems/quadratic/\(optimizer)").stringAttribute("learning_rate_at_grid_edge")
            #expect(edge == (chosen == rates.max() ? "largest" : chosen == rates.min() ? "smallest" : "none"), "\(optimizer): \(chosen) in \(rates)")
        }
        // Common random numbers: f(θ₀) of run r is the same for every optimizer, and differs between runs.
        #expect(Set(firstLosses.map { $0.map(\.bitPattern) }).count == 1)
        #expect(Set(firstLosses[0]).count == 4)
    }

    @Test("a baseline's rate at the grid's edge is named as such, one inside it is not")
    func gridEdge() {
        let grid: [Float] = [0.001, 0.01, 0.1]
        #expect(EvaluationRun.GridEdge(chosen: 0.001, grid: grid) == .smallest)
        #expect(EvaluationRun.GridEdge(chosen: 0.01, grid: grid) == .interior)
        #expect(EvaluationRun.GridEdge(chosen: 0.1, grid: grid) == .largest)
        #expect(EvaluationRun.GridEdge(chosen: 0.1, grid: [0.1]) == .only)
        #expect(EvaluationRun.GridEdge(chosen: 0.1, grid: grid).warning?.contains("larger") == true)
        #expect(EvaluationRun.GridEdge(chosen: 0.01, grid: grid).warning == nil)
    }

    @Test("l2l-eval without a training run says what to do")
    func missingTraining() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline().write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-eval"), [pipeline, "--out", folder.path("none")])
        #expect(result.status != 0)
        #expect(result.standardError.contains("run l2l-train"))
    }

    @Test("unrolls with non-finite values are skipped and counted; repeated failures stop training with a clear error")
    func nonFinite() throws {
        let folder = try TemporaryDirectory()
        let configuration = try PipelineConfiguration(text: tinyQuadraticPipeline(epochs: 6), path: "tiny.yaml")
        let run = TrainingRun(configuration: configuration, outputFolder: folder.path("run"), data: DataFiles(), mode: .start)
        let experiment = try Experiment.training(configuration, data: DataFiles())

        // Every third instance poisons its gradient with a NaN in its first unroll: that unroll is
        // skipped and its trajectory abandoned.
        let sometimes = PoisonedProblem(everyNth: 3)
        #expect(try run.run(training: sometimes, validation: PoisonedProblem(everyNth: 0), experiment: experiment) == .completed(epochs: 6))
        let file = try File.open(folder.path("run/train.h5"))
        let checkpoint = try Checkpoint.read(from: file, architecture: configuration.architecture)
        #expect(checkpoint.skippedUnrolls == 2)  // instances 3 and 6 of the 8 drawn for 6 trajectories
        #expect(try file.openGroup("trajectory").attribute("skipped_unrolls", as: Int64.self) == 2)
        #expect(try file.openDataset("trajectory/loss").shape[0] == 6)
        #expect(try TrainFile.readPhi("phi/best", in: file, architecture: configuration.architecture).isFinite)

        // Every instance poisoned: ten in a row stop training, naming the cause.
        let always = TrainingRun(configuration: configuration, outputFolder: folder.path("run2"), data: DataFiles(), mode: .start)
        let error = #expect(throws: RunError.self) {
            try always.run(training: PoisonedProblem(everyNth: 1), validation: PoisonedProblem(everyNth: 0), experiment: experiment)
        }
        #expect(error?.message.contains("10 consecutive unrolls produced non-finite values") == true)
        #expect(error?.message.contains("not finite at coordinate") == true)
        // The ten are counted, in the checkpoint and in /trajectory@skipped_unrolls.
        let stopped = try File.open(folder.path("run2/train.h5"))
        #expect(try Checkpoint.read(from: stopped, architecture: configuration.architecture).skippedUnrolls == 10)
        #expect(try stopped.openGroup("trajectory").attribute("skipped_unrolls", as: Int64.self) == 10)
    }
}

/// Quadratics whose every n-th instance returns a NaN gradient from its fourth evaluation on.
struct PoisonedProblem: Problem {
    let everyNth: Int
    let base = QuadraticProblem(problems: 4, dimensions: 5)
    private let counter = Counter()
    var parameterCount: Int { base.parameterCount }

    final class Counter: @unchecked Sendable { var value = 0 }

    struct Instance: Optimizee {
        var quadratic: Quadratic
        let poisoned: Bool
        var evaluations = 0
        var parameterCount: Int { quadratic.parameterCount }
        func initialTheta(using generator: inout Generator) -> [Float] { quadratic.initialTheta(using: &generator) }
        func sampleBatch(using generator: inout Generator) {}
        mutating func lossAndGradient(_ theta: [Float], batch: Void, gradient: inout [Float]) -> Float {
            evaluations += 1
            let loss = quadratic.lossAndGradient(theta, batch: (), gradient: &gradient)
            if poisoned && evaluations > 3 { gradient[2] = .nan }
            return loss
        }
    }

    func makeInstance(using generator: inout Generator) -> Instance {
        counter.value += 1
        return Instance(quadratic: base.makeInstance(using: &generator), poisoned: everyNth > 0 && counter.value % everyNth == 0)
    }
}
