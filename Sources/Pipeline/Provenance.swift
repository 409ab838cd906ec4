import Foundation
import HDF5
import MNIST

/// Where an output came from: recorded as attributes on every file the stages write.
public struct Provenance: Sendable {
    /// The package version and the commit the running executable was built from: the stamp
    /// `make build` writes beside the executables (`code-version`, from `git describe --always
    /// --dirty` right after the build), when it is at least as new as the executable; otherwise
    /// (a plain `swift build`, a stamp older than the binary) the checkout's state now, which
    /// is the executable's only while nobody has edited or checked out since it was built.
    public static let codeVersion: String = codeVersion(
        executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath())

    static let packageVersion = "0.1.0"

    /// `codeVersion` for the executable at `executable` (in `<checkout>/.build/<triple>/<configuration>/`).
    static func codeVersion(executable: URL) -> String {
        let folder = executable.deletingLastPathComponent()
        if let stamp = buildStamp(in: folder, executable: executable) {
            return "\(packageVersion)+\(stamp)"
        }
        let checkout = folder.deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", checkout.path, "describe", "--always", "--dirty"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return packageVersion }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return process.terminationStatus == 0 && !commit.isEmpty ? "\(packageVersion)+\(commit)" : packageVersion
    }

    /// The commit in `folder/code-version`, when that stamp was written after `executable` was
    /// linked (a stamp from an earlier build describes another binary, and is ignored).
    static func buildStamp(in folder: URL, executable: URL) -> String? {
        let stamp = folder.appendingPathComponent("code-version")
        let manager = FileManager.default
        guard let stampDate = (try? manager.attributesOfItem(atPath: stamp.path))?[.modificationDate] as? Date,
              let executableDate = (try? manager.attributesOfItem(atPath: executable.path))?[.modificationDate] as? Date,
              stampDate >= executableDate,
              let text = try? String(contentsOf: stamp, encoding: .utf8) else { return nil }
        let commit = text.trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty || commit.contains("\n") ? nil : commit
    }

    /// Records the configuration, seed, code version and the checksums of every data set read:
    /// `<dataset>` (its file) and `<dataset> sha256 <IDX file>` (`mnist`, `mnist sha256 …`).
    static func record(on file: File, configuration: PipelineConfiguration, tool: String, data: [(dataset: ImageDataset, path: String)]) throws {
        try file.setAttribute("configuration", configuration.text)
        try file.setAttribute("pipeline", configuration.path)
        try file.setAttribute("seed", Int64(configuration.seed))
        try file.setAttribute("code_version", Provenance.codeVersion)
        try file.setAttribute("tool", tool)
        try file.setAttribute("created", ISO8601DateFormatter().string(from: Date()))
        for (dataset, path) in data {
            try file.setAttribute(dataset.rawValue, path)
            for (part, checksum) in try MNISTStore.recordedChecksums(path) {
                try file.setAttribute(checksumAttribute(dataset, part), checksum)
            }
        }
    }
}

extension Provenance {
    /// The attribute holding the SHA-256 of `part` of `dataset` in every output.
    static func checksumAttribute(_ dataset: ImageDataset, _ part: MNISTPart) -> String {
        "\(dataset.rawValue) sha256 \(part.fileName)"
    }

    /// Every data checksum attribute an output may hold.
    static let checksumAttributes: [String] = ImageDataset.allCases.flatMap { dataset in MNISTPart.allCases.map { checksumAttribute(dataset, $0) } }
}

/// Reports a long task's progress on standard error: one updating line on a terminal, a plain
/// line every few percent (and at least every 30 s) otherwise.
final class ProgressLine: @unchecked Sendable {
    private let total: Int
    private let label: String
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let started = Date()
    private var lastPrinted = Date.distantPast
    private var lastFraction = -1.0
    private let startCount: Int

    init(label: String, total: Int, startingAt done: Int) {
        self.label = label
        self.total = total
        self.startCount = done
    }

    func update(done: Int, detail: String) {
        let fraction = Double(done) / Double(max(total, 1))
        let elapsed = Date().timeIntervalSince(started)
        let rate = Double(done - startCount) / max(elapsed, 1e-9)
        let remaining = rate > 0 ? Double(total - done) / rate : .infinity
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let text = "\(label) [\(bar)] \(done)/\(total)  \(String(format: "%.2f", rate))/s  ETA \(Self.duration(remaining))  \(detail)"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (done >= total ? "\n" : "")).utf8))
        } else if fraction - lastFraction >= 0.02 || Date().timeIntervalSince(lastPrinted) >= 30 || done >= total {
            FileHandle.standardError.write(Data((text + "\n").utf8))
            lastFraction = fraction
            lastPrinted = Date()
        }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
    }
}

func note(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
