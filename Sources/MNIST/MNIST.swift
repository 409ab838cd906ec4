import Foundation

/// The MNIST examples of one split, as the optimizee of the paper's MNIST experiment sees them.
public struct MNISTSplit: Sendable {
    public let split: MNIST.Split
    /// Number of examples.
    public let count: Int
    /// Pixel intensities 0...255, `count × 784`, row-major: a quarter of the memory of floats
    /// (the training split is 43 MB), so meta-training scales them per minibatch instead.
    public let pixels: [UInt8]
    /// Pixels scaled to [0, 1] (intensity / 255), `count × 784`, row-major; computed on each access.
    public var images: [Float] { pixels.map { Float($0) / 255 } }
    /// Digit labels 0...9, one per image.
    public let labels: [UInt8]

    /// Pixels per image (28 × 28).
    public static let pixelsPerImage = MNISTArchive.imageSide * MNISTArchive.imageSide
}

/// The MNIST database with the splits of the paper's released code (deepmind/learning-to-learn,
/// which reads MNIST through TensorFlow's `mnist.read_data_sets`): the first 5,000 training
/// images are held out for validation.
public enum MNIST {
    public enum Split: String, CaseIterable, Sendable {
        /// Training images 5,000..<60,000 (55,000).
        case train
        /// Training images 0..<5,000.
        case validation
        /// The 10,000 t10k images.
        case test

        /// Which stored part holds the split, and which of its examples.
        var source: (images: MNISTPart, labels: MNISTPart, rows: Range<Int>) {
            switch self {
            case .train: return (.trainImages, .trainLabels, 5_000..<60_000)
            case .validation: return (.trainImages, .trainLabels, 0..<5_000)
            case .test: return (.testImages, .testLabels, 0..<10_000)
            }
        }
    }

    /// Loads `split` from a file written by `l2l-fetch`.
    public static func load(_ split: Split, from path: String) throws -> MNISTSplit {
        try load(split, from: MNISTStore.read(path), path: path)
    }

    /// Takes `split` out of an already loaded archive.
    public static func load(_ split: Split, from archive: MNISTArchive, path: String = "MNIST") throws -> MNISTSplit {
        let (imagesPart, _, rows) = split.source
        let images = imagesPart == .trainImages ? archive.trainImages : archive.testImages
        let labels = imagesPart == .trainImages ? archive.trainLabels : archive.testLabels
        guard rows.upperBound <= images.count else {
            throw MNISTError(file: path, kind: .invalidLayout(
                object: "/" + imagesPart.datasetPath,
                reason: "the \(split.rawValue) split needs examples \(rows.lowerBound)..<\(rows.upperBound), the file has \(images.count)"))
        }
        let pixels = MNISTSplit.pixelsPerImage
        return MNISTSplit(split: split, count: rows.count, pixels: Array(images.pixels[rows.lowerBound * pixels..<rows.upperBound * pixels]), labels: Array(labels[rows]))
    }
}
