/// Why MNIST-format data (parsed IDX files, or a stored `mnist.h5` or `fashion-mnist.h5`) is not
/// what the pipeline expects.
public struct MNISTError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A label outside 0...9.
        case labelOutOfRange(index: Int, value: UInt8)
        /// An images file and its labels file hold different numbers of examples.
        case countMismatch(images: Int, labels: Int, labelsFile: String)
        /// Images that are not 28 × 28 pixels.
        case wrongImageSize(rows: Int, columns: Int)
        /// A stored data file that lacks something or holds something else than expected.
        case invalidLayout(object: String, reason: String)
    }

    /// The file (IDX file, or `mnist.h5`) the problem was found in.
    public let file: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case let .labelOutOfRange(index, value):
            return "labels file '\(file)' has label \(value) at index \(index); expected a class 0...9"
        case let .countMismatch(images, labels, labelsFile):
            return "images file '\(file)' has \(images) images but its labels file '\(labelsFile)' has \(labels) labels; expected the same count"
        case let .wrongImageSize(rows, columns):
            return "images file '\(file)' has images of \(rows)×\(columns) pixels; expected 28×28"
        case let .invalidLayout(object, reason):
            return "'\(file)' is not a valid data file written by l2l-fetch: \(object): \(reason)"
        }
    }
}
