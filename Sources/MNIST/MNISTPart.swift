/// One of the four files of the MNIST database (and of every data set in its format,
/// `ImageDataset`); the checksum each must have depends on the data set.
public enum MNISTPart: String, CaseIterable, Sendable {
    case trainImages = "train-images-idx3-ubyte"
    case trainLabels = "train-labels-idx1-ubyte"
    case testImages = "t10k-images-idx3-ubyte"
    case testLabels = "t10k-labels-idx1-ubyte"

    /// The IDX file's name (`train-images-idx3-ubyte`).
    public var fileName: String { rawValue }

    /// The compressed file's name on the mirrors (`train-images-idx3-ubyte.gz`).
    public var compressedFileName: String { rawValue + ".gz" }

    /// The dataset this part is stored in inside `mnist.h5` (and `fashion-mnist.h5`).
    public var datasetPath: String {
        switch self {
        case .trainImages: return "train/images"
        case .trainLabels: return "train/labels"
        case .testImages: return "test/images"
        case .testLabels: return "test/labels"
        }
    }

    public var isImages: Bool { self == .trainImages || self == .testImages }

    /// The number of examples the original database has in this part.
    public var exampleCount: Int { self == .trainImages || self == .trainLabels ? 60_000 : 10_000 }
}
