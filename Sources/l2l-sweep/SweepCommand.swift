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

    struct Listed: Encodable {
        let index: Int
        let id: String
        let folder: String
        let overrides: [String: String]
    }

    func run() throws {
        let listed: [Listed]
        if let sweep = try Sweep.load(contentsOf: pipeline) {
            listed = sweep.members.map { member in
                Listed(index: member.index, id: member.id, folder: member.folder(runs: runs),
                       overrides: Dictionary(uniqueKeysWithValues: member.overrides.map { ($0.key, $0.value) }))
            }
        } else {
            let configuration = try PipelineConfiguration(contentsOf: pipeline)
            listed = [Listed(index: 0, id: configuration.name, folder: "\(runs)/\(configuration.name)", overrides: [:])]
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(listed), as: UTF8.self))
            return
        }
        let sweep = try Sweep.load(contentsOf: pipeline)
        for entry in listed {
            let overrides = sweep?.members[entry.index].overrides.map { "\($0.key)=\($0.value)" }.joined(separator: " ") ?? ""
            print("\(entry.index)\t\(entry.id)\t\(entry.folder)\t\(overrides)")
        }
    }
}
