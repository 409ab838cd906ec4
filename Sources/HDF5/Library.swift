import CHDF5
import Foundation

/// The one place where HDF5 is called and its status codes become Swift errors.
///
/// Debian's `libhdf5-dev` is HDF5's serial build, which is not thread-safe. Like HDF5's own
/// thread-safe build, this layer serialises every library call behind one global (recursive)
/// lock, so files may be used from several threads (Swift Testing runs suites in parallel).
enum Library {
    private static let lock = NSRecursiveLock()

    /// Runs `body`, which calls into HDF5, while holding the library lock.
    static func locked<Result>(_ body: () throws(HDF5Error) -> Result) throws(HDF5Error) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    /// Runs `body`, which calls into HDF5 and cannot fail, while holding the library lock.
    static func locked<Result>(_ body: () -> Result) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Opens the library once and turns off its automatic error printing, so that failures reach
    /// the caller as `HDF5Error`s carrying the error stack instead of text on stderr.
    ///
    /// HDF5's exit handler is turned off too: it closes again every file whose close failed (a
    /// full disk while flushing), and HDF5 1.10.8 crashes doing so (`H5F__close_cb`, seen as a
    /// segmentation fault at exit after ENOSPC). Every handle of this layer is closed by its
    /// owner, so nothing is left for the handler to do.
    static let initialized: Bool = {
        locked {
            _ = H5dont_atexit()
            _ = H5open()
            return l2l_silence_errors() >= 0
        }
    }()

    /// Makes the HDF5 call `status` under the lock and throws, with the library's error stack,
    /// when it returns a negative value (HDF5's failure convention for `herr_t` and `hid_t`).
    @discardableResult
    static func check<Status: BinaryInteger>(
        _ status: @autoclosure () -> Status, _ operation: String, file: String, object: String
    ) throws(HDF5Error) -> Status {
        lock.lock()
        defer { lock.unlock() }
        let result = status()
        if result < 0 {
            throw HDF5Error(file: file, object: object, kind: .library(operation: operation, stack: drainErrorStack()))
        }
        return result
    }

    /// Reads and clears the current thread's HDF5 error stack, outermost call first.
    static func drainErrorStack() -> [String] {
        final class Messages { var lines: [String] = [] }
        let messages = Messages()
        let walker: H5E_walk2_t = { _, descriptor, clientData in
            guard let descriptor, let clientData else { return 0 }
            let messages = Unmanaged<Messages>.fromOpaque(clientData).takeUnretainedValue()
            let function = descriptor.pointee.func_name.map { String(cString: $0) } ?? "?"
            let detail = descriptor.pointee.desc.map { String(cString: $0) } ?? ""
            var minor = [CChar](repeating: 0, count: 256)
            let minorLength = H5Eget_msg(descriptor.pointee.min_num, nil, &minor, minor.count)
            let minorText = minorLength > 0 ? String(decoding: minor.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : ""
            var line = "\(function): \(detail)"
            if !minorText.isEmpty, minorText != detail { line += " (\(minorText))" }
            messages.lines.append(line)
            return 0
        }
        let box = Unmanaged.passUnretained(messages).toOpaque()
        locked {
            _ = H5Ewalk2(l2l_H5E_DEFAULT(), H5E_WALK_DOWNWARD, walker, box)
            _ = H5Eclear2(l2l_H5E_DEFAULT())
        }
        return withExtendedLifetime(messages) { messages.lines }
    }
}

/// An open HDF5 identifier, closed exactly once when its owner is released.
final class Handle {
    let id: hid_t
    private let closeFunction: (hid_t) -> herr_t
    private var isOpen = true

    init(_ id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.id = id
        self.closeFunction = close
    }

    /// Closes the identifier now; later calls (and `deinit`) do nothing.
    func close() -> herr_t {
        guard isOpen else { return 0 }
        isOpen = false
        return Library.locked { closeFunction(id) }
    }

    deinit { _ = close() }
}

/// Joins an object path and a child name the way HDF5 prints paths.
func joinPath(_ parent: String, _ child: String) -> String {
    if child.isEmpty { return parent }
    if child.hasPrefix("/") { return child }
    return parent.hasSuffix("/") ? parent + child : parent + "/" + child
}
