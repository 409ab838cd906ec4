import Foundation

/// Replaces a file on disk all at once: the new bytes go to a temporary file in the same folder
/// (`.NAME.partial-PID`), which is synced and then renamed over the old one. A kill at any
/// instant, a full disk or any other failed write leaves the old file whole; a failure removes
/// the temporary file and says which call failed and why (`ENOSPC`, ...).
///
/// A temporary file left by a process killed with SIGKILL is found by the next
/// `removeStaleTemporaries(of:)` (its process is gone); `TemporaryFiles.removeOnSignal()` makes
/// SIGINT, SIGTERM and SIGHUP remove the temporary files being written before the process ends.
public enum DurableWrite {
    /// The temporary name this process writes `path` under.
    public static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())").path
    }

    /// Writes `bytes` to `path`, replacing what is there only once they are all on disk.
    public static func replace(_ path: String, with bytes: [UInt8]) throws(HDF5Error) {
        let temporary = temporaryPath(for: path)
        func failure(_ operation: String, _ number: Int32) -> HDF5Error {
            HDF5Error(file: path, object: "/", kind: .system(operation: operation, errno: number))
        }
        TemporaryFiles.register(temporary)
        defer { TemporaryFiles.unregister(temporary) }
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("creating '\(temporary)'", errno) }
        var written = 0
        var failed: HDF5Error?
        bytes.withUnsafeBytes { buffer in
            while written < buffer.count {
                let count = write(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count < 0 {
                    if errno == EINTR { continue }
                    failed = failure("writing \(buffer.count) bytes to '\(temporary)'", errno)
                    return
                }
                written += count
            }
        }
        if failed == nil, fsync(descriptor) != 0 { failed = failure("fsync of '\(temporary)'", errno) }
        if close(descriptor) != 0, failed == nil { failed = failure("closing '\(temporary)'", errno) }
        if failed == nil, rename(temporary, path) != 0 { failed = failure("renaming '\(temporary)' to '\(path)'", errno) }
        if let failed {
            unlink(temporary)
            throw failed
        }
        // The rename itself reaches the disk with the folder's fsync.
        let folder = open(URL(fileURLWithPath: path).deletingLastPathComponent().path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            close(folder)
        }
    }

    /// Removes the temporary files of `path` (`.NAME.partial-PID…`) whose process no longer
    /// runs, and returns their paths.
    @discardableResult
    public static func removeStaleTemporaries(of path: String) -> [String] {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).partial-"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix(while: \.isNumber)), pid != getpid() else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH {
                let stale = folder.appendingPathComponent(name).path
                if unlink(stale) == 0 { removed.append(stale) }
            }
        }
        return removed
    }
}

/// The temporary files this process is writing, removed by SIGINT, SIGTERM and SIGHUP before the
/// process ends (once `removeOnSignal()` has installed the handler).
public enum TemporaryFiles {
    private static let capacity = 16
    /// C strings the signal handler can read without allocating; nil where a slot is free.
    nonisolated(unsafe) private static let slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        return slots
    }()
    private static let lock = NSLock()

    static func register(_ path: String) {
        lock.withLock {
            for index in 0..<capacity where slots[index] == nil {
                slots[index] = strdup(path)
                return
            }
        }
    }

    static func unregister(_ path: String) {
        lock.withLock {
            for index in 0..<capacity {
                if let slot = slots[index], String(cString: slot) == path {
                    slots[index] = nil
                    free(slot)
                }
            }
        }
    }

    /// Makes SIGINT, SIGTERM and SIGHUP remove the registered temporary files, then end the
    /// process as the signal would have (for stages that have no graceful stop of their own).
    public static func removeOnSignal() {
        _ = slots
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                for index in 0..<TemporaryFiles.capacity {
                    if let path = TemporaryFiles.slots[index] { unlink(path) }
                }
                signal(number, SIG_DFL)
                raise(number)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            sigaction(number, &action, nil)
        }
    }
}
