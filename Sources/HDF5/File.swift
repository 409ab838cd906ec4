import CHDF5

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

    private init(path: String, id: hid_t) {
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
