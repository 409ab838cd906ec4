/// Why an experiment definition (a pipeline file) was refused: the file, the line, the key (a
/// dotted path) and the reason. Errors of a run made from it are `RunError`s.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public let file: String
    public let key: String
    public let reason: String
    /// The line in the file, when known.
    public let line: Int?

    public init(file: String, key: String, reason: String, line: Int? = nil) {
        self.file = file
        self.key = key
        self.reason = reason
        self.line = line
    }

    public var description: String {
        let place = line.map { "\(file):\($0)" } ?? file
        return key.isEmpty ? "\(place): \(reason)" : "\(place): '\(key)': \(reason)"
    }
}

