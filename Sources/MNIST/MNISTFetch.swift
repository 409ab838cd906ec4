import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Gzip
import HDF5

/// Why the fetch stage stopped.
public struct FetchError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// No mirror could provide the file; one failure per mirror, in the order tried.
        case unavailable(part: MNISTPart, failures: [MirrorFailure])
        /// The decompressed content's SHA-256 is not the pinned one.
        case checksumMismatch(part: MNISTPart, source: String, expected: String, found: String)
        /// The output folder cannot be created or written.
        case outputNotWritable(folder: String, reason: String)
        /// A file exists at the output path but is not a valid MNIST file.
        case existingOutputInvalid(path: String, reason: String)
    }

    public let kind: Kind
    /// The data set being fetched.
    public let dataset: ImageDataset

    public init(kind: Kind, dataset: ImageDataset = .mnist) {
        self.kind = kind
        self.dataset = dataset
    }

    public var description: String {
        switch kind {
        case let .unavailable(part, failures):
            let tried = failures.map { "  - \($0)" }.joined(separator: "\n")
            return "cannot get \(dataset)'s \(part.compressedFileName) from any mirror; tried:\n\(tried)\nPoint --mirror (or \(dataset.mirrorEnvironmentVariable)) at a reachable URL or at a folder holding the four .gz files."
        case let .checksumMismatch(part, source, expected, found):
            return "checksum mismatch for \(dataset)'s \(part.fileName) from \(source): its decompressed content has SHA-256 \(found), expected \(expected). Nothing was written."
        case let .outputNotWritable(folder, reason):
            return "cannot write to the output folder '\(folder)': \(reason)"
        case let .existingOutputInvalid(path, reason):
            return "'\(path)' exists but is not a valid \(dataset) file (\(reason)). Run again with --force to replace it."
        }
    }
}

/// The fetch stage: downloads (or reads) the four files of MNIST or another data set in its
/// format, verifies the SHA-256 of their decompressed content, parses and cross-checks them, and
/// stores them in one HDF5 file, atomically. Nothing is written unless everything checks out.
public struct MNISTFetch: Sendable {
    /// Which data set.
    public var dataset: ImageDataset
    /// Mirrors tried in order, file by file.
    public var mirrors: [Mirror]
    /// The HDF5 file to write (`data/mnist.h5`, `data/fashion-mnist.h5`).
    public var output: String
    /// Rewrite the output even when it is already valid.
    public var force: Bool
    /// Seconds to wait for each piece of a download before giving up on a mirror.
    public var timeout: TimeInterval
    /// The SHA-256 each part's decompressed content must have (the data set's pinned values by default).
    public var expectedChecksums: [MNISTPart: String]
    /// Recorded in the output as `tool_version`.
    public var toolVersion: String

    /// What `run` did.
    public enum Outcome: Equatable, Sendable {
        /// The output already held the verified data set; nothing was done.
        case upToDate
        /// The output was written.
        case written
    }

    /// `mirrors` and `expectedChecksums` default to the data set's.
    public init(
        dataset: ImageDataset = .mnist, mirrors: [Mirror]? = nil, output: String, force: Bool = false, timeout: TimeInterval = 60,
        expectedChecksums: [MNISTPart: String]? = nil, toolVersion: String
    ) {
        self.dataset = dataset
        self.mirrors = mirrors ?? dataset.defaultMirrors
        self.output = output
        self.force = force
        self.timeout = timeout
        self.expectedChecksums = expectedChecksums ?? dataset.pinnedChecksums
        self.toolVersion = toolVersion
    }

    public func run(reporter: FetchReporter = SilentReporter()) throws -> Outcome {
        // A signal while the output is saved removes the temporary file; one left by a process
        // killed with SIGKILL is removed here.
        TemporaryFiles.removeOnSignal()
        try prepareOutputFolder()
        for stale in DurableWrite.removeStaleTemporaries(of: output) {
            reporter.note("removed \(stale), left by a process that no longer runs")
        }
        if FileManager.default.fileExists(atPath: output), !force {
            do {
                try MNISTStore.verify(output, dataset: dataset, expectedChecksums: expectedChecksums)
                reporter.note("\(output) is already complete and verified; nothing to do (use --force to rewrite it).")
                return .upToDate
            } catch {
                throw FetchError(kind: .existingOutputInvalid(path: output, reason: "\(error)"), dataset: dataset)
            }
        }

        var idx: [MNISTPart: [UInt8]] = [:]
        var sources: [MNISTPart: String] = [:]
        var checksums: [MNISTPart: String] = [:]
        for part in MNISTPart.allCases {
            let (bytes, mirror) = try decompressedContent(of: part, reporter: reporter)
            let checksum = MNISTStore.sha256Hex(bytes)
            let expected = expectedChecksums[part] ?? dataset.pinnedSHA256(part)
            guard checksum == expected else {
                throw FetchError(kind: .checksumMismatch(part: part, source: mirror.location(of: part), expected: expected, found: checksum), dataset: dataset)
            }
            reporter.note("\(part.fileName): \(bytes.count) bytes from \(mirror), SHA-256 verified")
            idx[part] = bytes
            sources[part] = mirror.description
            checksums[part] = checksum
        }

        let names = Dictionary(uniqueKeysWithValues: MNISTPart.allCases.map { ($0, "\(sources[$0] ?? "?")/\($0.compressedFileName)") })
        func images(_ part: MNISTPart) throws -> IDXImages { try IDX.parseImages(idx[part] ?? [], file: names[part] ?? part.fileName) }
        func labels(_ part: MNISTPart) throws -> [UInt8] { try IDX.parseLabels(idx[part] ?? [], file: names[part] ?? part.fileName) }
        let archive = try MNISTArchive(
            trainImages: images(.trainImages), trainLabels: labels(.trainLabels),
            testImages: images(.testImages), testLabels: labels(.testLabels), fileNames: names)

        let provenance = MNISTStore.Provenance(dataset: dataset, sources: sources, checksums: checksums, toolVersion: toolVersion)
        try MNISTStore.write(archive, provenance: provenance, to: output)
        reporter.note("wrote \(output): \(dataset), \(archive.trainImages.count) training and \(archive.testImages.count) test images")
        return .written
    }

    // MARK: Implementation

    private func prepareOutputFolder() throws {
        let folder = URL(fileURLWithPath: output).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw FetchError(kind: .outputNotWritable(folder: folder, reason: "cannot create it: \(error.localizedDescription)"), dataset: dataset)
        }
        guard access(folder, W_OK) == 0 else {
            throw FetchError(kind: .outputNotWritable(folder: folder, reason: String(cString: strerror(errno))), dataset: dataset)
        }
    }

    /// The decompressed bytes of `part` from the first mirror that has it. Unreachable mirrors
    /// and missing files move on to the next mirror; a corrupt stream stops the stage.
    private func decompressedContent(of part: MNISTPart, reporter: FetchReporter) throws -> ([UInt8], Mirror) {
        var failures: [MirrorFailure] = []
        for mirror in mirrors {
            let location = mirror.location(of: part)
            switch mirror {
            case .directory:
                guard FileManager.default.isReadableFile(atPath: location) else {
                    let reason = FileManager.default.fileExists(atPath: location) ? "not readable" : "no such file"
                    failures.append(MirrorFailure(location: location, reason: reason))
                    continue
                }
                return (try Gunzip.decompressFile(atPath: location), mirror)
            case .web:
                guard let url = URL(string: location) else {
                    failures.append(MirrorFailure(location: location, reason: "not a valid URL"))
                    continue
                }
                do {
                    let name = part.compressedFileName
                    let compressed = try WebDownload.fetch(url, timeout: timeout) { received, expected in
                        reporter.downloadProgress(name, received: received, expected: expected)
                    }
                    reporter.downloadEnded(name)
                    return (try Gunzip.decompress(compressed, source: location), mirror)
                } catch let failure as MirrorFailure {
                    reporter.downloadEnded(part.compressedFileName)
                    reporter.note("  \(failure); trying the next mirror")
                    failures.append(failure)
                }
            }
        }
        throw FetchError(kind: .unavailable(part: part, failures: failures), dataset: dataset)
    }
}
