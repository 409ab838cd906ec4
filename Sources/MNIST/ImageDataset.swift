import Foundation

/// A data set distributed in MNIST's format: four gzip-compressed IDX files (60,000 training and
/// 10,000 test images of 28 × 28 grey pixels, labels 0...9) under MNIST's file names. `l2l-fetch
/// --dataset` stores each in its own HDF5 file of the same layout (`MNISTStore`); the stored file
/// records which data set it holds, so a stage given the wrong one says so.
public enum ImageDataset: String, CaseIterable, Sendable, CustomStringConvertible {
    /// LeCun, Cortes and Burges' handwritten digits: the paper's data set.
    case mnist = "mnist"
    /// Zalando's Fashion-MNIST (Xiao, Rasul and Vollgraf 2017): ten classes of clothing, a harder
    /// drop-in replacement for MNIST.
    case fashionMNIST = "fashion-mnist"

    /// The name in prose and messages.
    public var description: String {
        switch self {
        case .mnist: return "MNIST"
        case .fashionMNIST: return "Fashion-MNIST"
        }
    }

    /// Where `l2l-fetch` writes it and the later stages read it by default.
    public var defaultOutput: String { "data/\(rawValue).h5" }

    /// The environment variable that names a mirror (one URL or folder) for this data set.
    public var mirrorEnvironmentVariable: String {
        switch self {
        case .mnist: return "MNIST_MIRROR"
        case .fashionMNIST: return "FASHION_MNIST_MIRROR"
        }
    }

    /// The mirrors tried in order when none is given. Fashion-MNIST comes first from Debian's
    /// `dataset-fashion-mnist` package (installed by `make deps`), then from the authors' bucket.
    public var defaultMirrors: [Mirror] {
        switch self {
        case .mnist:
            return [
                .web(URL(string: "https://ossci-datasets.s3.amazonaws.com/mnist/")!),
                .web(URL(string: "https://storage.googleapis.com/cvdf-datasets/mnist/")!),
            ]
        case .fashionMNIST:
            return [
                .directory("/usr/share/datasets/fashion-mnist"),
                .web(URL(string: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")!),
            ]
        }
    }

    /// What a label means, for the stored labels' description.
    public var labelDescription: String {
        switch self {
        case .mnist: return "digit labels 0...9, one per image"
        case .fashionMNIST: return "class labels 0...9 (T-shirt/top, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag, ankle boot), one per image"
        }
    }

    /// SHA-256 of `part`'s decompressed IDX content in the original distribution. Compressed
    /// bytes differ between mirrors; these do not. MNIST's are pinned in `shared/mnist/README.md`;
    /// Fashion-MNIST's were measured on Debian's `dataset-fashion-mnist` (issue 13).
    public func pinnedSHA256(_ part: MNISTPart) -> String {
        switch (self, part) {
        case (.mnist, .trainImages): return "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        case (.mnist, .trainLabels): return "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        case (.mnist, .testImages): return "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        case (.mnist, .testLabels): return "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        case (.fashionMNIST, .trainImages): return "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        case (.fashionMNIST, .trainLabels): return "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        case (.fashionMNIST, .testImages): return "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        case (.fashionMNIST, .testLabels): return "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        }
    }

    /// The pinned checksums of all four parts.
    public var pinnedChecksums: [MNISTPart: String] {
        Dictionary(uniqueKeysWithValues: MNISTPart.allCases.map { ($0, pinnedSHA256($0)) })
    }
}
