import Foundation
import Yams

/// Why an experiment definition was refused: the file, the key (a dotted path), and the reason.
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

/// Reads one YAML mapping strictly: every key it asks for must be there, with a value of the
/// right type and range, and `finish()` rejects any key nobody asked for.
struct ConfigurationReader {
    let file: String
    let path: String
    let mapping: Node.Mapping
    let line: Int?
    private var used: Set<String> = []

    init(file: String, path: String, node: Node) throws(PipelineError) {
        self.file = file
        self.path = path
        self.line = node.mark.map { $0.line }
        guard case let .mapping(mapping) = node else {
            throw PipelineError(file: file, key: path, reason: "expected a mapping of keys to values", line: node.mark?.line)
        }
        self.mapping = mapping
    }

    /// Parses a whole file's text.
    static func document(file: String, text: String) throws(PipelineError) -> ConfigurationReader {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw PipelineError(file: file, key: "", reason: "not valid YAML: \(error)")
        }
        guard let node else { throw PipelineError(file: file, key: "", reason: "the file is empty") }
        return try ConfigurationReader(file: file, path: "", node: node)
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    func error(_ key: String, _ reason: String, at node: Node? = nil) -> PipelineError {
        PipelineError(file: file, key: keyPath(key), reason: reason, line: node?.mark?.line ?? line)
    }

    var keys: [String] { mapping.keys.compactMap(\.string) }

    func has(_ key: String) -> Bool { mapping[Node(key)] != nil }

    mutating func node(_ key: String) throws(PipelineError) -> Node {
        used.insert(key)
        guard let value = mapping[Node(key)] else { throw error(key, "missing (every key must be given; see pipelines/README.md)") }
        return value
    }

    mutating func string(_ key: String, oneOf choices: [String]? = nil) throws(PipelineError) -> String {
        let value = try node(key)
        guard case .scalar = value, let text = value.string else { throw error(key, "expected a string", at: value) }
        if let choices, !choices.contains(text) {
            throw error(key, "'\(text)' is not one of \(choices.joined(separator: ", "))", at: value)
        }
        return text
    }

    mutating func int(_ key: String, in range: ClosedRange<Int>) throws(PipelineError) -> Int {
        let value = try node(key)
        guard case .scalar = value, let number = value.int else { throw error(key, "expected an integer", at: value) }
        guard range.contains(number) else { throw error(key, "\(number) is outside \(range.lowerBound)...\(range.upperBound)", at: value) }
        return number
    }

    mutating func double(_ key: String, in range: ClosedRange<Double>) throws(PipelineError) -> Double {
        let value = try node(key)
        guard case .scalar = value, let number = value.float ?? value.int.map(Double.init) else { throw error(key, "expected a number", at: value) }
        guard range.contains(number) else { throw error(key, "\(number) is outside \(range.lowerBound)...\(range.upperBound)", at: value) }
        return number
    }

    mutating func intList(_ key: String, each range: ClosedRange<Int>, count: ClosedRange<Int>) throws(PipelineError) -> [Int] {
        let value = try node(key)
        guard case let .sequence(sequence) = value else { throw error(key, "expected a list of integers", at: value) }
        var result: [Int] = []
        for item in sequence {
            guard let number = item.int, range.contains(number) else {
                throw error(key, "every entry must be an integer in \(range.lowerBound)...\(range.upperBound)", at: item)
            }
            result.append(number)
        }
        guard count.contains(result.count) else { throw error(key, "expected \(count.lowerBound)...\(count.upperBound) entries, found \(result.count)", at: value) }
        return result
    }

    mutating func doubleList(_ key: String, count: Int) throws(PipelineError) -> [Double] {
        let value = try node(key)
        guard case let .sequence(sequence) = value else { throw error(key, "expected a list of numbers", at: value) }
        let result = sequence.compactMap { $0.float ?? $0.int.map(Double.init) }
        guard result.count == sequence.count, result.count == count, result.allSatisfy(\.isFinite) else {
            throw error(key, "expected \(count) finite numbers", at: value)
        }
        return result
    }

    mutating func section(_ key: String) throws(PipelineError) -> ConfigurationReader {
        try ConfigurationReader(file: file, path: keyPath(key), node: node(key))
    }

    mutating func sections(_ key: String) throws(PipelineError) -> [ConfigurationReader] {
        let value = try node(key)
        guard case let .sequence(sequence) = value, !sequence.isEmpty else { throw error(key, "expected a non-empty list", at: value) }
        var result: [ConfigurationReader] = []
        for (index, item) in sequence.enumerated() {
            result.append(try ConfigurationReader(file: file, path: "\(keyPath(key))[\(index)]", node: item))
        }
        return result
    }

    /// Rejects the keys that were not read.
    func finish() throws(PipelineError) {
        for (key, value) in mapping {
            guard let name = key.string else { throw PipelineError(file: file, key: path, reason: "keys must be strings", line: key.mark?.line) }
            if !used.contains(name) {
                throw PipelineError(file: file, key: keyPath(name), reason: "unknown key (known here: \(used.sorted().joined(separator: ", ")))", line: value.mark?.line ?? key.mark?.line)
            }
        }
    }
}
