import Crypto
import Foundation
import HDF5

/// `data/mnist.h5`: the MNIST database as `l2l-fetch` stores it and the later stages read it;
/// `data/fashion-mnist.h5` holds Fashion-MNIST in the same layout.
///
/// Layout: `/train/images` (UInt8, 60000 × 28 × 28, chunked, gzip), `/train/labels` (UInt8, 60000),
/// `/test/images` (UInt8, 10000 × 28 × 28, chunked, gzip), `/test/labels` (UInt8, 10000); on the
/// root, the format name and version, the data set (`dataset`; files written before it existed
/// hold MNIST), where each file came from, the SHA-256 of each file's decompressed IDX content,
/// the tool version and the creation time.
public enum MNISTStore {
    public static let formatName = "l2l-mnist"
    public static let formatVersion: Int32 = 1

    /// Where the data came from and who wrote it, stored as root attributes.
    public struct Provenance: Sendable {
        /// Which data set the files are.
        public var dataset: ImageDataset
        /// The mirror (URL or folder) each part was read from.
        public var sources: [MNISTPart: String]
        /// SHA-256 (lowercase hex) of each part's decompressed IDX content.
        public var checksums: [MNISTPart: String]
        public var toolVersion: String
        public var created: Date

        public init(dataset: ImageDataset = .mnist, sources: [MNISTPart: String], checksums: [MNISTPart: String], toolVersion: String, created: Date = Date()) {
            self.dataset = dataset
            self.sources = sources
            self.checksums = checksums
            self.toolVersion = toolVersion
            self.created = created
        }
    }

    /// Attribute names on the root group.
    enum Attribute {
        static let format = "format"
        static let formatVersion = "format_version"
        static let dataset = "dataset"
        static let source = "source"
        static let toolVersion = "tool_version"
        static let created = "created"
        static func sha256(_ part: MNISTPart) -> String { "sha256 \(part.fileName)" }
        static func source(_ part: MNISTPart) -> String { "source \(part.fileName)" }
    }

    /// Images are compressed in chunks of this many images (784 KB uncompressed).
    static let imagesPerChunk = 1000

    /// Writes `archive` to `path` atomically: the file is built in memory and saved whole
    /// (`File.save()`: a temporary file in the same folder, synced, renamed over `path`). On any
    /// failure, a full disk included, no temporary file remains and `path` is untouched.
    public static func write(_ archive: MNISTArchive, provenance: Provenance, to path: String) throws {
        let file = try File.createInMemory(path)
        try writeContents(archive, provenance: provenance, to: file)
        try file.save()
        try file.close()
    }

    /// Checks that `path` holds the layout above for `dataset`, with the expected checksums (the
    /// data set's pinned ones by default) both recorded and recomputed from the stored data, and
    /// returns its contents.
    ///
    /// - Throws: `MNISTError.invalidLayout` naming what is missing or wrong, or `HDF5Error`.
    @discardableResult
    public static func verify(_ path: String, dataset: ImageDataset = .mnist, expectedChecksums: [MNISTPart: String]? = nil) throws -> MNISTArchive {
        let archive = try read(path, dataset: dataset)
        let expectedChecksums = expectedChecksums ?? dataset.pinnedChecksums
        let file = try File.open(path)
        for part in MNISTPart.allCases {
            let recorded = try file.stringAttribute(Attribute.sha256(part))
            let recomputed = sha256Hex(archive.idxBytes(part))
            guard recomputed == recorded else {
                throw invalid(path, "/" + part.datasetPath, "its content has SHA-256 \(recomputed) but the file records \(recorded)")
            }
            if let expected = expectedChecksums[part], expected != recorded {
                throw invalid(path, "/" + part.datasetPath, "SHA-256 \(recorded) differs from the expected \(expected)")
            }
        }
        return archive
    }

    /// Reads the four datasets, checking the format attributes, that the file holds `dataset`,
    /// and the types and shapes (not checksums).
    public static func read(_ path: String, dataset expected: ImageDataset = .mnist) throws -> MNISTArchive {
        guard FileManager.default.fileExists(atPath: path) else {
            let fetch = expected == .mnist ? "l2l-fetch" : "l2l-fetch --dataset \(expected.rawValue)"
            throw invalid(path, "/", "the file does not exist (run `make data` or `\(fetch) --output \(path)` to create it)")
        }
        guard File.isHDF5(path) else { throw invalid(path, "/", "not an HDF5 file") }
        let file = try File.open(path)
        let format = (try? file.stringAttribute(Attribute.format)) ?? "(none)"
        guard format == formatName else {
            throw invalid(path, "/@\(Attribute.format)", "expected '\(formatName)', found '\(format)'")
        }
        let version = try file.attribute(Attribute.formatVersion, as: Int32.self)
        guard version == formatVersion else {
            throw invalid(path, "/@\(Attribute.formatVersion)", "expected \(formatVersion), found \(version); rewrite it with `l2l-fetch --force`")
        }
        let recorded = try recordedDataset(in: file, path: path)
        guard recorded == expected else {
            throw invalid(path, "/@\(Attribute.dataset)", "the file holds \(recorded), expected \(expected) (`l2l-fetch --dataset \(expected.rawValue)` writes \(expected.defaultOutput))")
        }

        func images(_ part: MNISTPart) throws -> IDXImages {
            let dataset = try dataset(part)
            let shape = try dataset.shape
            guard shape.count == 3, shape[1] == MNISTArchive.imageSide, shape[2] == MNISTArchive.imageSide else {
                throw invalid(path, "/" + part.datasetPath, "expected shape N×28×28, found \(shape)")
            }
            return IDXImages(count: shape[0], rows: shape[1], columns: shape[2], pixels: try dataset.read(UInt8.self, rank: 3))
        }
        func labels(_ part: MNISTPart) throws -> [UInt8] {
            try dataset(part).read(UInt8.self, rank: 1)
        }
        func dataset(_ part: MNISTPart) throws -> Dataset {
            guard file.contains(part.datasetPath) else { throw invalid(path, "/" + part.datasetPath, "missing") }
            return try file.openDataset(part.datasetPath)
        }
        return try MNISTArchive(
            trainImages: images(.trainImages), trainLabels: labels(.trainLabels),
            testImages: images(.testImages), testLabels: labels(.testLabels),
            fileNames: Dictionary(uniqueKeysWithValues: MNISTPart.allCases.map { ($0, "\(path):/\($0.datasetPath)") }))
    }

    /// The data set `path` holds: its `dataset` attribute, or MNIST for a file written before
    /// the attribute existed.
    public static func recordedDataset(_ path: String) throws -> ImageDataset {
        try recordedDataset(in: File.open(path), path: path)
    }

    private static func recordedDataset(in file: File, path: String) throws -> ImageDataset {
        guard file.hasAttribute(Attribute.dataset) else { return .mnist }
        let name = try file.stringAttribute(Attribute.dataset)
        guard let dataset = ImageDataset(rawValue: name) else {
            throw invalid(path, "/@\(Attribute.dataset)", "unknown data set '\(name)'; expected one of \(ImageDataset.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return dataset
    }

    /// The checksums recorded in the file, for the provenance of the stages that read it.
    public static func recordedChecksums(_ path: String) throws -> [MNISTPart: String] {
        let file = try File.open(path)
        var checksums: [MNISTPart: String] = [:]
        for part in MNISTPart.allCases { checksums[part] = try file.stringAttribute(Attribute.sha256(part)) }
        return checksums
    }

    /// Lowercase hexadecimal SHA-256.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    // MARK: Implementation

    private static func invalid(_ path: String, _ object: String, _ reason: String) -> MNISTError {
        MNISTError(file: path, kind: .invalidLayout(object: object, reason: reason))
    }

    private static func writeContents(_ archive: MNISTArchive, provenance: Provenance, to file: File) throws {
        for (part, images) in [(MNISTPart.trainImages, archive.trainImages), (.testImages, archive.testImages)] {
            let dataset = try file.createDataset(
                part.datasetPath, values: images.pixels, shape: [images.count, images.rows, images.columns],
                chunks: [min(imagesPerChunk, max(images.count, 1)), images.rows, images.columns], gzipLevel: 4)
            try dataset.setAttribute("description", "pixel intensities 0...255 (0 is background), row-major \(images.rows)×\(images.columns) images")
        }
        for (part, labels) in [(MNISTPart.trainLabels, archive.trainLabels), (.testLabels, archive.testLabels)] {
            let dataset = try file.createDataset(part.datasetPath, values: labels, shape: [labels.count])
            try dataset.setAttribute("description", provenance.dataset.labelDescription)
        }
        try file.setAttribute(Attribute.format, formatName)
        try file.setAttribute(Attribute.formatVersion, formatVersion)
        try file.setAttribute(Attribute.dataset, provenance.dataset.rawValue)
        let distinctSources = Set(provenance.sources.values)
        try file.setAttribute(Attribute.source, distinctSources.count == 1 ? distinctSources.first ?? "" : distinctSources.sorted().joined(separator: "; "))
        for part in MNISTPart.allCases {
            try file.setAttribute(Attribute.source(part), provenance.sources[part] ?? "unknown")
            try file.setAttribute(Attribute.sha256(part), provenance.checksums[part] ?? sha256Hex(archive.idxBytes(part)))
        }
        try file.setAttribute(Attribute.toolVersion, provenance.toolVersion)
        try file.setAttribute(Attribute.created, ISO8601DateFormatter().string(from: provenance.created))
    }
}
