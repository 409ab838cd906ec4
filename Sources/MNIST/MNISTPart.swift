/// One of the four files of the MNIST database, with the checksum its content must have.
public enum MNISTPart: String, CaseIterable, Sendable {
    case trainImages = "train-images-idx3-ubyte"
    case trainLabels = "train-labels-idx1-ubyte"
    case testImages = "t10k-images-idx3-ubyte"
    case testLabels = "t10k-labels-idx1-ubyte"

    /// The IDX file's name (`train-images-idx3-ubyte`).
    public var fileName: String { rawValue }

    /// The compressed file's name on the mirrors (`train-images-idx3-ubyte.gz`).
    public var compressedFileName: String { rawValue + ".gz" }

    /// The dataset this part is stored in inside `mnist.h5`.
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

    /// SHA-256 of the decompressed IDX content of the original database, as pinned in
    /// `shared/mnist/README.md`. The compressed bytes differ between mirrors; these do not.
    public var pinnedSHA256: String {
        switch self {
        case .trainImages: return "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        case .trainLabels: return "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        case .testImages: return "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        case .testLabels: return "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        }
    }

    /// The pinned checksums of all four parts.
    public static var pinnedChecksums: [MNISTPart: String] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0, $0.pinnedSHA256) })
    }

}
