import Foundation

/// A fresh folder under the system's temporary directory, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("l2l-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// A tmpfs of a few megabytes mounted on a fresh folder, to fill the disk for real; unmounted
/// when released. Mounting needs root (CI and the development machines run as root).
public final class SmallDisk: @unchecked Sendable {
    public let url: URL

    /// Whether this process may mount a tmpfs (it is root and `mount` exists).
    public static var available: Bool { getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount") }

    public init(megabytes: Double) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("l2l-small-disk-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let result = try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=\(Int(megabytes * 1024))k", "tmpfs", url.path])
        guard result.status == 0 else {
            try? FileManager.default.removeItem(at: url)
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSLocalizedDescriptionKey: "mount tmpfs: \(result.standardError)"])
        }
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Fills the disk with a file of zeros until writing fails; returns its path.
    @discardableResult
    public func fill(name: String = "filler") -> String {
        let path = self.path(name)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        defer { close(descriptor) }
        let block = [UInt8](repeating: 0, count: 4096)
        while block.withUnsafeBytes({ write(descriptor, $0.baseAddress, 4096) }) > 0 {}
        _ = block.withUnsafeBytes { write(descriptor, $0.baseAddress, 1) }
        return path
    }

    /// Takes `bytes` of the disk with a file of zeros; returns its path.
    @discardableResult
    public func take(bytes: Int, name: String = "taken") throws -> String {
        let path = self.path(name)
        try Data(count: bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Frees what `fill` took.
    public func free(_ filler: String) { unlink(filler) }

    deinit {
        _ = try? runProcess("/bin/umount", ["-l", url.path])
        try? FileManager.default.removeItem(at: url)
    }
}
