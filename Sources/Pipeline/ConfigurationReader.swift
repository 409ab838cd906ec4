import Foundation
import Yams

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
        } catch let error as YamlError {
            throw Self.describe(error, file: file, text: text)
        } catch {
            throw PipelineError(file: file, key: "", reason: "not valid YAML: \(error)")
        }
        guard let node else { throw PipelineError(file: file, key: "", reason: "the file is empty") }
        try rejectMergeKeys(node, file: file)
        return try ConfigurationReader(file: file, path: "", node: node)
    }

    /// A YAML error as the line it happened on, not the whole file Yams quotes.
    private static func describe(_ error: YamlError, file: String, text: String) -> PipelineError {
        func line(_ number: Int) -> String {
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            return number >= 1 && number <= lines.count ? ": " + lines[number - 1].trimmingCharacters(in: .whitespaces).prefix(120) : ""
        }
        switch error {
        case let .duplicatedKeysInMapping(duplicates, context):
            return PipelineError(file: file, key: "", reason: "duplicate key \(duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")) in the mapping starting at line \(context.mark.line)\(line(context.mark.line))", line: context.mark.line)
        case let .scanner(_, problem, mark, _), let .parser(_, problem, mark, _), let .composer(_, problem, mark, _):
            return PipelineError(file: file, key: "", reason: "not valid YAML: \(problem) (column \(mark.column))\(line(mark.line))", line: mark.line)
        case let .reader(problem, _, _, _):
            return PipelineError(file: file, key: "", reason: "not readable as YAML text: \(problem)")
        default:
            return PipelineError(file: file, key: "", reason: "not valid YAML: \(String(describing: error).prefix(200))")
        }
    }

    /// YAML merge keys (`<<: *anchor`) would be read as a key named "<<": say so instead of
    /// reporting the merged keys as missing.
    private static func rejectMergeKeys(_ node: Node, file: String) throws(PipelineError) {
        switch node {
        case let .mapping(mapping):
            for (key, value) in mapping {
                if key.string == "<<" {
                    throw PipelineError(file: file, key: "", reason: "YAML merge keys ('<<:') are not supported; write the keys out", line: key.mark?.line)
                }
                try rejectMergeKeys(value, file: file)
            }
        case let .sequence(sequence):
            for item in sequence { try rejectMergeKeys(item, file: file) }
        default:
            break
        }
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
