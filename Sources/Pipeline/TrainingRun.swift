import Foundation
import HDF5
import L2L

/// The meta-training stage (`l2l-train`): trains the learned optimizer of an experiment into its
/// run folder's `train.h5`, checkpointing as it goes, so that a killed run resumes and ends
/// bit-identical to one that never stopped.
///
/// The file is held in memory and saved whole at each checkpoint (at most every
/// `checkpointInterval` seconds, at the end, and on SIGINT or SIGTERM after the unroll in
/// progress), so the file on disk is always a complete checkpoint: a kill, a full disk or a
/// failed write leaves the previous one. One process at a time holds a run (`RunLock`).
public struct TrainingRun {
    /// What to do when the run folder already holds a run.
    public enum Mode: Sendable {
        /// Refuse.
        case start
        /// Continue it (start it when there is none); its meta-training settings must be this
        /// pipeline's (`RunError.Reason.settingsChanged` otherwise, exit status 3).
        case resume
        /// As `resume`, but a run of other settings (or an older layout) is set aside in
        /// `set-aside/` and a new one started, or a set-aside run of these settings brought back.
        case setAside
        /// Delete it and start over.
        case force
    }

    public enum Outcome: Equatable, Sendable {
        case completed(epochs: Int)
        case interrupted(epochs: Int, signal: Int32)
    }

    public var configuration: PipelineConfiguration
    public var outputFolder: String
    /// Where the data sets are read (`--data`).
    public var data: DataFiles
    public var epochs: Int
    public var mode: Mode
    /// The least time between two checkpoints, in seconds (0: after every trajectory).
    public var checkpointInterval: Double
    /// The sweep member this run is (its folder is `<sweep folder>/<memberID>`), nil for a plain run.
    public var memberID: String?

    /// Consecutive unrolls with non-finite values after which training stops.
    public static let maximumConsecutiveFailures = 10
    public static let defaultCheckpointInterval = 10.0

    public init(configuration: PipelineConfiguration, outputFolder: String, data: DataFiles, epochs: Int? = nil, mode: Mode,
                checkpointInterval: Double = TrainingRun.defaultCheckpointInterval, memberID: String? = nil) {
        self.configuration = configuration
        self.outputFolder = outputFolder
        self.data = data
        self.epochs = epochs ?? configuration.epochs
        self.mode = mode
        self.checkpointInterval = checkpointInterval
        self.memberID = memberID
    }

    /// The command that continues this run after an interruption.
    var resumeCommand: String {
        if let memberID {
            let sweepFolder = URL(fileURLWithPath: outputFolder).deletingLastPathComponent().path
            return "l2l-train \(quoted(configuration.path)) --out \(quoted(sweepFolder)) --member \(quoted(memberID)) --resume"
        }
        return "l2l-train \(quoted(configuration.path)) --out \(quoted(outputFolder)) --resume"
    }

    var folder: RunFolder { RunFolder(path: outputFolder) }
    public var path: String { folder.trainPath }

    public func run() throws -> Outcome {
        // First, so that no signal can end the process between two writes of this stage.
        StopSignals.install()
        // The lock before the data: a second process on this run is refused at once.
        let lock = try folder.lock(stage: "l2l-train")
        let experiment = try Experiment.training(configuration, data: data)
        let optimizee = configuration.optimizee
        return try run(scaling: try experiment.problem(optimizee, split: .train), validation: try experiment.problem(optimizee, split: .validation),
                       experiment: experiment, lock: lock)
    }

    /// Trains on `training`, randomly scaled when `training.random_scaling` says so (validation
    /// always scores the problem itself).
    private func run<P: Problem, V: Problem>(scaling training: P, validation: V, experiment: Experiment, lock: RunLock) throws -> Outcome {
        guard let logRange = configuration.randomScalingLogRange else {
            return try run(training: training, validation: validation, experiment: experiment, lock: lock)
        }
        return try run(training: RandomlyScaledProblem(training, logRange: logRange), validation: validation, experiment: experiment, lock: lock)
    }

    /// Trains on `training`, validating on `validation`, holding `lock` (taken here when nil).
    func run<P: Problem, V: Problem>(training: P, validation: V, experiment: Experiment, lock: RunLock? = nil) throws -> Outcome {
        let held = try lock ?? folder.lock(stage: "l2l-train")
        return try withExtendedLifetime(held) {
            let (file, state) = try open(experiment: experiment, coordinates: training.parameterCount)
            return try TrainingSession(run: self, file: file, state: state, training: training, validation: validation).run()
        }
    }


    // MARK: Opening the run

    /// The run's file, in memory, and the state to continue from, according to `mode`.
    private func open(experiment: Experiment, coordinates: Int) throws -> (File, TrainingState) {
        if FileManager.default.fileExists(atPath: path) {
            switch mode {
            case .start:
                throw RunError(file: path, "a run already exists here; continue it with --resume, keep it and start anew with --set-aside, or delete it with --force")
            case .force:
                try folder.delete()
                note("deleted the run in \(outputFolder) (--force)")
            case .resume:
                let existing = try StoredRun(path: path, configuration: configuration)
                if let refusal = existing.refusal { throw refusal }
                return try resume(existing)
            case .setAside:
                let existing = try StoredRun(path: path, configuration: configuration)
                guard let refusal = existing.refusal else { return try resume(existing) }
                existing.close()
                let label = refusal.reason == .olderFormat ? "format-\(existing.version)" : "settings-changed"
                let aside = try folder.setAside(label: label, reason: refusal.message, pipelineText: existing.storedText)
                note("set the run aside in \(aside): \(refusal.message)\nevaluate it with: l2l-eval \(aside)/pipeline.yaml --out \(aside)")
            }
        }
        if mode == .setAside, let match = try matchingSetAsideRun() {
            try folder.bringBack(match)
            note("brought back the run set aside in \(match): it was trained with these settings")
            let existing = try StoredRun(path: path, configuration: configuration)
            if let refusal = existing.refusal { throw refusal }
            return try resume(existing)
        }
        return try create(experiment: experiment, coordinates: coordinates)
    }

    /// A new run: its file in memory with its datasets, φ₀ and the initial checkpoint, saved at
    /// once so that the run exists on disk from its start.
    private func create(experiment: Experiment, coordinates: Int) throws -> (File, TrainingState) {
        let state = TrainingState.initial(configuration)
        let file = try File.createInMemory(path)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-train", data: experiment.dataPaths)
        try TrainFile.create(file, configuration: configuration, phi: state.trainer.phi, coordinates: coordinates, epochs: epochs)
        try file.openGroup("trajectory").setAttribute("skipped_unrolls", Int64(0))
        try TrainFile.writePhi(state.trainer.phi, to: TrainFile.latest, in: file)
        try file.openGroup(TrainFile.latest).setAttribute("epoch", Int64(0))
        try Checkpoint.write(state, to: file)
        try TrainFile.save(file)
        return (file, state)
    }

    /// Continues a stored run of these settings: the new pipeline text (a changed `epochs` or
    /// evaluation section) becomes the run's, and the code that continues it is recorded.
    private func resume(_ existing: StoredRun) throws -> (File, TrainingState) {
        let file = existing.file
        let state = try Checkpoint.read(from: file, architecture: configuration.architecture, topK: configuration.validation.topK)
        if !file.contains(TrainFile.trajectoryMetaGradientNorm) {
            // A run of an l2l-train that did not record the norms: unknown for its trajectories so far.
            let unrolls = TrainFile.unrollsPerTrajectory(configuration)
            try TrainFile.createMetaGradientNorms(in: file, unrolls: unrolls)
            try file.openDataset(TrainFile.trajectoryMetaGradientNorm).append(rows: [Double](repeating: .nan, count: state.trajectoriesDone * unrolls))
        }
        try file.setAttribute("configuration", configuration.text)
        let step = state.trainer.trajectory.map { ", step \($0.step) of trajectory \(state.trajectoriesDone + 1)" } ?? ""
        let earlier = file.hasAttribute("resumed_by") ? try file.stringAttribute("resumed_by") + "; " : ""
        try file.setAttribute("resumed_by", earlier + "\(Provenance.codeVersion) from trajectory \(state.trajectoriesDone)\(step)")
        try file.setAttribute("epochs", Int64(epochs))
        note("resuming \(path) from trajectory \(state.trajectoriesDone)\(step)")
        return (file, state)
    }

    /// The newest set-aside run that these settings can continue.
    private func matchingSetAsideRun() throws -> String? {
        for candidate in folder.setAsideRuns() {
            guard let stored = try? StoredRun(path: candidate + "/train.h5", configuration: configuration) else { continue }
            stored.close()
            if stored.refusal == nil { return candidate }
        }
        return nil
    }
}

/// An existing `train.h5`, read into memory (the file on disk is not changed), with what its
/// stored configuration says about continuing it with `configuration`.
///
/// A file that does not open, lacks an attribute or whose stored configuration does not parse is
/// an error of its own (`RunError`, status 1), never "settings changed".
struct StoredRun {
    let file: File
    let version: Int32
    let storedText: String
    /// Why this pipeline cannot continue the run (settings changed, an older layout), or nil.
    let refusal: RunError?

    init(path: String, configuration: PipelineConfiguration) throws {
        guard File.isHDF5(path) else { throw RunError(file: path, "is not an HDF5 file (truncated or overwritten?); move it away or delete it with --force") }
        let file = try File.openInMemory(path)
        self.file = file
        let format = try Self.attribute(file, "format") { try file.stringAttribute("format") }
        guard format == TrainFile.formatName else {
            throw RunError(file: path, object: "/@format", "is '\(format)', expected '\(TrainFile.formatName)': this is not a training run")
        }
        let version = try Self.attribute(file, "format_version") { try file.attribute("format_version", as: Int32.self) }
        let (storedText, stored) = try TrainFile.storedConfiguration(in: file, stage: "l2l-train")
        self.version = version
        self.storedText = storedText
        if version != TrainFile.formatVersion {
            refusal = RunError(file: path, object: "/@format_version",
                               "is \(version): an earlier l2l-train wrote this run and its checkpoint cannot be continued by this one (format_version \(TrainFile.formatVersion)); its /phi/best can still be evaluated",
                               reason: .olderFormat)
        } else {
            let differences = configuration.trainingDifferences(from: stored)
            refusal = differences.isEmpty ? nil : RunError(
                file: path, "was trained with other settings than \(configuration.path) now holds (\(differences.joined(separator: "; ")))",
                reason: .settingsChanged)
        }
    }

    func close() { try? file.close() }

    private static func attribute<T>(_ file: File, _ name: String, _ read: () throws -> T) throws -> T {
        do {
            return try read()
        } catch {
            throw RunError(file: file.filePath, object: "/@\(name)", "cannot be read: \(error)")
        }
    }
}
