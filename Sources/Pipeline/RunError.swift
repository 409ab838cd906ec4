/// Why a stage cannot use, continue or write a run: the file, the object inside it (an HDF5 path,
/// `@` for an attribute) and the cause. Errors of the pipeline file itself are `PipelineError`s;
/// failures of the HDF5 layer (a write that found the disk full, ...) arrive as `HDF5Error`s.
public struct RunError: Error, CustomStringConvertible, Sendable {
    /// The kinds of failure a caller acts on; each has its own exit status.
    public enum Reason: Sendable, Equatable {
        /// The run was made with other meta-training settings than the pipeline now holds:
        /// it cannot be continued with them (`--set-aside` keeps it and starts anew).
        case settingsChanged
        /// An earlier l2l-train wrote the run in a layout this one cannot continue.
        case olderFormat
        /// Another process holds the run.
        case busy
        /// Anything else.
        case other
    }

    public let file: String
    /// The object in the file, or "" for the file (or folder) itself.
    public let object: String
    public let message: String
    public let reason: Reason

    public init(file: String, object: String = "", _ message: String, reason: Reason = .other) {
        self.file = file
        self.object = object
        self.message = message
        self.reason = reason
    }

    /// The stages' exit status for this error (see the README's table).
    public var exitStatus: Int32 {
        switch reason {
        case .settingsChanged, .olderFormat: return 3
        case .busy: return 4
        case .other: return 1
        }
    }

    public var description: String {
        object.isEmpty ? "\(file): \(message)" : "\(file), \(object): \(message)"
    }
}
