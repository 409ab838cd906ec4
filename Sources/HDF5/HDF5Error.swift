import CHDF5
import Glibc

/// Every failure of the HDF5 layer: what went wrong, in which file, at which object.
///
/// Failures inside the HDF5 library carry the library's own error stack (read with `H5Ewalk2`
/// instead of being printed to stderr), innermost cause last.
public struct HDF5Error: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// A call into the HDF5 library failed; `stack` is its error stack, outermost first.
        case library(operation: String, stack: [String])
        /// A read or write whose element type differs from the dataset's or attribute's.
        case typeMismatch(expected: String, found: String)
        /// A read that asked for a rank the dataset does not have.
        case rankMismatch(expected: Int, found: Int)
        /// A buffer whose element count does not fit the dataset's shape.
        case countMismatch(expected: Int, found: Int)
        /// No object (or attribute) of that name exists.
        case notFound
        /// The object exists but is not of the kind asked for (a group where a dataset was expected).
        case wrongKind(expected: String, found: String)
        /// A call with arguments that cannot describe a valid HDF5 object.
        case invalidArgument(String)
        /// A system call failed while the file was written to disk (`ENOSPC` for a full disk).
        case system(operation: String, errno: Int32)
    }

    /// The file's path as it was opened or created.
    public let file: String
    /// The path of the object inside the file (`/train/images`), with `@name` for attributes.
    public let object: String
    public let kind: Kind

    public init(file: String, object: String, kind: Kind) {
        self.file = file
        self.object = object
        self.kind = kind
    }

    public var description: String {
        let location = "'\(file)', object '\(object)'"
        switch kind {
        case let .library(operation, stack):
            let cause = stack.isEmpty ? "" : ": " + stack.joined(separator: "; ")
            return "HDF5 error in \(location): \(operation) failed\(cause)"
        case let .typeMismatch(expected, found):
            return "HDF5 type mismatch in \(location): expected elements of type \(expected), the file holds \(found)"
        case let .rankMismatch(expected, found):
            return "HDF5 rank mismatch in \(location): expected rank \(expected), the file holds rank \(found)"
        case let .countMismatch(expected, found):
            return "HDF5 size mismatch in \(location): expected \(expected) elements, got \(found)"
        case .notFound:
            return "HDF5 error in \(location): no such object"
        case let .wrongKind(expected, found):
            return "HDF5 error in \(location): expected a \(expected), found a \(found)"
        case let .invalidArgument(reason):
            return "HDF5 error in \(location): \(reason)"
        case let .system(operation, number):
            return "cannot write '\(file)': \(operation) failed: \(systemErrorDescription(number))"
        }
    }
}

/// `strerror` with the symbolic name, as in "No space left on device (ENOSPC)".
public func systemErrorDescription(_ number: Int32) -> String {
    let names: [Int32: String] = [
        ENOSPC: "ENOSPC", EDQUOT: "EDQUOT", EFBIG: "EFBIG", EIO: "EIO", EROFS: "EROFS", EACCES: "EACCES",
        EPERM: "EPERM", ENOENT: "ENOENT", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EEXIST: "EEXIST", EXDEV: "EXDEV",
        ENAMETOOLONG: "ENAMETOOLONG", EMFILE: "EMFILE",
    ]
    let text = String(cString: strerror(number))
    return names[number].map { "\(text) (\($0))" } ?? "\(text) (errno \(number))"
}
