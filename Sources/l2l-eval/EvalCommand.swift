// l2l-eval: compares the learned optimizer of a training run with SGD, NAG, RMSprop and Adam on
// every evaluation problem of the experiment, writing runs/<name>/eval.h5.
//
//     $ l2l-eval pipelines/mnist.yaml          # reads runs/mnist/train.h5, writes runs/mnist/eval.h5
import ArgumentParser
import Foundation
import L2L
import Pipeline

extension EvaluationSplit: ExpressibleByArgument {}

@main
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "l2l-eval",
        abstract: "Evaluate a trained optimizer against SGD, NAG, RMSprop and Adam.",
        discussion: """
            Loads /phi/best from OUT/train.h5 and runs the learned optimizer and the four baselines \
            on every evaluation problem of the experiment for its horizon, over its number of runs, \
            every optimizer meeting the same problem instances, initial parameters and minibatches. \
            Each baseline's learning rate is chosen from the experiment's grid by the mean final loss \
            of separate tuning runs. Writes OUT/eval.h5: per problem and optimizer the losses of every \
            run, their mean and standard error at every step, the learning rate and the grid scores, \
            and which run and φ it evaluated (train_run_id, phi_epoch). On a sweep, every member's \
            /phi/best is evaluated against the baselines (run once per problem), all on the same draws, \
            into OUT/eval.h5 with each member's curves and, per grid point, the mean and standard \
            error across seeds (across_seeds, naming its members); a member not trained yet is an \
            error, unless --trained-only leaves it out (recorded in sweep_members_missing: an interim \
            table while a sweep trains); --baselines-from FILE copies the baselines from another sweep's \
            evaluation made under the same evaluation section, seed, split, data and code (refused \
            otherwise); --member evaluates one member in its own folder. φ is \
            refused when a value is NaN or infinite or a tensor has another shape. The file is built in memory and saved whole \
            (temporary file, fsync, rename): a failure, a full disk or a signal leaves the previous \
            eval.h5 and no temporary file. One process at a time may use a run folder (OUT/.lock). \
            --split validation evaluates on the validation split instead (MNIST's training images \
            0..<5,000, never trained on; quadratics drawn independently of the test draws) into \
            OUT/eval-validation.h5: choose recipes there and report the test split. --phi evaluates \
            another φ of each run than /phi/best (its last, a snapshot of /phi/history, the snapshot \
            at the lowest validation score, or the mean of a range of snapshots) into a file of its \
            own, so that the evaluation of /phi/best is never replaced.

            --history evaluates snapshots of /phi/history instead (every --every-th, and the last) \
            as the learned optimizer on the validation split, every snapshot on the same draws (for \
            a sweep's members, those of the sweep's eval-validation.h5), \
            into OUT/history.h5 (per problem: the loss of every run, the mean final loss and its \
            standard error, the mean over steps, the diverged runs, per snapshot): the learning \
            curve of meta-training. It may run while meta-training goes on (its own lock), saves \
            after every snapshot, and continues where it stopped; SIGINT/SIGTERM stop it after \
            the snapshot in progress (status 130/143).

            --trace FILE writes, instead, a reference trace for other implementations of the learned \
            optimizer: run 0 of one problem (the same draws as eval.h5's), the gradient the optimizer \
            received and the update it returned at each of the first --trace-steps steps, θ₀, the \
            losses and which φ of which run (the Python package's tests feed it back).

            Exit status: 0 done; 1 an error (the message names the file and the cause); 3 train.h5 \
            was made with other meta-training settings than the pipeline holds; 4 another process \
            holds the run.

            Examples:
              l2l-eval pipelines/mnist.yaml
              l2l-eval pipelines/smoke.yaml --out /tmp/smoke
              l2l-eval pipelines/study/meta-learning-rate.yaml --split validation
              l2l-eval pipelines/mnist.yaml --history --every 10 --problems base
              l2l-eval pipelines/study/model-selection.yaml --split validation --phi validation-minimum
              l2l-eval pipelines/mnist.yaml --member 0 --trace runs/mnist/trace.h5 --trace-problem base --trace-steps 200
            """,
        version: "0.1.0"
    )

    @Argument(help: ArgumentHelp("The experiment definition (YAML).", valueName: "pipeline"))
    var pipeline: String

    @Option(help: ArgumentHelp("The run folder holding train.h5 (default: runs/<name in the pipeline>).", valueName: "folder"))
    var out: String?

    @Option(help: ArgumentHelp(DataFiles.help, valueName: "folder-or-file"))
    var data = "data"

    @Option(help: ArgumentHelp("The sweep member to evaluate, by index or id (see l2l-sweep); without it, every member.", valueName: "id-or-index"))
    var member: String?

    @Option(help: ArgumentHelp("The data evaluated on: test (OUT/eval.h5: MNIST's t10k images) or validation (OUT/eval-validation.h5: MNIST's validation split, quadratics drawn independently of test), where recipes are chosen.", valueName: "split"))
    var split: EvaluationSplit = .test

    @Flag(help: "On a sweep: evaluate the members trained so far and leave out (and record) the others, instead of refusing.")
    var trainedOnly = false

    @Option(help: ArgumentHelp("On a sweep: copy the baselines from this evaluation file (another sweep's eval.h5 with the same evaluation section, seed, split, data and code), instead of tuning and running them; refused when they would differ.", valueName: "eval.h5"))
    var baselinesFrom: String?

    @Option(help: ArgumentHelp("The φ of each run to evaluate: best (/phi/best, the default), latest (/phi/latest), validation-minimum (the /phi/history snapshot at the lowest /validation/loss: /phi/best without top-k re-evaluation), trajectory:N (the snapshot after N trajectories) or average:A-B (the mean of the snapshots after A to B trajectories). Another than best writes OUT/eval[-validation]-phi-<choice>.h5 (average:800-1000 → eval-phi-average-800-1000.h5), reusing the baselines of the /phi/best evaluation.", valueName: "choice"))
    var phi = "best"

    @Flag(help: "Instead: evaluate snapshots of /phi/history on the validation split (the learning curve of meta-training) into OUT/history.h5; on a sweep, in every member's folder.")
    var history = false

    @Option(help: ArgumentHelp("With --history: every how many snapshots of /phi/history (the last is always taken).", valueName: "count"))
    var every = 1

    @Option(help: ArgumentHelp("With --history: the evaluation problems, comma-separated (default: all).", valueName: "names"))
    var problems: String?

    @Option(help: ArgumentHelp("Threads per step: 1, or 2 (the default: every CPU the process may use, at most 2).", valueName: "count"))
    var threads: Int?

    @Option(help: ArgumentHelp("Instead: write a reference trace of the learned optimizer to this HDF5 file: run 0 of one problem (--trace-problem), its first --trace-steps steps, with the gradient it received and the update it returned at each (docs/hdf5-layout.md); on a sweep, of one --member.", valueName: "file"))
    var trace: String?

    @Option(help: ArgumentHelp("With --trace: the evaluation problem (default: the first).", valueName: "name"))
    var traceProblem: String?

    @Option(help: ArgumentHelp("With --trace: the steps recorded.", valueName: "count"))
    var traceSteps = 20

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        if every < 1 { throw ValidationError("--every must be at least 1, got \(every)") }
        if !history, every != 1 || problems != nil { throw ValidationError("--every and --problems go with --history") }
        if history, split != .test { throw ValidationError("--history always evaluates on the validation split; drop --split") }
        if trainedOnly, history || member != nil { throw ValidationError("--trained-only goes with the evaluation of a whole sweep, not --history or --member") }
        if baselinesFrom != nil, history || member != nil { throw ValidationError("--baselines-from goes with the evaluation of a whole sweep, not --history or --member") }
        do { _ = try PhiSelection(parsing: phi) } catch { throw ValidationError(error.description) }
        if history, phi != "best" { throw ValidationError("--phi does not go with --history, which evaluates the snapshots of /phi/history themselves") }
        if trace == nil, traceProblem != nil || traceSteps != 20 { throw ValidationError("--trace-problem and --trace-steps go with --trace") }
        if trace != nil, history || trainedOnly || baselinesFrom != nil { throw ValidationError("--trace does not go with --history, --trained-only or --baselines-from") }
        if traceSteps < 1 || traceSteps > 1_000_000 { throw ValidationError("--trace-steps must be in 1...1000000, got \(traceSteps)") }
    }

    func run() throws {
        if let threads { Threads.limit(to: threads) }
        let selection = try PhiSelection(parsing: phi)
        do {
            let file = try PipelineFile(contentsOf: pipeline)
            if let trace {
                if case .sweep = file, member == nil { throw ValidationError("--trace on a sweep: name the member traced (--member; l2l-sweep \(pipeline) lists them)") }
                for (configuration, folder) in try runs(of: file) {
                    let evaluation = EvaluationRun(configuration: configuration, runFolder: folder, data: DataFiles(argument: data), split: split, phi: selection)
                    try TraceExport(evaluation: evaluation, problem: traceProblem, steps: traceSteps, output: trace).run()
                }
                return
            }
            if history, file.evaluatedPipeline != nil {
                throw ValidationError("--history evaluates with the training pipeline's own problems; run it on \(file.evaluatedPipeline ?? "that pipeline"), not on the evaluation file \(pipeline)")
            }
            if history {
                let names = problems.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
                // A sweep's members all meet the draws of the sweep's own evaluation.
                let seed: UInt64? = if case let .sweep(sweep) = file { sweep.evaluationSeed } else { nil }
                for (configuration, folder) in try runs(of: file) {
                    try HistoryEvaluation(configuration: configuration, runFolder: folder, data: DataFiles(argument: data), every: every, problems: names,
                                          evaluationSeed: seed).run()
                }
                return
            }
            if case let .sweep(sweep) = file, member == nil {
                try SweepEvaluation(sweep: sweep, folder: out ?? "runs/\(sweep.name)", data: DataFiles(argument: data), split: split,
                                    trainedOnly: trainedOnly, baselinesFrom: baselinesFrom, phi: selection).run()
                return
            }
            if trainedOnly || baselinesFrom != nil {
                throw ValidationError("--trained-only and --baselines-from go with a sweep; \(pipeline) has no sweep section")
            }
            // One run, or one member alone in its own folder, like a run of its own.
            for (configuration, folder) in try runs(of: file) {
                try EvaluationRun(configuration: configuration, runFolder: folder, data: DataFiles(argument: data), split: split, phi: selection).run()
            }
        } catch let error as RunError {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(error.exitStatus)
        } catch let stopped as ExitCode128 {
            throw ExitCode(128 + stopped.signal)
        }
    }

    /// The runs `--member` and `--out` name in `file`; a member it does not have is a usage error.
    private func runs(of file: PipelineFile) throws -> [(configuration: PipelineConfiguration, folder: String)] {
        do {
            return try file.runs(member: member, out: out)
        } catch let error as PipelineFile.NoSuchMember {
            throw ValidationError(error.description)
        }
    }
}
