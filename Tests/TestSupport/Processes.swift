import Foundation

/// Compresses with the system's `gzip`, an implementation independent of the code under test.
public func systemGzip(_ bytes: [UInt8]) throws -> Data {
    let input = FileManager.default.temporaryDirectory.appendingPathComponent("l2l-gzip-\(UUID().uuidString)")
    try Data(bytes).write(to: input)
    defer { try? FileManager.default.removeItem(at: input) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/gzip")
    process.arguments = ["-c", "-n", input.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
    return data
}

/// Deterministic bytes that compress, but not trivially.
public func sampleBytes(_ count: Int) -> [UInt8] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { index in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return index % 3 == 0 ? UInt8(truncatingIfNeeded: state >> 59) : UInt8(index % 251)
    }
}


/// The package's root folder (the one holding Package.swift).
public let packageRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The shared offline MNIST mirror beside the checkout, when this machine has it.
public var sharedMNISTMirror: String? {
    let path = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/mnist").path
    return FileManager.default.fileExists(atPath: path + "/train-labels-idx1-ubyte.gz") ? path : nil
}

/// Debian's `dataset-fashion-mnist` folder (installed by `make deps`), when this machine has it.
public var debianFashionMNIST: String? {
    let path = "/usr/share/datasets/fashion-mnist"
    let complete = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        .allSatisfy { FileManager.default.fileExists(atPath: path + "/" + $0) }
    return complete ? path : nil
}

/// What a finished process printed and returned.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

/// Runs `executable` with `arguments` to completion.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:], in folder: String? = nil) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    if let folder { process.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    // Read both pipes concurrently so a chatty process cannot fill one and block.
    nonisolated(unsafe) var errorData = Data()
    let reader = Thread { errorData = error.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while reader.isExecuting || !reader.isFinished { usleep(1000) }
    return ProcessResult(
        status: process.terminationStatus,
        standardOutput: String(decoding: outputData, as: UTF8.self),
        standardError: String(decoding: errorData, as: UTF8.self))
}

/// The process id of a process that has ended (for temporary files "left by a dead process").
public func deadProcessID() throws -> Int32 {
    let finished = Process()
    finished.executableURL = URL(fileURLWithPath: "/bin/true")
    try finished.run()
    finished.waitUntilExit()
    return finished.processIdentifier
}
