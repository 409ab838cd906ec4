// l2l-sweep: lists the members of a sweep, one line each, for make, scripts and job arrays, and
// writes (and submits) the sweep as a Slurm job array.
//
//     $ l2l-sweep pipelines/mnist.yaml
//     0	seed=1	runs/mnist/seed=1	seed=1
//     1	seed=2	runs/mnist/seed=2	seed=2
//     $ l2l-sweep pipelines/mnist.yaml --slurm --time 4:00:00 --submit
import ArgumentParser
import Foundation
import Pipeline

@main
struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-sweep",
        abstract: "List the members of a sweep (index, id, run folder, overrides), or write and submit it as a Slurm job array.",
        discussion: """
            A pipeline's sweep section (seeds, and optionally a grid of dotted keys with lists of \
            values) makes it a set of members: every grid combination crossed with every seed, the \
            grid's keys in the file's order (the first varying slowest) and the seeds innermost. \
            Each member is validated as a pipeline of its own before anything is printed. Prints \
            exactly one line per member, tab-separated: its index, its id, its run folder and its \
            overrides (key=value, space-separated); --json prints the same as a JSON array. A file \
            without a sweep section is one run, listed as member 0 with no overrides.

            --slurm writes RUNS/<name>/slurm/train.sbatch, a job array with one task per member \
            (--array=0-(M-1)[%K], --requeue, --signal=B:TERM@120; task N runs l2l-train --member N \
            --resume --threads C), and RUNS/<name>/slurm/eval.sbatch (l2l-eval of the sweep), and \
            prints the two sbatch commands that submit them, the evaluation with \
            --dependency=afterok on the array; --submit runs them and prints the job ids. A task \
            stopped by Slurm (time limit, pre-emption) checkpoints, is requeued and resumes; a \
            failed task keeps the evaluation from running. The scripts are plain bash, commented \
            and editable; the tasks' logs go to RUNS/<name>/slurm/. The jobs run in the current folder \
            (--chdir), with the pipeline and data paths as given, so that the files record the same \
            paths as make's runs; run l2l-sweep from the project.

            Examples:
              l2l-sweep pipelines/mnist.yaml
              l2l-sweep pipelines/mnist.yaml --json
              l2l-sweep pipelines/mnist.yaml --slurm --time 8:00:00 --throttle 10
              l2l-sweep pipelines/mnist.yaml --slurm --cpus-per-task 2 --submit
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

    @Flag(help: "Write RUNS/<name>/slurm/{train,eval}.sbatch and print the sbatch commands that submit them.")
    var slurm = false

    @Option(help: ArgumentHelp("With --slurm: the Slurm partition (default: the cluster's).", valueName: "name"))
    var partition: String?

    @Option(help: ArgumentHelp("With --slurm: the time limit of each task and of the evaluation, in Slurm's format (default: the partition's).", valueName: "time"))
    var time: String?

    @Option(help: ArgumentHelp("With --slurm: CPUs per task, and the threads each task trains with.", valueName: "count"))
    var cpusPerTask = 1

    @Option(help: ArgumentHelp("With --slurm: at most this many tasks at once (default: no limit).", valueName: "count"))
    var throttle: Int?

    @Option(help: ArgumentHelp("With --slurm: " + DataFiles.help, valueName: "folder-or-file"))
    var data = "data"

    @Flag(help: "With --slurm: submit both jobs with sbatch and print their ids.")
    var submit = false

    func validate() throws {
        if !slurm, partition != nil || time != nil || throttle != nil || submit {
            throw ValidationError("--partition, --time, --throttle and --submit go with --slurm")
        }
        if slurm, json { throw ValidationError("--slurm and --json exclude each other") }
        if cpusPerTask < 1 { throw ValidationError("--cpus-per-task must be at least 1, got \(cpusPerTask)") }
        if let throttle, throttle < 1 { throw ValidationError("--throttle must be at least 1, got \(throttle)") }
    }

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
        let listed: [Listed], name: String
        switch try PipelineFile(contentsOf: pipeline) {
        case let .sweep(sweep):
            name = sweep.name
            listed = sweep.members.map { member in
                Listed(index: member.index, id: member.id, folder: member.folder(runs: runs),
                       overrides: member.overrides)
            }
        case let .single(configuration):
            name = configuration.name
            listed = [Listed(index: 0, id: configuration.name, folder: "\(runs)/\(configuration.name)", overrides: [])]
        }
        if slurm {
            try writeJobArray(name: name, memberCount: listed.count)
            return
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

    private func writeJobArray(name: String, memberCount: Int) throws {
        let here = FileManager.default.currentDirectoryPath
        func absolute(_ path: String) -> String { path.hasPrefix("/") ? path : URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: here + "/")).standardizedFileURL.path }
        // l2l-train and l2l-eval of the same build as this l2l-sweep.
        let binaries = URL(fileURLWithPath: executablePath()).deletingLastPathComponent().path
        let array = SlurmJobArray(
            name: name, memberCount: memberCount,
            resources: .init(partition: partition, time: time, cpusPerTask: cpusPerTask, throttle: throttle),
            projectFolder: here, binaries: binaries, runs: absolute(runs), pipeline: pipeline, data: data)
        try array.write()
        FileHandle.standardError.write(Data("wrote \(array.trainScript) (\(memberCount) task\(memberCount == 1 ? "" : "s")) and \(array.evalScript)\n".utf8))
        guard submit else {
            print(array.submitCommands.joined(separator: "\n"))
            return
        }
        let arrayID = try sbatch([array.trainScript])
        print("submitted the job array \(arrayID): \(array.trainScript)")
        let evalID = try sbatch(["--dependency=afterok:\(arrayID)", array.evalScript])
        print("submitted the evaluation \(evalID), after every task of \(arrayID): \(array.evalScript)")
    }

    /// This executable's absolute path.
    private func executablePath() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Runs `sbatch --parsable ARGUMENTS` and returns the job id it prints.
    private func sbatch(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["sbatch", "--parsable"] + arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw ValidationError("cannot run sbatch: \(error.localizedDescription)")
        }
        let printed = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // --parsable prints "<id>" or "<id>;<cluster>".
        let id = printed.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ";").first.map(String.init) ?? ""
        guard process.terminationStatus == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            FileHandle.standardError.write(Data("Error: sbatch \(arguments.joined(separator: " ")) failed (status \(process.terminationStatus)): \(complaint.trimmingCharacters(in: .whitespacesAndNewlines))\n".utf8))
            throw ExitCode.failure
        }
        return id
    }
}
