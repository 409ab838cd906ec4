import Foundation
import HDF5
import Testing
import TestSupport

/// A quadratic experiment small enough to train in seconds in a debug build.
func tinyQuadraticPipeline(epochs: Int = 60, name: String = "tiny") -> String {
    """
    # A tiny quadratic experiment for the tests.
    name: \(name)
    seed: 3
    optimizee: {kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}
    optimizer:
      layers: [20, 20]
      preprocessing: {kind: identity}
      output_scale: 0.5
    training:
      epochs: \(epochs)
      steps: 20
      unroll: 5
      meta_learning_rate: 0.001
      loss_weights: uniform
      validation_period: 4
      validation_size: 2
      history_period: 5
    evaluation:
      horizon: 20
      runs: 4
      tuning_runs: 2
      learning_rates: {log10_from: -2, log10_to: 0, log10_step: 1}
      problems:
        - {name: quadratic, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}
    """
}

/// A finished tiny run of the pipeline `text`: its folder, pipeline file (`tiny.yaml`) and run
/// folder (`run`).
func trainedRun(_ text: String) throws -> (folder: TemporaryDirectory, pipeline: String, out: String) {
    let folder = try TemporaryDirectory()
    let pipeline = folder.path("tiny.yaml"), out = folder.path("run")
    try text.write(toFile: pipeline, atomically: true, encoding: .utf8)
    let result = try runProcess(executable("l2l-train"), [pipeline, "--out", out])
    #expect(result.status == 0, "\(result.standardError)")
    return (folder, pipeline, out)
}

/// The built executables, beside the test bundle.
func executable(_ name: String) -> String {
    URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
}

/// Every dataset (its raw bytes) and every attribute (its value as text) of an HDF5 file, by
/// path (`/a/b` and `/a/b@name`), except the attributes in `ignoring` (by name).
func everything(in path: String, ignoring: Set<String> = ["created", "run_id", "resumed_by"]) throws -> [String: [UInt8]] {
    let file = try File.open(path)
    var result: [String: [UInt8]] = [:]
    func attributes(of location: Location, at name: String) throws {
        for attribute in try location.attributeNames() where !ignoring.contains(attribute) {
            let key = "\(name)@\(attribute)"
            if let text = try? location.stringAttribute(attribute) {
                result[key] = Array(text.utf8)
            } else if let values = try? location.arrayAttribute(attribute, as: Float.self) {
                result[key] = values.flatMap { withUnsafeBytes(of: $0.bitPattern, Array.init) }
            } else if let values = try? location.arrayAttribute(attribute, as: Double.self) {
                result[key] = values.flatMap { withUnsafeBytes(of: $0.bitPattern, Array.init) }
            } else if let values = try? location.arrayAttribute(attribute, as: Int64.self) {
                result[key] = values.flatMap { withUnsafeBytes(of: $0, Array.init) }
            } else if let values = try? location.arrayAttribute(attribute, as: Int32.self) {
                result[key] = values.flatMap { withUnsafeBytes(of: $0, Array.init) }
            } else {
                Issue.record("\(key): an attribute of a type the comparison does not read")
            }
        }
    }
    func visit(_ container: Container, at prefix: String) throws {
        try attributes(of: container, at: prefix.isEmpty ? "/" : prefix)
        for child in try container.children() {
            let name = "\(prefix)/\(child)"
            switch try container.kind(of: child) {
            case .group:
                try visit(try container.openGroup(child), at: name)
            case .dataset:
                let dataset = try container.openDataset(child)
                try attributes(of: dataset, at: name)
                switch try dataset.elementType {
                case .float32: result[name] = try dataset.read(Float.self).flatMap { withUnsafeBytes(of: $0.bitPattern, Array.init) }
                case .float64: result[name] = try dataset.read(Double.self).flatMap { withUnsafeBytes(of: $0.bitPattern, Array.init) }
                case .int64: result[name] = try dataset.read(Int64.self).flatMap { withUnsafeBytes(of: $0, Array.init) }
                case .int32: result[name] = try dataset.read(Int32.self).flatMap { withUnsafeBytes(of: $0, Array.init) }
                case .uint8: result[name] = try dataset.read(UInt8.self)
                }
                result[name + " (shape)"] = Array("\(try dataset.shape)".utf8)
            case .other:
                Issue.record("\(name): an object that is neither a group nor a dataset")
            }
        }
    }
    try visit(file, at: "")
    return result
}

/// Expects two files to hold the same datasets and attributes, bit for bit, naming the first
/// objects that differ (not their bytes).
func expectIdentical(_ expected: String, _ actual: String, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
    let a = try everything(in: expected), b = try everything(in: actual)
    let missing = Set(a.keys).symmetricDifference(b.keys).sorted()
    #expect(missing.isEmpty, "\(context): objects in only one file: \(missing.prefix(10))", sourceLocation: sourceLocation)
    let differing = a.keys.filter { b[$0] != nil && a[$0] != b[$0] }.sorted()
    #expect(differing.isEmpty, "\(context): \(differing.count) objects differ: \(differing.prefix(10))", sourceLocation: sourceLocation)
    #expect(a.count > 40, "\(context): only \(a.count) objects compared", sourceLocation: sourceLocation)
}

/// A process started in the background, its standard error collected as it comes.
final class BackgroundProcess: @unchecked Sendable {
    let process = Process()
    private let errors = Pipe()
    private let lock = NSLock()
    private var collected = ""
    /// Signalled when standard error reaches its end: every writer (the process and its
    /// children) has closed it, so all it wrote has been collected.
    private let drained = DispatchSemaphore(value: 0)

    init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // A reader of its own until the end of the stream, rather than a readability handler: the
        // handler's last chunk could still be in flight when the process had exited, and a test
        // then saw an empty standard error.
        let reading = errors.fileHandleForReading
        Thread.detachNewThread { [self] in
            while case let data = reading.availableData, !data.isEmpty {
                lock.withLock { collected += String(decoding: data, as: UTF8.self) }
            }
            drained.signal()
        }
    }

    var standardError: String { lock.withLock { collected } }

    /// Waits until standard error matches `pattern` (or the process ends); false on a timeout.
    func wait(for pattern: String, timeout: TimeInterval = 120) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if standardError.contains(pattern) { return true }
            if !process.isRunning { return standardError.contains(pattern) }
            usleep(20_000)
        }
        return false
    }

    /// The number of trajectories the progress line reports done.
    var trajectoriesDone: Int {
        let matches = standardError.matches(of: #/\] (\d+)\//#)
        return matches.last.flatMap { Int($0.output.1) } ?? 0
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    func finish() -> Int32 {
        process.waitUntilExit()
        _ = drained.wait(timeout: .now() + 30)
        return process.terminationStatus
    }
}

/// The temporary files (`.NAME.partial-PID`) in a folder.
func temporaryFiles(in folder: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".partial-") }
}
