import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// Evaluation files (`evaluates: <pipeline>` with an `evaluation` section): another evaluation of
/// a pipeline's trained runs, written beside its `eval.h5` as `eval-<name>.h5`.
@Suite("evaluation files")
struct EvaluationFileTests {
    /// An evaluation of `pipeline` (a file name in the same folder) named `name`, on quadratics of
    /// 3 dimensions over `horizon` steps.
    static func evaluationFile(of pipeline: String, name: String? = "long", horizon: Int = 40, extra: String = "") -> String {
        """
        # Another evaluation of the tiny runs.
        evaluates: \(pipeline)
        \(extra)evaluation:
        \(name.map { "  name: \($0)\n" } ?? "")  horizon: \(horizon)
          runs: 3
          tuning_runs: 2
          learning_rates: {log10_from: -2, log10_to: 0, log10_step: 1}
          problems:
            - {name: small, kind: quadratic, problems: 2, dimensions: 3, distribution: gaussian}
        """
    }

    @Test("l2l-eval on an evaluation file writes eval-<name>.h5 (and eval-<name>-validation.h5) beside the run's own, with its horizon and problems")
    func evaluate() throws {
        let (folder, pipeline, out) = try trainedRun(tinyQuadraticPipeline(epochs: 8))
        let file = folder.path("long.yaml")
        try Self.evaluationFile(of: "tiny.yaml").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-eval"), [file, "--out", out])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out + "/eval.h5"), "the pipeline's own evaluation is not written")
        let eval = try File.open(out + "/eval-long.h5")
        #expect(try eval.attribute("horizon", as: Int64.self) == 40)
        #expect(try eval.openDataset("problems/small/lstm/mean").read(Double.self, rank: 1).count == 41)
        #expect(!eval.contains("problems/quadratic"))
        // What each problem is, and what the optimizer was trained on, as attributes.
        #expect(try eval.openGroup("problems/small").stringAttribute("kind") == "quadratic")
        #expect(try eval.openGroup("problems/small").attribute("dimensions", as: Int64.self) == 3)
        #expect(try eval.attribute("optimizee_dimensions", as: Int64.self) == 5)
        // The configuration it records stands alone: the pipeline with this evaluation section.
        let recorded = try PipelineConfiguration(text: try eval.stringAttribute("configuration"), path: "recorded.yaml")
        let original = try PipelineConfiguration(contentsOf: pipeline)
        #expect(recorded.trainsLike(original) && recorded.horizon == 40 && recorded.evaluationName == "long")
        #expect(recorded.evaluatedPipeline == pipeline)

        let validation = try runProcess(executable("l2l-eval"), [file, "--out", out, "--split", "validation"])
        #expect(validation.status == 0, "\(validation.standardError)")
        #expect(FileManager.default.fileExists(atPath: out + "/eval-long-validation.h5"))

        // The pipeline's own evaluation is untouched by it, and the other way round.
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        #expect(try File.open(out + "/eval.h5").attribute("horizon", as: Int64.self) == 20)
        #expect(try File.open(out + "/eval-long.h5").attribute("horizon", as: Int64.self) == 40)
    }

    @Test("on a sweep: one eval-<name>.h5 in the sweep's folder, every member evaluated")
    func sweep() throws {
        let (folder, _, out) = try SweepEvaluationTests.trainedSweep("sweep:\n  seeds: [1, 2]\n", epochs: 3)
        let file = folder.path("long.yaml")
        try Self.evaluationFile(of: "sweep.yaml").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-eval"), [file, "--out", out])
        #expect(result.status == 0, "\(result.standardError)")
        let eval = try File.open(out + "/eval-long.h5")
        #expect(try eval.openGroup("problems/small/lstm/all-seeds/across_seeds").attribute("seeds", as: Int64.self) == 2)
        #expect(try eval.stringAttribute("evaluated_pipeline") == folder.path("sweep.yaml"))
    }

    @Test("l2l-train refuses an evaluation file; a missing name, an unknown key or a missing pipeline is refused, naming the key")
    func refusals() throws {
        let folder = try TemporaryDirectory()
        try tinyQuadraticPipeline().write(toFile: folder.path("tiny.yaml"), atomically: true, encoding: .utf8)
        let file = folder.path("long.yaml")
        try Self.evaluationFile(of: "tiny.yaml").write(toFile: file, atomically: true, encoding: .utf8)
        let train = try runProcess(executable("l2l-train"), [file, "--out", folder.path("run")])
        #expect(train.status != 0 && train.standardError.contains("evaluation file") && train.standardError.contains(folder.path("tiny.yaml")), "\(train.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("run")))

        func refusal(_ text: String) -> PipelineError? {
            do {
                try text.write(toFile: file, atomically: true, encoding: .utf8)
                _ = try PipelineFile(contentsOf: file)
            } catch let error as PipelineError {
                return error
            } catch {
                Issue.record("unexpected \(error)")
            }
            return nil
        }
        #expect(refusal(Self.evaluationFile(of: "tiny.yaml", name: nil))?.key == "evaluation.name")
        #expect(refusal(Self.evaluationFile(of: "tiny.yaml", extra: "seed: 4\n"))?.key == "seed")
        let missing = refusal(Self.evaluationFile(of: "absent.yaml"))
        #expect(missing?.key == "evaluates" && missing?.reason.contains(folder.path("absent.yaml")) == true, "\(String(describing: missing))")
        let bad = refusal(Self.evaluationFile(of: "tiny.yaml", horizon: 0))
        #expect(bad?.key == "evaluation.horizon" && bad?.file == file, "\(String(describing: bad))")
    }
}
