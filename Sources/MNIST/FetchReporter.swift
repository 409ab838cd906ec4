import Foundation

/// What the fetch stage tells its user while it works.
public protocol FetchReporter: Sendable {
    /// A line of news ("train-labels-idx1-ubyte: SHA-256 verified").
    func note(_ message: String)
    /// Bytes of `name` received so far, and the total when the server announced it.
    func downloadProgress(_ name: String, received: Int, expected: Int?)
    /// The download of `name` is over (successfully or not).
    func downloadEnded(_ name: String)
}

/// Reports on standard error: a single updating line per download on a terminal, a plain line
/// every 10 % (or every 5 MB when the size is unknown) otherwise, so logs stay readable.
public final class StandardErrorReporter: FetchReporter, @unchecked Sendable {
    private let lock = NSLock()
    private let isTerminal: Bool
    private var lastReported: [String: Int] = [:]

    public init(isTerminal: Bool = isatty(STDERR_FILENO) == 1) {
        self.isTerminal = isTerminal
    }

    public func note(_ message: String) {
        write(message + "\n")
    }

    public func downloadProgress(_ name: String, received: Int, expected: Int?) {
        lock.lock()
        defer { lock.unlock() }
        let amount = expected.map { "\(megabytes(received)) of \(megabytes($0)) (\(received * 100 / max($0, 1))%)" } ?? megabytes(received)
        if isTerminal {
            lastReported[name] = 0
            write("\r\u{1B}[K  downloading \(name): \(amount)")
            return
        }
        // Plain lines: one per 10 % step, or per 5 MB when the size is unknown.
        let step = expected.map { received * 10 / max($0, 1) } ?? received / 5_000_000
        if step > lastReported[name, default: -1] {
            lastReported[name] = step
            write("  downloading \(name): \(amount)\n")
        }
    }

    public func downloadEnded(_ name: String) {
        lock.lock()
        defer { lock.unlock() }
        if isTerminal, lastReported[name] != nil { write("\n") }
        lastReported[name] = nil
    }

    private func megabytes(_ bytes: Int) -> String {
        String(format: "%.1f MB", Double(bytes) / 1_000_000)
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}

/// Reports nothing (tests, library callers that log elsewhere).
public struct SilentReporter: FetchReporter {
    public init() {}
    public func note(_ message: String) {}
    public func downloadProgress(_ name: String, received: Int, expected: Int?) {}
    public func downloadEnded(_ name: String) {}
}
