// l2l-train: meta-trains the learned optimizer of an experiment, writing runs/<name>/train.h5 as
// it goes; a killed run continues with --resume.
//
//     $ l2l-train pipelines/mnist.yaml                 # → runs/mnist/train.h5
//     $ l2l-train pipelines/smoke.yaml --epochs 3      # a quick run
//     $ l2l-train pipelines/mnist.yaml --resume        # after an interruption
import ArgumentParser
import Foundation
import L2L
import Pipeline

@main
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-train",
        abstract: "Meta-train the learned optimizer of an experiment, with HDF5 logs and checkpoints.",
        discussion: """
            Trains the coordinate-wise LSTM optimizer of the experiment file (pipelines/*.yaml) by \
            truncated back-propagation through optimizee trajectories, one trajectory per epoch, and \
            writes OUT/train.h5: the loss at every step of every trajectory, validation losses, \
            snapshots of φ, /phi/latest and /phi/best (the best validation loss), and the checkpoint. \
            The file is saved whole (temporary file, fsync, rename) at a checkpoint after a trajectory \
            at most every --checkpoint-interval seconds and at the end, so the file on disk is always \
            a complete checkpoint: kill -9 or a full disk leave the previous one. SIGINT or SIGTERM \
            finish the unroll in progress, write a checkpoint (mid-trajectory: θ and the LSTM state) \
            and stop with status 130 or 143; --resume continues bit for bit. A NaN or infinite \
            meta-loss skips its unroll (counted in /trajectory@skipped_unrolls) and abandons the \
            trajectory; 10 in a row stop training with an error. One process at a time may use a \
            run folder (OUT/.lock). Inspect the file with h5dump -H or h5py; docs/hdf5-layout.md \
            describes it.

            A run is deleted only by --force. When the pipeline's meta-training settings changed \
            (anything but epochs and the evaluation section), --resume refuses with status 3 and \
            --set-aside moves the old run to OUT/set-aside/<UTC time>-<reason>/ with the pipeline it \
            was trained with, then starts anew; a set-aside run whose settings match again is \
            brought back and continued.

            A sweep (a pipeline with a sweep section: seeds, and optionally a grid of settings) is a \
            set of members, each an ordinary run in OUT/<member id>/ (OUT defaults to runs/<name>); \
            --member trains one (by index or id, as l2l-sweep lists them), and without it every \
            member is trained in order, each resumed (a failed member is reported and the others go on).

            Exit status: 0 done; 1 an error (the message names the file and the cause); 3 the run \
            was made with other settings or by an older l2l-train; 4 another process holds the run; \
            130 / 143 stopped by SIGINT / SIGTERM after a checkpoint.

            Examples:
              l2l-train pipelines/mnist.yaml
              l2l-train pipelines/smoke.yaml --epochs 3 --out /tmp/smoke
              l2l-train pipelines/mnist.yaml --resume
              l2l-train pipelines/mnist.yaml --set-aside     # what make runs
              l2l-train pipelines/sweep.yaml --member 2 --threads 1
            """,
        version: "0.1.0"
    )

    @Argument(help: ArgumentHelp("The experiment definition (YAML).", valueName: "pipeline"))
    var pipeline: String

    @Option(help: ArgumentHelp("The run folder (default: runs/<name in the pipeline>); for a sweep, the folder of its members.", valueName: "folder"))
    var out: String?

    @Option(help: ArgumentHelp("The sweep member to train, by index or id (see l2l-sweep).", valueName: "id-or-index"))
    var member: String?

    @Option(help: ArgumentHelp("Threads per step: 1, or 2 (the default: every CPU the process may use, at most 2).", valueName: "count"))
    var threads: Int?

    @Option(help: ArgumentHelp("Trajectories to train for, overriding the pipeline's epochs (\(PipelineConfiguration.epochsRange.lowerBound)...\(PipelineConfiguration.epochsRange.upperBound)).", valueName: "count"))
    var epochs: Int?

    @Option(help: ArgumentHelp(DataFiles.help, valueName: "folder-or-file"))
    var data = "data"

    @Option(help: ArgumentHelp("Least seconds between two checkpoints (0: after every trajectory).", valueName: "seconds"))
    var checkpointInterval = TrainingRun.defaultCheckpointInterval

    @Flag(help: "Continue the run in the output folder (start it if there is none); exit status 3 when its settings differ from the pipeline's (other than epochs and evaluation) or an older l2l-train wrote it.")
    var resume = false

    @Flag(help: "As --resume, but a run of other settings (or an older layout) is moved to OUT/set-aside/ and a new one started, or a set-aside run of these settings brought back.")
    var setAside = false

    @Flag(help: "Delete the run in the output folder (train.h5 and its evaluations) and start over.")
    var force = false

    func validate() throws {
        if [resume, setAside, force].filter({ $0 }).count > 1 { throw ValidationError("--resume, --set-aside and --force exclude each other") }
        if let epochs, !PipelineConfiguration.epochsRange.contains(epochs) {
            throw ValidationError("--epochs must be in \(PipelineConfiguration.epochsRange.lowerBound)...\(PipelineConfiguration.epochsRange.upperBound), got \(epochs)")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if !(checkpointInterval >= 0 && checkpointInterval.isFinite) { throw ValidationError("--checkpoint-interval must be 0 or more seconds, got \(checkpointInterval)") }
    }

    func run() throws {
        if let threads { Threads.limit(to: threads) }
        do {
            let (isSweep, runs) = try targets()
            var failures: [(String, RunError)] = []
            for (configuration, folder) in runs {
                let run = TrainingRun(
                    configuration: configuration, outputFolder: folder, data: DataFiles(argument: data),
                    epochs: epochs, mode: mode(sweep: runs.count > 1), checkpointInterval: checkpointInterval,
                    memberID: isSweep ? URL(fileURLWithPath: folder).lastPathComponent : nil)
                do {
                    switch try run.run() {
                    case let .completed(epochs):
                        FileHandle.standardError.write(Data("done: \(epochs) trajectories in \(run.path)\n".utf8))
                    case let .interrupted(_, signal):
                        throw ExitCode(128 + signal)
                    }
                } catch let error as RunError where runs.count > 1 {
                    // A sweep goes on with its other members.
                    FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
                    failures.append((folder, error))
                }
            }
            if let first = failures.first {
                FileHandle.standardError.write(Data("\(failures.count) of \(runs.count) members failed: \(failures.map(\.0).joined(separator: ", "))\n".utf8))
                throw ExitCode(first.1.exitStatus)
            }
        } catch let error as RunError {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(error.exitStatus)
        }
    }

    /// The runs to train: the pipeline's, or a sweep's members (one, or all in order).
    private func targets() throws -> (isSweep: Bool, [(configuration: PipelineConfiguration, folder: String)]) {
        let file = try PipelineFile(contentsOf: pipeline)
        if let trainedBy = file.evaluatedPipeline {
            throw ValidationError("\(pipeline) is an evaluation file (evaluates: \(trainedBy)); its runs are trained by l2l-train \(trainedBy)")
        }
        var isSweep = false
        if case let .sweep(sweep) = file {
            try RunFolder(path: out ?? "runs/\(sweep.name)").setAsidePlainRun(sweep: pipeline)
            isSweep = true
        }
        do {
            return (isSweep, try file.runs(member: member, out: out))
        } catch let error as PipelineFile.NoSuchMember {
            throw ValidationError(error.description)
        }
    }

    /// Every member of a whole sweep is resumed unless another mode was asked for.
    private func mode(sweep: Bool) -> TrainingRun.Mode {
        resume ? .resume : setAside ? .setAside : force ? .force : sweep ? .resume : .start
    }
}
