import Foundation
import HDF5
import L2L
import MNIST

/// The learning curve of meta-training itself (`l2l-eval --history`): every `every`-th snapshot
/// of `/phi/history` runs as the learned optimizer on fresh validation problems, every snapshot on
/// the same draws (common random numbers), so that the curve says whether φ still improved after
/// a given number of trajectories, without touching the test split.
///
/// Writes `history.h5` in the run folder, saved whole after each snapshot; a stopped evaluation
/// continues where it stopped when the run and the options are the same (otherwise it starts
/// anew: the file is derived from train.h5 and holds nothing else).
public struct HistoryEvaluation {
    public var configuration: PipelineConfiguration
    public var runFolder: String
    /// Where the data sets are read (`--data`).
    public var data: DataFiles
    /// Every how many snapshots of /phi/history to evaluate (1: all; the last is always taken).
    public var every: Int
    /// Evaluation problems by name (nil: all of the pipeline's).
    public var problems: [String]?
    /// The seed of the draws (nil: the run's own). A sweep's members pass the sweep's
    /// `evaluationSeed`, so that every member's history meets the draws of the sweep's
    /// `eval-validation.h5`, and a snapshot's numbers are comparable with `/phi/best`'s there.
    public var evaluationSeed: UInt64?

    public static let fileName = "history.h5"
    static let formatVersion: Int32 = 1

    public init(configuration: PipelineConfiguration, runFolder: String, data: DataFiles, every: Int, problems: [String]? = nil,
                evaluationSeed: UInt64? = nil) {
        self.configuration = configuration
        self.runFolder = runFolder
        self.data = data
        self.every = every
        self.problems = problems
        self.evaluationSeed = evaluationSeed
    }

    /// The seed the problems, θ₀ and minibatches are drawn from.
    var drawSeed: UInt64 { evaluationSeed ?? configuration.seed }

    var folder: RunFolder { RunFolder(path: runFolder) }
    public var path: String { folder.file(Self.fileName) }

    public func run() throws {
        TemporaryFiles.removeOnSignal()
        StopSignals.install()
        try folder.prepare(create: false)
        let trainPath = folder.trainPath
        guard FileManager.default.fileExists(atPath: trainPath) else {
            throw RunError(file: trainPath, "no training run here; run l2l-train \(configuration.trainingPipeline) first")
        }
        // Its own lock: meta-training may go on in the same folder (train.h5 is replaced whole,
        // never written in place, so reading it meanwhile is safe).
        let lock = try RunLock(path: folder.file(".history.lock"), stage: "l2l-eval --history")
        defer { withExtendedLifetime(lock) {} }

        // The checks of l2l-eval: this pipeline's run, readable, its φ of this architecture.
        let source = try EvaluationRun(configuration: configuration, runFolder: runFolder, data: data).loadPhi()
        let train = try File.open(trainPath)
        let history = try TrainFile.history(in: train, architecture: configuration.architecture)
        let epochs = history.epochs
        guard !epochs.isEmpty else { throw RunError(file: trainPath, object: "/\(TrainFile.historyEpoch)", "holds no snapshot of φ yet") }
        var chosen = Array(stride(from: every - 1, to: epochs.count, by: every))
        if chosen.last != epochs.count - 1 { chosen.append(epochs.count - 1) }

        let selected = try selectedProblems()
        var draws = configuration
        draws.seed = drawSeed
        let options = "every \(every); problems \(selected.map(\.name).joined(separator: ",")); runs \(configuration.runs); horizon \(configuration.horizon); seed \(draws.seed)"
        let experiment = try Experiment.evaluation(configuration, data: data, split: EvaluationSplit.validation.mnistSplit)
        let (file, alreadyDone) = try openOrCreate(runID: source.runID, options: options, snapshots: chosen.map { epochs[$0] },
                                                   problems: selected.map(\.name), data: experiment.dataPaths)
        let evaluation = EvaluationRun(configuration: draws, runFolder: runFolder, data: data, split: .validation)
        let problems = try selected.map { (name: $0.name, problem: try experiment.problem($0.optimizee, split: EvaluationSplit.validation.mnistSplit)) }
        if alreadyDone > 0 { note("continuing \(path): \(alreadyDone) of \(chosen.count) snapshots done") }

        let progress = ProgressLine(label: "history of \(configuration.name)", total: chosen.count, startingAt: alreadyDone)
        var done = alreadyDone
        for index in chosen.dropFirst(alreadyDone) {
            if StopSignals.received != 0 {
                note("stopped after \(done) of \(chosen.count) snapshots; \(path) holds them; run the same command to continue")
                throw ExitCode128(signal: StopSignals.received)
            }
            let phi = try history.phi(index)
            for (name, problem) in problems {
                let result = evaluation.learned(problem: problem, name: name, phi: phi, as: "history")
                try append(result.losses, problem: name, to: file)
            }
            try file.openDataset("epoch").append(rows: [epochs[index]])
            try file.save()
            done += 1
            progress.update(done: done, detail: "snapshot of trajectory \(epochs[index])")
        }
        note("wrote \(path)")
    }

    private func selectedProblems() throws -> [EvaluationProblem] {
        guard let problems else { return configuration.evaluationProblems }
        return try problems.map { name in
            guard let problem = configuration.evaluationProblems.first(where: { $0.name == name }) else {
                throw RunError(file: configuration.path, object: "evaluation.problems", "has no problem '\(name)' (it has \(configuration.evaluationProblems.map(\.name).joined(separator: ", ")))")
            }
            return problem
        }
    }

    /// The existing file when it is a history of this run with these options whose snapshots
    /// begin `snapshots` (and how many it holds), else a new one.
    private func openOrCreate(runID: String, options: String, snapshots: [Int64], problems: [String], data: [(dataset: ImageDataset, path: String)]) throws -> (File, Int) {
        if File.isHDF5(path), let file = try? File.openInMemory(path),
           (try? file.stringAttribute("train_run_id")) == runID, (try? file.stringAttribute("options")) == options,
           let done = try? file.openDataset("epoch").read(Int64.self), done.count <= snapshots.count,
           Array(snapshots.prefix(done.count)) == done {
            return (file, done.count)
        }
        let steps = configuration.horizon + 1
        let file = try File.createInMemory(path)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-eval --history", data: data)
        try file.setAttribute("format", "l2l-history")
        try file.setAttribute("format_version", Self.formatVersion)
        try file.setAttribute("train_run_id", runID)
        try file.setAttribute("options", options)
        try file.setAttribute("evaluation_seed", Int64(drawSeed))
        try file.setAttribute("split", EvaluationSplit.validation.rawValue)
        try file.setAttribute("horizon", Int64(configuration.horizon))
        try file.createExtendibleDataset("epoch", of: Int64.self, chunkRows: 64)
            .setAttribute("description", "trajectories done when each evaluated snapshot of /phi/history was taken")
        for problem in problems {
            let group = "problems/\(problem)"
            try file.createExtendibleDataset("\(group)/loss", of: Float.self, rowShape: [configuration.runs, steps], chunkRows: 1, gzipLevel: 4)
                .setAttribute("description", "f(θ_t) of every run (snapshots × runs × steps + 1); NaN after a failure")
            try file.createExtendibleDataset("\(group)/final_mean", of: Double.self, chunkRows: 64)
                .setAttribute("description", "mean over the runs of f(θ_horizon) (a diverged run at its last finite loss)")
            try file.createExtendibleDataset("\(group)/final_stderr", of: Double.self, chunkRows: 64)
            try file.createExtendibleDataset("\(group)/mean_over_steps", of: Double.self, chunkRows: 64)
                .setAttribute("description", "mean over the runs of the mean of f(θ_t) over t = 0…horizon")
            try file.createExtendibleDataset("\(group)/diverged_runs", of: Int64.self, chunkRows: 64)
        }
        return (file, 0)
    }

    private func append(_ losses: [[Float]], problem: String, to file: File) throws {
        let group = "problems/\(problem)"
        let divergence = EvaluationRun.Divergence(runs: losses)
        let (mean, standardError) = EvaluationRun.meanAndStandardError(divergence.held, steps: configuration.horizon + 1)
        let averages = divergence.held.map { $0.reduce(0, +) / Double($0.count) }
        try file.openDataset("\(group)/loss").append(rows: losses.flatMap { $0 })
        try file.openDataset("\(group)/final_mean").append(rows: [mean[configuration.horizon]])
        try file.openDataset("\(group)/final_stderr").append(rows: [standardError[configuration.horizon]])
        try file.openDataset("\(group)/mean_over_steps").append(rows: [averages.reduce(0, +) / Double(averages.count)])
        try file.openDataset("\(group)/diverged_runs").append(rows: [Int64(divergence.count)])
    }
}

/// A stage stopped by a signal after saving its work: the caller exits with 128 + signal.
public struct ExitCode128: Error, Sendable {
    public let signal: Int32
}
