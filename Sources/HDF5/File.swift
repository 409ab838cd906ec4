import CHDF5
import Foundation
import Synchronization

/// Numbers the in-memory files of this process.
private let imageCounter = Counter()

private final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    func add(_ amount: Int) -> Int { value.add(amount, ordering: .relaxed).newValue }
}

/// An open HDF5 file.
///
/// The file is closed when the last reference to it (and to every group and dataset opened from
/// it) is released, or explicitly with `close()`. Its root group's operations (`createGroup`,
/// `createDataset`, attributes, ...) are available on the file itself.
public final class File: Container {
    /// How an existing file is opened.
    public enum AccessMode: Sendable {
        case readOnly
        case readWrite
    }

    /// What `create` does when a file already exists at the path.
    public enum CreationMode: Sendable {
        /// Replace it.
        case truncate
        /// Fail instead of replacing it.
        case exclusive
    }

    /// Whether the file lives in memory (HDF5's core driver) and reaches the disk only through
    /// `save()`.
    public let isInMemory: Bool

    private init(path: String, id: hid_t, inMemory: Bool = false) {
        self.isInMemory = inMemory
        super.init(filePath: path, objectPath: "/", handle: Handle(id, close: H5Fclose))
    }

    /// Creates a new file at `path`.
    public static func create(_ path: String, mode: CreationMode = .truncate) throws(HDF5Error) -> File {
        _ = Library.initialized
        let flags = mode == .truncate ? l2l_H5F_ACC_TRUNC() : l2l_H5F_ACC_EXCL()
        let id = try Library.check(H5Fcreate(path, flags, l2l_H5P_DEFAULT(), l2l_H5P_DEFAULT()), "H5Fcreate", file: path, object: "/")
        return File(path: path, id: id)
    }

    /// Opens an existing file.
    public static func open(_ path: String, mode: AccessMode = .readOnly) throws(HDF5Error) -> File {
        _ = Library.initialized
        let flags = mode == .readOnly ? l2l_H5F_ACC_RDONLY() : l2l_H5F_ACC_RDWR()
        let id = try Library.check(H5Fopen(path, flags, l2l_H5P_DEFAULT()), "H5Fopen", file: path, object: "/")
        return File(path: path, id: id)
    }

    /// Creates a file that lives in memory until `save()` writes it, whole, to `path`. Nothing
    /// is written to disk before that: an existing file at `path` stays as it is until a save
    /// replaces it.
    public static func createInMemory(_ path: String) throws(HDF5Error) -> File {
        _ = Library.initialized
        let access = try inMemoryAccessList(path)
        let id = try Library.check(H5Fcreate(imageName(path), l2l_H5F_ACC_TRUNC(), l2l_H5P_DEFAULT(), access.id), "H5Fcreate", file: path, object: "/")
        return File(path: path, id: id, inMemory: true)
    }

    /// Reads the file at `path` into memory, writable there; changes reach the disk only through
    /// `save()`, so a failure in the middle of an update leaves the file on disk as it was. The
    /// file on disk is read once and not held open (a save replaces it with a new one).
    public static func openInMemory(_ path: String) throws(HDF5Error) -> File {
        _ = Library.initialized
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            let number = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code ?? Int(EIO)
            throw HDF5Error(file: path, object: "/", kind: .system(operation: "reading it", errno: Int32(number)))
        }
        let access = try inMemoryAccessList(path)
        let set = bytes.withUnsafeBytes { buffer in Library.locked { H5Pset_file_image(access.id, UnsafeMutableRawPointer(mutating: buffer.baseAddress), buffer.count) } }
        try Library.check(set, "H5Pset_file_image", file: path, object: "/")
        let id = try Library.check(H5Fopen(imageName(path), l2l_H5F_ACC_RDWR(), access.id), "H5Fopen", file: path, object: "/")
        return File(path: path, id: id, inMemory: true)
    }

    /// The name HDF5 knows an in-memory file by: one that exists nowhere, so that the core driver
    /// never opens (or keeps open) the file on disk, and two in-memory copies of one path do not
    /// share HDF5's file structure.
    private static func imageName(_ path: String) -> String {
        "\(path).in-memory-\(getpid())-\(imageCounter.add(1))"
    }

    /// Writes an in-memory file to its path: the image goes to a temporary file beside it, is
    /// synced to disk and renamed over the path (see `DurableWrite`). A failure, `ENOSPC`
    /// included, throws `HDF5Error.Kind.system` and leaves the file on disk as it was; HDF5
    /// itself never sees a failed write, so the file in memory stays usable.
    public func save() throws(HDF5Error) {
        guard isInMemory else { throw HDF5Error(file: filePath, object: "/", kind: .invalidArgument("save() needs a file opened with createInMemory or openInMemory")) }
        try Library.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush", file: filePath, object: "/")
        let size = try Library.check(H5Fget_file_image(id, nil, 0), "H5Fget_file_image", file: filePath, object: "/")
        var image = [UInt8](repeating: 0, count: Int(size))
        let copied = image.withUnsafeMutableBytes { buffer in Library.locked { H5Fget_file_image(id, buffer.baseAddress, buffer.count) } }
        try Library.check(copied, "H5Fget_file_image", file: filePath, object: "/")
        try DurableWrite.replace(filePath, with: image)
    }

    /// A file-access property list for HDF5's core driver without a backing store, and without
    /// HDF5's own file locking (the stages lock their run folder instead).
    private static func inMemoryAccessList(_ path: String) throws(HDF5Error) -> Handle {
        let list = Handle(try Library.check(H5Pcreate(l2l_H5P_FILE_ACCESS()), "H5Pcreate", file: path, object: "/"), close: H5Pclose)
        try Library.check(H5Pset_fapl_core(list.id, 1 << 20, false), "H5Pset_fapl_core", file: path, object: "/")
        try Library.check(H5Pset_file_locking(list.id, false, true), "H5Pset_file_locking", file: path, object: "/")
        return list
    }

    /// Whether `path` is a readable HDF5 file (without raising HDF5 errors).
    public static func isHDF5(_ path: String) -> Bool {
        _ = Library.initialized
        return Library.locked {
            let status = H5Fis_hdf5(path)
            _ = Library.drainErrorStack()
            return status > 0
        }
    }

    /// Writes everything buffered for this file to the operating system (`H5Fflush`, global
    /// scope). A flush is not an fsync: it survives the process being killed, not a power loss.
    public func flush() throws(HDF5Error) {
        try Library.check(H5Fflush(id, H5F_SCOPE_GLOBAL), "H5Fflush", file: filePath, object: "/")
    }

    /// Closes the file identifier now. HDF5 keeps the file itself open until the groups and
    /// datasets opened from it are released too.
    public func close() throws(HDF5Error) {
        try Library.check(handle.close(), "H5Fclose", file: filePath, object: "/")
    }
}

/// Opens `path`, runs `body` with it and closes it, whether `body` returns or throws.
public func withFile<Result>(
    _ path: String, mode: File.AccessMode = .readOnly, _ body: (File) throws -> Result
) throws -> Result {
    let file = try File.open(path, mode: mode)
    defer { _ = file.handle.close() }
    return try body(file)
}
