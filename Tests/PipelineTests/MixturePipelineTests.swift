import Foundation
import HDF5
import MNIST
import Testing
import TestSupport
@testable import Pipeline

/// `optimizee: [{weight: w, kind: …}, …]` and evaluation problems with `mixture:` (issue 13):
/// parsed strictly, trained, resumed bit for bit, evaluated.
@Suite("task mixtures in pipelines")
struct MixturePipelineTests {
    /// The tiny quadratic pipeline meta-trained on `components` (YAML flow mappings with a
    /// weight), with a mixture among its evaluation problems.
    static func pipeline(_ components: [String], epochs: Int = 40) -> String {
        tinyQuadraticPipeline(epochs: epochs)
            .replacingOccurrences(of: "optimizee: {kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}\n",
                                  with: "optimizee:\n" + components.map { "  - \($0)\n" }.joined())
            .replacingOccurrences(of: "    - {name: quadratic, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}",
                                  with: """
                                      - {name: quadratic, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}
                                      - name: both
                                        mixture:
                                          - {weight: 1, kind: quadratic, problems: 2, dimensions: 3, distribution: gaussian}
                                          - {weight: 1, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}
                                  """)
    }

    static let twoSizes = ["{weight: 3, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}",
                           "{weight: 1, kind: quadratic, problems: 2, dimensions: 3, distribution: gaussian}"]

    func refusal(_ components: [String]) -> PipelineError? {
        do { _ = try PipelineConfiguration(text: Self.pipeline(components), path: "p.yaml") } catch { return error }
        Issue.record("\(components) was accepted")
        return nil
    }

    @Test("a list of optimizees with weights is a mixture, and so is an evaluation problem's mixture:; the components shape meta-training")
    func parsing() throws {
        let configuration = try PipelineConfiguration(text: Self.pipeline(Self.twoSizes), path: "p.yaml")
        #expect(configuration.optimizee == .mixture([
            MixtureComponent(weight: 3, optimizee: .quadratic(problems: 4, dimensions: 5, distribution: .gaussian)),
            MixtureComponent(weight: 1, optimizee: .quadratic(problems: 2, dimensions: 3, distribution: .gaussian)),
        ]))
        #expect(configuration.evaluationProblems.map(\.name) == ["quadratic", "both"])
        guard case let .mixture(components) = configuration.evaluationProblems[1].optimizee else {
            Issue.record("the evaluation problem 'both' is not a mixture")
            return
        }
        #expect(components.map(\.weight) == [1, 1])
        #expect(configuration.trainingDatasets.isEmpty)
        let other = try PipelineConfiguration(text: Self.pipeline(Self.twoSizes.reversed()), path: "p.yaml")
        #expect(!other.trainingDifferences(from: configuration).isEmpty, "the components and their weights shape meta-training")

        // MLP components name their data sets; a mixture reads each once.
        let mlps = try PipelineConfiguration(text: Self.pipeline([
            "{weight: 1, kind: mnist, hidden: [4], activation: sigmoid, batch_size: 8}",
            "{weight: 1, kind: mnist, hidden: [8], activation: tanh, batch_size: 8, dataset: fashion-mnist}",
            "{weight: 2, kind: mnist, hidden: [4, 4], activation: relu, batch_size: 8, dataset: mnist}",
        ]), path: "p.yaml")
        #expect(mlps.trainingDatasets == [.mnist, .fashionMNIST])
        #expect(mlps.optimizee.isMNIST)
    }

    @Test("negative, NaN, infinite, missing and all-zero weights, nested mixtures and unknown keys are refused, naming the key")
    func refusals() throws {
        let good = Self.twoSizes[0]
        for bad in ["-1", ".nan", ".inf"] {
            let error = refusal([good, "{weight: \(bad), kind: quadratic, problems: 2, dimensions: 3, distribution: gaussian}"])
            #expect(error?.key == "optimizee[1].weight" && error?.reason.contains("outside 0") == true, "\(bad): \(String(describing: error))")
        }
        let zero = refusal(["{weight: 0, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}",
                            "{weight: 0.0, kind: quadratic, problems: 2, dimensions: 3, distribution: gaussian}"])
        #expect(zero?.key == "optimizee" && zero?.reason.contains("every weight is 0") == true, "\(String(describing: zero))")
        let missing = refusal([good, "{kind: quadratic, problems: 2, dimensions: 3, distribution: gaussian}"])
        #expect(missing?.key == "optimizee[1].weight" && missing?.reason.contains("missing") == true)
        let nested = refusal([good, "{weight: 1, mixture: [\(good)]}"])
        #expect(nested?.key == "optimizee[1].mixture", "\(String(describing: nested))")
        let unknown = refusal([good.replacingOccurrences(of: "weight: 3", with: "weight: 3, wieght: 1")])
        #expect(unknown?.key == "optimizee[0].wieght" && unknown?.reason.contains("unknown key") == true)
        let empty = refusal([])
        #expect(empty != nil)
    }

    @Test("l2l-train refuses a bad weight before it writes anything, naming the file and the key")
    func nothingWritten() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("mix.yaml"), out = folder.path("run")
        try Self.pipeline([Self.twoSizes[0], Self.twoSizes[1].replacingOccurrences(of: "weight: 1", with: "weight: -2")])
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-train"), [pipeline, "--out", out])
        #expect(result.status != 0)
        #expect(result.standardError.contains(pipeline) && result.standardError.contains("optimizee[1].weight"), "\(result.standardError)")
        #expect(!result.standardError.contains("Fatal error"))
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test("a mixture of two sizes trains, survives kill -9 bit for bit, and evaluates, a mixture problem included")
    func trainResumeEvaluate() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("mix.yaml")
        try Self.pipeline(Self.twoSizes, epochs: 60).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let reference = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("reference")])
        #expect(reference.status == 0, "\(reference.standardError)")

        let out = folder.path("killed")
        for point in [7, 30] { _ = try ResumeTests.interrupt(pipeline: pipeline, out: out, signal: SIGKILL, after: point) }
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        try expectIdentical(folder.path("reference/train.h5"), out + "/train.h5", "a mixture, after kill -9 and resume")

        // Each trajectory's component is recorded: both were drawn, about 3 : 1.
        let train = try File.open(out + "/train.h5")
        let components = try train.openDataset("trajectory/component").read(Int32.self, rank: 2)
        #expect(components.count == 60 && Set(components) == [0, 1])
        #expect((30...57).contains(components.filter { $0 == 0 }.count), "\(components)")
        #expect(try train.openDataset("trajectory/component").stringAttribute("components").contains("0: weight 3.0"))

        let evaluated = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
        let eval = try File.open(out + "/eval.h5")
        for problem in ["quadratic", "both"] {
            let mean = try eval.openDataset("problems/\(problem)/lstm/mean").read(Double.self, rank: 1)
            #expect(mean.count == 21 && mean.allSatisfy { $0.isFinite }, "\(problem)")
        }
    }
}
