import Foundation
import HDF5
import Testing
import TestSupport
import L2L
@testable import Pipeline

/// `l2l-eval --trace`: the reference trace is the evaluation's own run 0, step by step.
@Suite("reference traces")
struct TraceTests {
    @Test("the trace is run 0 of the evaluation: its losses are eval.h5's, and θ₀ plus the updates reproduce them")
    func traceIsRunZero() throws {
        let (folder, pipeline, out) = try trainedRun(tinyQuadraticPipeline(epochs: 8))
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        let path = folder.path("trace.h5")
        let result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--trace", path, "--trace-steps", "15"])
        #expect(result.status == 0, "\(result.standardError)")
        let trace = try File.open(path)
        #expect(try trace.stringAttribute("format") == "l2l-trace" && trace.attribute("format_version", as: Int32.self) == 1)
        #expect(try trace.stringAttribute("train_run_id") == File.open(out + "/train.h5").stringAttribute("run_id"))
        let gradient = try trace.openDataset("gradient").read(Float.self, rank: 2)
        let update = try trace.openDataset("update").read(Float.self, rank: 2)
        let theta0 = try trace.openDataset("theta0").read(Float.self, rank: 1)
        let losses = try trace.openDataset("loss").read(Float.self, rank: 1)
        let n = theta0.count
        #expect(n == 20 && gradient.count == 15 * n && update.count == 15 * n)
        let evaluated = try File.open(out + "/eval.h5").openDataset("problems/quadratic/lstm/loss").read(Float.self, rank: 2)
        #expect(losses.map(\.bitPattern) == evaluated.prefix(15).map(\.bitPattern), "the trace's f(θ_t) are eval.h5's run 0")

        // θ_t = θ₀ + Σ g, and the quadratic's gradient at θ_t is the recorded one.
        let configuration = try PipelineConfiguration(contentsOf: pipeline)
        let experiment = try Experiment.evaluation(configuration, data: DataFiles(argument: "data"), split: .test)
        let problem = try experiment.problem(configuration.evaluationProblems[0].optimizee, split: .test)
        func check<P: L2L.Problem>(_ problem: P) {
            var generator = Generator(seed: configuration.seed, purpose: "evaluation/quadratic/0/problem")
            var batches = Generator(seed: configuration.seed, purpose: "evaluation/quadratic/0/batches")
            var instance = problem.makeInstance(using: &generator)
            var theta = instance.initialTheta(using: &generator)
            #expect(theta == theta0)
            var g = [Float](repeating: 0, count: n)
            for t in 0..<15 {
                _ = instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &batches), gradient: &g)
                #expect(g == Array(gradient[(t * n)..<((t + 1) * n)]), "step \(t)")
                for i in 0..<n { theta[i] += update[t * n + i] }
            }
        }
        check(problem)

        let unknown = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--trace", path, "--trace-problem", "nope"])
        #expect(unknown.status != 0 && unknown.standardError.contains("has no problem 'nope'"), "\(unknown.standardError)")
        let alone = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--trace-steps", "5"])
        #expect(alone.status != 0 && alone.standardError.contains("go with --trace"))
    }

    @Test("on a sweep, --trace needs a member")
    func sweepNeedsMember() throws {
        let (folder, pipeline, out) = try SweepEvaluationTests.trainedSweep("sweep:\n  seeds: [1, 2]\n", epochs: 2)
        let refused = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--trace", folder.path("t.h5")])
        #expect(refused.status != 0 && refused.standardError.contains("--member"), "\(refused.standardError)")
        let traced = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--member", "1", "--trace", folder.path("t.h5"), "--trace-steps", "3"])
        #expect(traced.status == 0, "\(traced.standardError)")
        #expect(try File.open(folder.path("t.h5")).stringAttribute("train_path").hasSuffix("seed=2/train.h5"))
    }
}
