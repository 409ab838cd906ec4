import Foundation
import HDF5
import L2L

/// A run cannot be continued: its meta-training settings differ from the pipeline file's, or an
/// earlier l2l-train wrote it in a layout this one does not read.
public struct ConfigurationChanged: Error, CustomStringConvertible {
    public let path: String
    public let pipeline: String
    /// The layout version found, when that is the reason.
    public var formatVersion: Int32? = nil

    public var description: String {
        if let formatVersion {
            return "\(path) has format_version \(formatVersion): an earlier l2l-train wrote it, and its checkpoint cannot be read by this one (format_version \(TrainFile.formatVersion)); start over with --force (its /phi/best can still be evaluated)"
        }
        return "\(path) was trained with other settings than \(pipeline) now holds (beyond epochs and the evaluation section); start over with --force, or restore the pipeline file"
    }
}

/// The meta-training stage (`l2l-train`): trains the learned optimizer of an experiment, logging
/// to `train.h5` as it goes and checkpointing after every trajectory (and, on SIGINT or SIGTERM,
/// after the unroll in progress), so that a killed run resumes and ends bit-identical to one that
/// never stopped.
public struct TrainingRun {
    /// What to do when the output folder already holds a run.
    public enum Mode: Sendable {
        /// Refuse.
        case start
        /// Continue it (start it when there is none); its configuration must be this one.
        case resume
        /// Delete it and start over.
        case force
    }

    public enum Outcome: Equatable, Sendable {
        case completed(epochs: Int)
        case interrupted(epochs: Int, signal: Int32)
    }

    public var configuration: PipelineConfiguration
    public var outputFolder: String
    public var mnistPath: String
    public var epochs: Int
    public var mode: Mode

    /// Consecutive unrolls with non-finite values after which training stops.
    public static let maximumConsecutiveFailures = 10

    public init(configuration: PipelineConfiguration, outputFolder: String, mnistPath: String, epochs: Int? = nil, mode: Mode) {
        self.configuration = configuration
        self.outputFolder = outputFolder
        self.mnistPath = mnistPath
        self.epochs = epochs ?? configuration.epochs
        self.mode = mode
    }

    public var path: String { TrainFile.path(inRun: outputFolder) }

    public func run() throws -> Outcome {
        let experiment = try Experiment(configuration: configuration, mnistPath: mnistPath, splits: [.train, .validation])
        switch (AnyProblem(configuration.optimizee, data: experiment.data(.train)), AnyProblem(configuration.optimizee, data: experiment.data(.validation))) {
        case let (.quadratic(training), .quadratic(validation)):
            return try run(training: training, validation: validation, experiment: experiment)
        case let (.mlp(training), .mlp(validation)):
            return try run(training: training, validation: validation, experiment: experiment)
        default:
            preconditionFailure("one specification gives one kind of problem")
        }
    }

    func run<P: Problem>(training: P, validation: P, experiment: Experiment) throws -> Outcome {
        let trainer = MetaTrainer(problem: training, architecture: configuration.architecture, configuration: configuration.training, seed: configuration.seed)
        var validationGenerator = Generator(seed: configuration.seed, purpose: "validation")
        let (file, opened) = try openRun(trainer: trainer, experiment: experiment)
        var checkpoint = opened
        try restore(checkpoint, into: trainer, validationGenerator: &validationGenerator, file: file)

        if checkpoint.epochsDone >= epochs {
            note("\(path): already trained for \(checkpoint.epochsDone) of \(epochs) trajectories; nothing to do")
            return .completed(epochs: checkpoint.epochsDone)
        }
        StopSignals.install()
        let progress = ProgressLine(label: "meta-training \(configuration.name)", total: epochs, startingAt: checkpoint.epochsDone)
        var consecutiveFailures = 0
        var recentFinalLosses: [Float] = []
        var partial: (losses: [Float], metaLosses: [Double]) = checkpoint.partial.map { ($0.losses, $0.metaLosses) } ?? ([], [])

        while checkpoint.epochsDone < epochs {
            let record: UnrollRecord
            do {
                record = try trainer.trainUnroll()
                consecutiveFailures = 0
            } catch {
                // The trajectory is abandoned (its θ is unusable) and so are its log rows; φ
                // keeps the updates of its earlier, finite unrolls.
                partial = ([], [])
                checkpoint.skippedUnrolls += 1
                consecutiveFailures += 1
                note("warning: unroll skipped (\(checkpoint.skippedUnrolls) so far), its trajectory abandoned: \(error)")
                guard consecutiveFailures < Self.maximumConsecutiveFailures else {
                    throw PipelineError(file: path, key: "", reason: "training stopped: \(consecutiveFailures) consecutive unrolls produced non-finite values (last: \(error)); try a smaller meta_learning_rate or output_scale")
                }
                continue
            }
            guard trainer.phi.isFinite else {
                throw PipelineError(file: path, key: "", reason: "training stopped: φ became non-finite in trajectory \(checkpoint.epochsDone + 1) at step \(record.startStep); the last checkpoint (before it) is intact")
            }
            partial.losses += record.losses
            partial.metaLosses.append(record.metaLoss)
            // What a checkpoint takes from the trainer, just before each write.
            func capture() {
                checkpoint.phi = trainer.phi.values
                checkpoint.adam = trainer.metaState
                checkpoint.generators = [trainer.problemGenerator.state, trainer.batchGenerator.state, validationGenerator.state]
            }

            guard record.endsTrajectory else {
                if StopSignals.received != 0, let snapshot = trainer.snapshot() {
                    capture()
                    checkpoint.partial = PartialTrajectory(snapshot: snapshot, losses: partial.losses, metaLosses: partial.metaLosses)
                    try checkpoint.write(to: file)
                    note("stopped at step \(snapshot.step) of trajectory \(checkpoint.epochsDone + 1) (\(checkpoint.epochsDone) of \(epochs) done); the checkpoint is written. Continue with: l2l-train \(configuration.path) --resume")
                    return .interrupted(epochs: checkpoint.epochsDone, signal: StopSignals.received)
                }
                continue
            }
            checkpoint.partial = nil
            checkpoint.epochsDone += 1
            let epoch = checkpoint.epochsDone

            // The logs first, then the checkpoint that vouches for them.
            try file.openDataset(TrainFile.trajectoryLoss).append(rows: partial.losses)
            try file.openDataset(TrainFile.trajectoryFinalLoss).append(rows: [record.finalLoss])
            try file.openDataset(TrainFile.trajectoryMetaLoss).append(rows: partial.metaLosses)
            partial = ([], [])
            recentFinalLosses = Array((recentFinalLosses + [record.finalLoss]).suffix(20))

            if epoch % configuration.validationPeriod == 0 {
                let loss = Self.validate(trainer.phi, on: validation, count: configuration.validationSize, steps: configuration.steps, generator: &validationGenerator)
                try file.openDataset(TrainFile.validationEpoch).append(rows: [Int64(epoch)])
                try file.openDataset(TrainFile.validationLoss).append(rows: [loss])
                if loss.isFinite, loss < checkpoint.bestLoss {
                    checkpoint.bestLoss = loss
                    checkpoint.bestEpoch = epoch
                    checkpoint.bestPhi = trainer.phi.values
                    try writeBest(trainer.phi, epoch: epoch, loss: loss, file: file)
                }
            }
            if epoch % configuration.historyPeriod == 0 {
                try file.openDataset(TrainFile.historyEpoch).append(rows: [Int64(epoch)])
                try file.openDataset(TrainFile.historyValues).append(rows: trainer.phi.values)
            }
            try TrainFile.writePhi(trainer.phi, to: TrainFile.latest, in: file)
            try file.openGroup(TrainFile.latest).setAttribute("epoch", Int64(epoch))
            try file.openGroup("trajectory").setAttribute("skipped_unrolls", Int64(checkpoint.skippedUnrolls))
            capture()
            try checkpoint.write(to: file)

            let meanFinal = recentFinalLosses.reduce(0, +) / Float(max(recentFinalLosses.count, 1))
            let best = checkpoint.bestLoss.isFinite ? String(format: "%.4g", checkpoint.bestLoss) : "–"
            progress.update(done: epoch, detail: "final loss (mean of last \(recentFinalLosses.count)) \(String(format: "%.4g", meanFinal))  best validation \(best)")
            if StopSignals.received != 0 {
                note("stopped after trajectory \(epoch) of \(epochs); the checkpoint is written. Continue with: l2l-train \(configuration.path) --resume")
                return .interrupted(epochs: epoch, signal: StopSignals.received)
            }
        }
        return .completed(epochs: checkpoint.epochsDone)
    }

    /// Mean f(θ_steps) of the learned optimizer on `count` fresh problems (infinite when any run
    /// meets a non-finite gradient).
    static func validate<P: Problem>(_ phi: Phi, on problem: P, count: Int, steps: Int, generator: inout Generator) -> Double {
        let optimizer = LearnedOptimizer(phi: phi)
        var total = 0.0
        for _ in 0..<count {
            var instance = problem.makeInstance(using: &generator)
            var theta = instance.initialTheta(using: &generator)
            var state = optimizer.makeState(parameterCount: theta.count)
            var gradient = [Float](repeating: 0, count: theta.count)
            do {
                for _ in 0..<steps {
                    _ = instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &generator), gradient: &gradient)
                    try optimizer.step(&theta, gradient: gradient, state: &state)
                }
            } catch {
                return .infinity
            }
            total += Double(instance.loss(theta, batch: instance.sampleBatch(using: &generator)))
        }
        let mean = total / Double(count)
        return mean.isFinite ? mean : .infinity
    }

    // MARK: Implementation

    private func writeBest(_ phi: Phi, epoch: Int, loss: Double, file: File) throws {
        try TrainFile.writePhi(phi, to: TrainFile.best, in: file)
        let group = try file.openGroup(TrainFile.best)
        try group.setAttribute("epoch", Int64(epoch))
        try group.setAttribute("validation_loss", loss)
    }

    /// Opens the run's file according to `mode`, creating it (with an initial checkpoint) when
    /// new, and returns it with the checkpoint to continue from.
    private func openRun<P: Problem>(trainer: MetaTrainer<P>, experiment: Experiment) throws -> (File, Checkpoint) {
        let exists = FileManager.default.fileExists(atPath: path)
        if exists {
            switch mode {
            case .start:
                throw PipelineError(file: path, key: "", reason: "a run already exists here; continue it with --resume or start over with --force")
            case .force:
                try FileManager.default.removeItem(atPath: path)
            case .resume:
                let file = try File.open(path, mode: .readWrite)
                let version = (try? file.attribute("format_version", as: Int32.self)) ?? 0
                guard version == TrainFile.formatVersion else {
                    throw ConfigurationChanged(path: path, pipeline: configuration.path, formatVersion: version)
                }
                let storedText = (try? file.stringAttribute("configuration")) ?? ""
                guard let stored = try? PipelineConfiguration(text: storedText, path: path), configuration.trainsLike(stored) else {
                    throw ConfigurationChanged(path: path, pipeline: configuration.path)
                }
                // The new text (a changed epochs or evaluation section) becomes the run's, and the
                // code that continues the run is recorded beside the code that started it.
                try file.setAttribute("configuration", configuration.text)
                let checkpoint = try Checkpoint.read(from: file)
                let step = checkpoint.partial.map { ", step \($0.snapshot.step) of trajectory \(checkpoint.epochsDone + 1)" } ?? ""
                let earlier = (try? file.stringAttribute("resumed_by")).map { $0 + "; " } ?? ""
                try file.setAttribute("resumed_by", earlier + "\(Provenance.codeVersion) from trajectory \(checkpoint.epochsDone)\(step)")
                try file.setAttribute("epochs", Int64(epochs))
                note("resuming \(path) from trajectory \(checkpoint.epochsDone)\(step)")
                return (file, checkpoint)
            }
        }
        try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        let file = try File.create(path, mode: .exclusive)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-train", mnistPath: experiment.mnistPath)
        try TrainFile.create(file, configuration: configuration, phi: trainer.phi, coordinates: trainer.problem.parameterCount, epochs: epochs)
        try file.openGroup("trajectory").setAttribute("skipped_unrolls", Int64(0))
        try TrainFile.writePhi(trainer.phi, to: TrainFile.latest, in: file)
        let initial = Checkpoint(
            phi: trainer.phi.values, bestPhi: trainer.phi.values, adam: trainer.metaState,
            generators: [trainer.problemGenerator.state, trainer.batchGenerator.state, Generator(seed: configuration.seed, purpose: "validation").state],
            epochsDone: 0, bestEpoch: 0, bestLoss: .infinity, skippedUnrolls: 0)
        try initial.write(to: file)
        return (file, initial)
    }

    /// Puts the trainer where the checkpoint left it and drops log rows written after it.
    private func restore<P: Problem>(_ checkpoint: Checkpoint, into trainer: MetaTrainer<P>, validationGenerator: inout Generator, file: File) throws {
        var phi = trainer.phi
        guard checkpoint.phi.count == phi.values.count else {
            throw PipelineError(file: path, key: "/checkpoint", reason: "φ has \(checkpoint.phi.count) values, this architecture \(phi.values.count)")
        }
        phi.values = checkpoint.phi
        trainer.setPhi(phi)
        trainer.metaState = checkpoint.adam
        guard let problems = Generator(state: checkpoint.generators[0]), let batches = Generator(state: checkpoint.generators[1]),
              let validation = Generator(state: checkpoint.generators[2]) else {
            throw PipelineError(file: path, key: "/checkpoint", reason: "invalid generator state")
        }
        trainer.problemGenerator = problems
        trainer.batchGenerator = batches
        trainer.trajectory = nil
        if let partial = checkpoint.partial {
            do {
                try trainer.restore(partial.snapshot)
            } catch {
                throw PipelineError(file: path, key: "/checkpoint", reason: "the interrupted trajectory cannot continue: \(error)")
            }
        }
        validationGenerator = validation

        let done = checkpoint.epochsDone
        for name in [TrainFile.trajectoryLoss, TrainFile.trajectoryFinalLoss, TrainFile.trajectoryMetaLoss] {
            let dataset = try file.openDataset(name)
            if try dataset.shape[0] > done { try dataset.resize(rows: done) }
        }
        for (epochs, values) in [(TrainFile.validationEpoch, TrainFile.validationLoss), (TrainFile.historyEpoch, TrainFile.historyValues)] {
            let kept = try file.openDataset(epochs).read(Int64.self, rank: 1).filter { $0 <= done }.count
            try file.openDataset(epochs).resize(rows: kept)
            try file.openDataset(values).resize(rows: kept)
        }
        try TrainFile.writePhi(phi, to: TrainFile.latest, in: file)
        if checkpoint.bestLoss.isFinite {
            var best = phi
            best.values = checkpoint.bestPhi
            try writeBest(best, epoch: checkpoint.bestEpoch, loss: checkpoint.bestLoss, file: file)
        }
        try file.flush()
    }
}
