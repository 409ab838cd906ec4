// l2l-train: meta-trains the learned optimizer of an experiment, writing runs/<name>/train.h5 as
// it goes; a killed run continues with --resume.
//
//     $ l2l-train pipelines/mnist.yaml                 # → runs/mnist/train.h5
//     $ l2l-train pipelines/smoke.yaml --epochs 3      # a quick run
//     $ l2l-train pipelines/mnist.yaml --resume        # after an interruption
import ArgumentParser
import Foundation
import Pipeline

@main
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-train",
        abstract: "Meta-train the learned optimizer of an experiment, with HDF5 logs and checkpoints.",
        discussion: """
            Trains the coordinate-wise LSTM optimizer of the experiment file (pipelines/*.yaml) by \
            truncated back-propagation through optimizee trajectories, one trajectory per epoch, and \
            writes OUT/train.h5 as it goes: the loss at every step of every trajectory, validation \
            losses, snapshots of φ, /phi/latest and /phi/best (the best validation loss), and a \
            checkpoint after every trajectory. SIGINT or SIGTERM finish the unroll in progress, \
            write a checkpoint (mid-trajectory: θ and the LSTM state) and stop with status 130 or \
            143; --resume continues bit for bit. A NaN or infinite meta-loss skips its unroll \
            (counted in /trajectory@skipped_unrolls) and abandons the trajectory; 10 in a row stop \
            training with an error. Inspect the file with \
            h5dump -H or h5py; docs/hdf5-layout.md describes it.

            Examples:
              l2l-train pipelines/mnist.yaml
              l2l-train pipelines/smoke.yaml --epochs 3 --out /tmp/smoke
              l2l-train pipelines/mnist.yaml --resume
            """,
        version: "0.1.0"
    )

    @Argument(help: ArgumentHelp("The experiment definition (YAML).", valueName: "pipeline"))
    var pipeline: String

    @Option(help: ArgumentHelp("The run folder (default: runs/<name in the pipeline>).", valueName: "folder"))
    var out: String?

    @Option(help: ArgumentHelp("Trajectories to train for, overriding the pipeline's epochs.", valueName: "count"))
    var epochs: Int?

    @Option(help: ArgumentHelp("The MNIST file written by l2l-fetch.", valueName: "path"))
    var data = "data/mnist.h5"

    @Flag(help: "Continue the run in the output folder (start it if there is none); exit status 3 when its settings differ from the pipeline's (other than epochs and evaluation) or an older l2l-train wrote it.")
    var resume = false

    @Flag(help: "Delete the run in the output folder and start over.")
    var force = false

    func validate() throws {
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    }

    func run() throws {
        let configuration = try PipelineConfiguration(contentsOf: pipeline)
        let run = TrainingRun(
            configuration: configuration, outputFolder: out ?? "runs/\(configuration.name)", mnistPath: data,
            epochs: epochs, mode: resume ? .resume : force ? .force : .start)
        let outcome: TrainingRun.Outcome
        do {
            outcome = try run.run()
        } catch let error as ConfigurationChanged {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(3)
        }
        switch outcome {
        case let .completed(epochs):
            FileHandle.standardError.write(Data("done: \(epochs) trajectories in \(run.path)\n".utf8))
        case let .interrupted(_, signal):
            throw ExitCode(128 + signal)
        }
    }
}
