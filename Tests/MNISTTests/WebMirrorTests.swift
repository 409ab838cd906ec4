import Foundation
import Testing
import TestSupport
@testable import MNIST

/// A local web server (Python's http.server) serving a folder, on a port the system picks.
final class LocalWebServer {
    let process = Process()
    let port: Int

    init(serving folder: String) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", folder]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // "Serving HTTP on 127.0.0.1 port 43127 (http://127.0.0.1:43127/) ..."
        var text = ""
        while !text.contains("\n"), process.isRunning {
            text += String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        }
        guard let range = text.range(of: #"port (\d+)"#, options: .regularExpression),
              let port = Int(text[range].dropFirst(5)) else {
            kill(process.processIdentifier, SIGKILL)
            throw CocoaError(.fileReadUnknown, userInfo: [NSLocalizedDescriptionKey: "http.server did not start: \(text)"])
        }
        self.port = port
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite("the fetch stage over HTTP", .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3"), "needs python3"))
struct WebMirrorTests {
    @Test("downloads from a web mirror after one that answers 404, with progress reported")
    func download() throws {
        let folder = try TemporaryDirectory()
        let fixture = Fixture()
        try fixture.writeMirror(in: folder, name: "www/mnist")
        let server = try LocalWebServer(serving: folder.path("www"))
        let base = "http://127.0.0.1:\(server.port)/"
        let reporter = RecordingReporter()
        let fetch = MNISTFetch(
            mirrors: [Mirror(parsing: base + "missing/"), Mirror(parsing: base + "mnist")],
            output: folder.path("out/mnist.h5"), timeout: 10, expectedChecksums: fixture.checksums, toolVersion: "test")
        #expect(try fetch.run(reporter: reporter) == .written)
        let notes = reporter.notes.joined(separator: "\n")
        #expect(notes.contains(base + "missing/train-images-idx3-ubyte.gz: HTTP status 404"))
        #expect(reporter.lastProgress["train-images-idx3-ubyte.gz"] != nil)
        try MNISTStore.verify(folder.path("out/mnist.h5"), expectedChecksums: fixture.checksums)
    }
}

/// Keeps what the fetch stage reports, for assertions.
final class RecordingReporter: FetchReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var _notes: [String] = []
    private var _progress: [String: Int] = [:]
    var notes: [String] { lock.withLock { _notes } }
    var lastProgress: [String: Int] { lock.withLock { _progress } }
    func note(_ message: String) { lock.withLock { _notes.append(message) } }
    func downloadProgress(_ name: String, received: Int, expected: Int?) { lock.withLock { _progress[name] = received } }
    func downloadEnded(_ name: String) {}
}
