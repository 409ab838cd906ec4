import Foundation
import Yams

/// One meta-training of a sweep: a grid combination and a seed, with its own run folder
/// (`runs/<name>/<id>/`) and a fully resolved pipeline (the sweep section replaced by its values),
/// so that its `train.h5` stands alone.
public struct SweepMember: Sendable {
    /// Its place in the sweep's fixed order (see `Sweep`).
    public let index: Int
    /// Its values, readable and stable: `meta_learning_rate=0.003,seed=2`.
    public let id: String
    /// (dotted key, value as written) for every grid key, then `seed`.
    public let overrides: [Override]
    /// The member's pipeline: the file with its `sweep` section replaced by these values.
    public let configuration: PipelineConfiguration

    public struct Override: Sendable, Equatable {
        public let key: String
        public let value: String
    }

    /// The member's run folder below `runs` (the sweep's folder is `runs/<name>`).
    public func folder(runs: String = "runs") -> String { "\(runs)/\(configuration.name)/\(id)" }
}

/// A sweep: the optional `sweep` section of a pipeline file, which makes the file a set of
/// members, every combination of the `grid` crossed with the `seeds`:
///
/// ```yaml
/// sweep:
///   seeds: [1, 2, 3]                   # one member per seed; replaces the top-level seed
///   grid:                              # optional; every combination, crossed with the seeds
///     training.meta_learning_rate: [0.001, 0.003]
/// ```
///
/// Members come in a fixed order: the grid's keys in the file's order, the first varying
/// slowest, and the seeds innermost (so a sweep of seeds alone lists them in their order).
/// Every member is validated as a pipeline of its own before anything runs.
public struct Sweep: Sendable {
    public let path: String
    public let name: String
    public let members: [SweepMember]
    /// The pipeline file that trains the members (`PipelineConfiguration.trainingPipeline`).
    public var trainingPipeline: String { members.first?.configuration.trainingPipeline ?? path }
    /// The seed of the sweep's evaluation, the same draws for every member and baseline: the
    /// file's top-level `seed`, or the first of `sweep.seeds` when it has none.
    public let evaluationSeed: UInt64

    /// The grid keys the evaluation stage owns, or that a sweep sets otherwise.
    static let refusedKeys = ["name", "seed", "sweep"]

    /// The sweep of the pipeline file at `path`, or nil when it has no `sweep` section.
    public static func load(contentsOf path: String) throws(PipelineError) -> Sweep? {
        try Sweep(text: PipelineConfiguration.readText(path), path: path)
    }

    /// Parses `text` (the file at `path`); nil when it has no `sweep` section.
    public init?(text: String, path: String) throws(PipelineError) {
        let reader = try ConfigurationReader.document(file: path, text: text)
        guard let sweepNode = reader.mapping[Node("sweep")] else { return nil }
        var section = try ConfigurationReader(file: path, path: "sweep", node: sweepNode)
        let seedsNode = try section.node("seeds")
        let seeds = try section.intList("seeds", each: 0...Int(Int32.max), count: 1...10_000)
        if let repeated = Self.firstRepeated(seeds.map(String.init)) {
            throw section.error("seeds", "the seed \(repeated) is listed twice", at: seedsNode)
        }
        var grid: [(key: String, values: [Node], line: Int?)] = []
        if section.has("grid") {
            let gridNode = try section.node("grid")
            guard case let .mapping(mapping) = gridNode, !mapping.isEmpty else {
                throw section.error("grid", "expected a mapping of dotted keys to lists of values, for example training.meta_learning_rate: [0.001, 0.003]", at: gridNode)
            }
            for (keyNode, valuesNode) in mapping {
                guard let key = keyNode.string else { throw section.error("grid", "keys must be strings", at: keyNode) }
                let line = keyNode.mark?.line
                func refuse(_ reason: String) -> PipelineError { PipelineError(file: path, key: "sweep.grid.\(key)", reason: reason, line: line) }
                let root = key.split(separator: ".").first.map(String.init) ?? key
                if root == "evaluation" { throw refuse("the evaluation stage owns this key: a sweep varies meta-training only (every member is evaluated alike)") }
                if Self.refusedKeys.contains(root) { throw refuse(root == "seed" ? "list the seeds in sweep.seeds" : "a sweep cannot vary '\(root)'") }
                guard Self.lookUp(key, in: reader.mapping) != nil else { throw refuse("no such key in this file (grid keys are dotted paths to existing keys, for example training.meta_learning_rate)") }
                if grid.contains(where: { $0.key == key }) { throw refuse("the key is listed twice") }
                guard case let .sequence(values) = valuesNode, !values.isEmpty else { throw refuse("expected a non-empty list of values") }
                if let repeated = Self.firstRepeated(values.map(Self.text)) { throw refuse("the value \(repeated) is listed twice") }
                grid.append((key, Array(values), line))
            }
        }
        try section.finish()

        // Short ids where the keys' last components differ, dotted paths where they collide.
        let shortNames = grid.map { String($0.key.split(separator: ".").last ?? "") }
        let names = grid.indices.map { i in shortNames.filter { $0 == shortNames[i] }.count > 1 ? grid[i].key : shortNames[i] }
        var combinations: [[Int]] = [[]]
        for entry in grid { combinations = combinations.flatMap { prefix in entry.values.indices.map { prefix + [$0] } } }

        var base = reader.mapping
        base[Node("sweep")] = nil
        var members: [SweepMember] = []
        for combination in combinations {
            for seed in seeds {
                var mapping = base
                var overrides: [SweepMember.Override] = []
                for (position, choice) in combination.enumerated() {
                    let value = grid[position].values[choice]
                    Self.set(grid[position].key, to: value, in: &mapping)
                    overrides.append(.init(key: grid[position].key, value: Self.text(value)))
                }
                mapping[Node("seed")] = Node(integerLiteral: seed)
                overrides.append(.init(key: "seed", value: String(seed)))
                let id = zip(names + ["seed"], overrides).map { "\($0)=\(Self.folderSafe($1.value))" }.joined(separator: ",")
                let resolved: String
                do {
                    resolved = "# member \(id) of the sweep \(path)\n" + (try Yams.serialize(node: .mapping(mapping), sortKeys: false))
                } catch {
                    throw PipelineError(file: path, key: "sweep", reason: "member \(id) cannot be written as YAML: \(error)")
                }
                let configuration: PipelineConfiguration
                do {
                    configuration = try PipelineConfiguration(text: resolved, path: path)
                } catch {
                    // Name the grid key and its line in this file, not the resolved text's.
                    let entry = grid.first { error.key == $0.key || error.key.hasPrefix($0.key + ".") }
                    throw PipelineError(file: path, key: entry.map { "sweep.grid.\($0.key)" } ?? error.key,
                                        reason: "member \(id): \(error.reason)", line: entry?.line ?? error.line)
                }
                members.append(SweepMember(index: members.count, id: id, overrides: overrides, configuration: configuration))
            }
        }
        // The evaluation runs the baselines once for all members, so every member must be
        // evaluated on the same problems; a grid over optimizee.init or optimizee.dataset would
        // change them through the problems that inherit it.
        if let first = members.first, let other = members.first(where: { $0.configuration.evaluationProblems != first.configuration.evaluationProblems }) {
            let entry = grid.first { $0.key.hasPrefix("optimizee") } ?? grid.first
            throw PipelineError(file: path, key: entry.map { "sweep.grid.\($0.key)" } ?? "sweep.grid",
                                reason: "members \(first.id) and \(other.id) would be evaluated on different problems (evaluation problems without an init or a dataset inherit the optimizee's), but a sweep's members share one evaluation and its baselines: give every evaluation problem its own init and dataset, or make one sweep file per value",
                                line: entry?.line)
        }
        self.path = path
        self.evaluationSeed = reader.mapping[Node("seed")]?.int.map { UInt64(max($0, 0)) } ?? UInt64(seeds[0])
        self.name = members.first?.configuration.name ?? ""
        self.members = members
    }

    /// A member's grid point: its id without the seed ("all-seeds" for a sweep of seeds only).
    public static func gridPoint(of member: SweepMember) -> String {
        let point = member.id.split(separator: ",").filter { !$0.hasPrefix("seed=") }.joined(separator: ",")
        return point.isEmpty ? "all-seeds" : point
    }

    /// The member named by its index or its id.
    public func member(_ indexOrID: String) throws(PipelineError) -> SweepMember {
        if let index = Int(indexOrID), members.indices.contains(index) { return members[index] }
        if let member = members.first(where: { $0.id == indexOrID }) { return member }
        throw PipelineError(file: path, key: "sweep", reason: "no member '\(indexOrID)'; the members are 0...\(members.count - 1): \(members.map(\.id).joined(separator: "; ")) (l2l-sweep \(path) lists them)")
    }

    // MARK: Implementation

    static func lookUp(_ dottedKey: String, in mapping: Node.Mapping) -> Node? {
        var current: Node? = .mapping(mapping)
        for component in dottedKey.split(separator: ".") {
            guard case let .mapping(level)? = current else { return nil }
            current = level[Node(String(component))]
        }
        return current
    }

    static func set(_ dottedKey: String, to value: Node, in mapping: inout Node.Mapping) {
        let components = dottedKey.split(separator: ".").map(String.init)
        guard let first = components.first else { return }
        if components.count == 1 {
            mapping[Node(first)] = value
            return
        }
        guard case var .mapping(child)? = mapping[Node(first)] else { return }
        set(components.dropFirst().joined(separator: "."), to: value, in: &child)
        mapping[Node(first)] = .mapping(child)
    }

    /// A value on one line, in YAML's flow style: `0.01`, `[20, 20]`, `{kind: gaussian, weights: 0.001}`.
    static func text(_ node: Node) -> String {
        switch node {
        case let .mapping(mapping):
            return "{" + mapping.map { "\(text($0.key)): \(text($0.value))" }.joined(separator: ", ") + "}"
        case let .sequence(sequence):
            return "[" + sequence.map(text).joined(separator: ", ") + "]"
        default:
            return node.string ?? "?"
        }
    }

    /// A value as it may stand in a member id, a folder name and a make target: no slashes,
    /// spaces or brackets, and no ',' (it separates an id's keys) or ':' (make's separator):
    /// `[20, 20]` becomes `20_20`, `{kind: fan_in_uniform}` `kind-fan_in_uniform`.
    static func folderSafe(_ value: String) -> String {
        var safe = value.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: ", ", with: "_")
            .replacingOccurrences(of: ",", with: "_").replacingOccurrences(of: ": ", with: "-").replacingOccurrences(of: ":", with: "-")
        safe.removeAll { " {}[]\n\t".contains($0) }
        return safe
    }

    static func firstRepeated(_ values: [String]) -> String? {
        var seen: Set<String> = []
        for value in values where !seen.insert(value).inserted { return value }
        return nil
    }
}

/// What a pipeline file defines: one run, or a sweep of members. The stages read it once and ask
/// it for the runs a command line names.
public enum PipelineFile: Sendable {
    case single(PipelineConfiguration)
    case sweep(Sweep)

    /// The pipeline the file evaluates, when it is an evaluation file (`evaluates:`), else nil.
    public var evaluatedPipeline: String? {
        switch self {
        case let .single(configuration): return configuration.evaluatedPipeline
        case let .sweep(sweep): return sweep.members.first?.configuration.evaluatedPipeline
        }
    }

    /// Reads and validates the file at `path` (every member of a sweep). An evaluation file
    /// (`evaluates: <pipeline>`) is that pipeline with its evaluation section replaced.
    public init(contentsOf path: String) throws(PipelineError) {
        var text = try PipelineConfiguration.readText(path)
        if let merged = try EvaluationFile.merged(text: text, path: path) { text = merged }
        if let sweep = try Sweep(text: text, path: path) {
            self = .sweep(sweep)
        } else {
            self = .single(try PipelineConfiguration(text: text, path: path))
        }
    }

    /// A `--member` that a file without a sweep does not have (its only member is 0).
    public struct NoSuchMember: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The runs `member` names (every one when nil), each with its run folder: `out` (default
    /// `runs/<name>`) for one run, `<out>/<member id>` for a sweep's members.
    public func runs(member: String?, out: String?) throws -> [(configuration: PipelineConfiguration, folder: String)] {
        switch self {
        case let .single(configuration):
            if let member, member != "0", member != configuration.name {
                throw NoSuchMember(description: "\(configuration.path) has no sweep section: its only member is 0 (\(configuration.name)), not '\(member)'")
            }
            return [(configuration, out ?? "runs/\(configuration.name)")]
        case let .sweep(sweep):
            let folder = out ?? "runs/\(sweep.name)"
            let members = try member.map { [try sweep.member($0)] } ?? sweep.members
            return members.map { ($0.configuration, "\(folder)/\($0.id)") }
        }
    }
}
