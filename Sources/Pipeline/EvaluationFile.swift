import Foundation
import Yams

/// An evaluation file: another evaluation of a pipeline's trained runs, without copying the
/// pipeline (Figure 6's architectures, the long horizons, other data sets):
///
/// ```yaml
/// evaluates: ../mnist.yaml     # the pipeline whose runs are evaluated, relative to this file
/// evaluation:                  # replaces that pipeline's evaluation section
///   name: architecture         # the output: eval-architecture.h5 (eval-architecture-validation.h5)
///   horizon: 200
///   …
/// ```
///
/// The stages read it as the pipeline with this evaluation section (`merged`), so its runs,
/// sweep members and settings are the pipeline's own, and `l2l-eval` writes beside its
/// `eval.h5`. `l2l-train` refuses it: the runs are trained by the pipeline.
enum EvaluationFile {
    /// The pipeline's text with this file's evaluation section, or nil when `text` is not an
    /// evaluation file.
    static func merged(text: String, path: String) throws(PipelineError) -> String? {
        var reader = try ConfigurationReader.document(file: path, text: text)
        guard reader.has("evaluates") else { return nil }
        let relative = try reader.string("evaluates")
        let evaluation = try reader.node("evaluation")
        try reader.finish()
        guard case let .mapping(section) = evaluation, section[Node("name")] != nil else {
            throw reader.error("evaluation.name", "an evaluation file names its evaluation (evaluation.name: its output is eval-<name>.h5)", at: evaluation)
        }
        let base = relative.hasPrefix("/") ? relative : URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(relative).standardized.path
        let baseText: String
        do {
            baseText = try PipelineConfiguration.readText(base)
        } catch {
            throw reader.error("evaluates", "\(base): \(error.reason)")
        }
        let baseReader = try ConfigurationReader.document(file: base, text: baseText)
        if baseReader.has("evaluates") { throw reader.error("evaluates", "\(base) is itself an evaluation file; name the pipeline that trains the runs") }
        var mapping = baseReader.mapping
        mapping[Node("evaluation")] = evaluation
        mapping[Node("evaluated_pipeline")] = Node(base)
        do {
            return "# \(path): the evaluation section of this file over the pipeline \(base)\n" + (try Yams.serialize(node: .mapping(mapping), sortKeys: false))
        } catch {
            throw PipelineError(file: path, key: "evaluation", reason: "cannot be merged with \(base) as YAML: \(error)")
        }
    }
}
