import MNIST

/// The data an evaluation runs on. Recipes (meta learning rate, model selection, ...) are chosen
/// on `validation`; `test` is kept for the numbers a study reports, so that no choice is tuned on
/// them.
///
/// - `test`: MNIST's 10,000 t10k images, and for quadratics the draws of `eval.h5` as ever.
/// - `validation`: MNIST's validation split (training images 0..<5,000, which meta-training never
///   trains on; its validations draw from them), and for quadratics draws from generators of their
///   own, independent of the test ones. Written to `eval-validation.h5`.
public enum EvaluationSplit: String, CaseIterable, Sendable {
    case test
    case validation

    /// The evaluation file's name in the run folder.
    public var fileName: String { self == .test ? "eval.h5" : "eval-\(rawValue).h5" }

    var mnistSplit: MNIST.Split { self == .test ? .test : .validation }

    /// Prefixes the purposes of the generators (empty for `test`, so that its draws are those of
    /// every earlier eval.h5).
    var purposePrefix: String { self == .test ? "" : "\(rawValue)-split/" }
}
