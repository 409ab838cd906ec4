// l2l-sweep: lists the members of a sweep, one line each, for make, scripts and job arrays.
//
//     $ l2l-sweep pipelines/mnist.yaml
//     0	seed=1	runs/mnist/seed=1	seed=1
//     1	seed=2	runs/mnist/seed=2	seed=2
import ArgumentParser
import Foundation
import Pipeline

@main
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-sweep",
        abstract: "List the members of a sweep: index, id, run folder and overrides.",
        discussion: """
            A pipeline's sweep section (seeds, and optionally a grid of dotted keys with lists of \
            values) makes it a set of members: every grid combination crossed with every seed, the \
            grid's keys in the file's order (the first varying slowest) and the seeds innermost. \
            Each member is validated as a pipeline of its own before anything is printed. Prints \
            exactly one line per member, tab-separated: its index, its id, its run folder and its \
            overrides (key=value, space-separated); --json prints the same as a JSON array. A file \
            without a sweep section is one run, listed as member 0 with no overrides.

            Examples:
              l2l-sweep pipelines/mnist.yaml
              l2l-sweep pipelines/mnist.yaml --json
              l2l-train pipelines/mnist.yaml --member "$(l2l-sweep pipelines/mnist.yaml | sed -n 2p | cut -f1)"
            """,
        version: "0.1.0"
    )

    @Argument(help: ArgumentHelp("The experiment definition (YAML).", valueName: "pipeline"))
    var pipeline: String

    @Option(help: ArgumentHelp("The folder the run folders are in.", valueName: "folder"))
    var runs = "runs"

    @Flag(help: "Print a JSON array of {index, id, folder, overrides} instead of lines.")
    var json = false

    /// One member as printed: its overrides in the member's order on a line, as an object in JSON.
    struct Listed: Encodable {
        let index: Int
        let id: String
        let folder: String
        let overrides: [SweepMember.Override]

        enum CodingKeys: String, CodingKey { case index, id, folder, overrides }

        func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(index, forKey: .index)
            try container.encode(id, forKey: .id)
            try container.encode(folder, forKey: .folder)
            try container.encode(Dictionary(uniqueKeysWithValues: overrides.map { ($0.key, $0.value) }), forKey: .overrides)
        }
    }

    func run() throws {
        let listed: [Listed]
        switch try PipelineFile(contentsOf: pipeline) {
        case let .sweep(sweep):
            listed = sweep.members.map { member in
                Listed(index: member.index, id: member.id, folder: member.folder(runs: runs),
                       overrides: member.overrides)
            }
        case let .single(configuration):
            listed = [Listed(index: 0, id: configuration.name, folder: "\(runs)/\(configuration.name)", overrides: [])]
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(listed), as: UTF8.self))
            return
        }
        for entry in listed {
            print("\(entry.index)\t\(entry.id)\t\(entry.folder)\t\(entry.overrides.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
        }
    }
}
