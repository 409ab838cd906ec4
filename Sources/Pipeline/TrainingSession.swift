import Foundation
import HDF5
import L2L

/// One `l2l-train` process's work on a run: the loop over unrolls, and the four things it does
/// around them, each in its own method: the failure policy (`unroll`), the logs of a finished
/// trajectory with validation and snapshots (`endTrajectory`), checkpoints (`checkpoint`) and
/// progress.
final class TrainingSession<P: Problem> {
    private let configuration: PipelineConfiguration
    private let resumeCommand: String
    private let epochs: Int
    private let checkpointInterval: Double
    private let file: File
    private let trainer: MetaTrainer<P>
    private let validation: P
    /// Where the run stands; its `trainer` part is refreshed from `trainer` at each checkpoint.
    private var state: TrainingState

    private var consecutiveFailures = 0
    private var recentFinalLosses: [Float] = []
    private var collapse: CollapseDetector
    private var lastCheckpoint = Date()
    private var checkpointedTrajectories: Int

    init(run: TrainingRun, file: File, state: TrainingState, training: P, validation: P) throws {
        self.configuration = run.configuration
        self.resumeCommand = run.resumeCommand
        self.epochs = run.epochs
        self.checkpointInterval = run.checkpointInterval
        self.file = file
        self.state = state
        self.validation = validation
        self.checkpointedTrajectories = state.trajectoriesDone
        // Replayed from the logs, which hold exactly the trajectories the checkpoint vouches for.
        let losses = try file.openDataset(TrainFile.trajectoryLoss)
        let steps = try losses.shape.last ?? 1
        let logged = try losses.read(Float.self, rank: 2)
        collapse = CollapseDetector(initialLosses: stride(from: 0, to: logged.count, by: max(steps, 1)).map { logged[$0] },
                                    finalLosses: try file.openDataset(TrainFile.trajectoryFinalLoss).read(Float.self))
        do {
            trainer = try MetaTrainer(problem: training, configuration: run.configuration.training, state: state.trainer)
        } catch {
            throw RunError(file: file.filePath, object: "/\(TrainFile.checkpoint)", "the checkpoint cannot continue with this problem: \(error)")
        }
    }

    func run() throws -> TrainingRun.Outcome {
        if state.trajectoriesDone >= epochs {
            note("\(file.filePath): already trained for \(state.trajectoriesDone) of \(epochs) trajectories; nothing to do")
            return .completed(epochs: state.trajectoriesDone)
        }
        let progress = ProgressLine(label: "meta-training \(configuration.name)", total: epochs, startingAt: state.trajectoriesDone)
        while state.trajectoriesDone < epochs {
            guard let record = try unroll() else { continue }
            if record.endsTrajectory {
                try endTrajectory(record)
                progress.update(done: state.trajectoriesDone, detail: progressDetail)
            }
            if StopSignals.received != 0 {
                try checkpoint()
                let place = state.trainer.trajectory.map { "at step \($0.step) of trajectory \(state.trajectoriesDone + 1)" } ?? "after trajectory \(state.trajectoriesDone)"
                note("stopped \(place) (\(state.trajectoriesDone) of \(epochs) done); the checkpoint is written. Continue with: \(resumeCommand)")
                return .interrupted(epochs: state.trajectoriesDone, signal: StopSignals.received)
            }
            if record.endsTrajectory, Date().timeIntervalSince(lastCheckpoint) >= checkpointInterval {
                try checkpoint()
            }
        }
        if checkpointedTrajectories != state.trajectoriesDone { try checkpoint() }
        return .completed(epochs: state.trajectoriesDone)
    }

    // MARK: The failure policy

    /// One unroll; nil when it produced a non-finite value and was skipped (φ not updated, its
    /// trajectory and log rows abandoned, the skip counted). Ten in a row stop training, after a
    /// checkpoint that records them.
    private func unroll() throws -> UnrollRecord? {
        let record: UnrollRecord
        do {
            record = try trainer.trainUnroll()
        } catch {
            state.pendingLosses = []
            state.pendingMetaLosses = []
            state.skippedUnrolls += 1
            consecutiveFailures += 1
            note("warning: unroll skipped (\(state.skippedUnrolls) so far), its trajectory abandoned: \(error)")
            if consecutiveFailures >= TrainingRun.maximumConsecutiveFailures {
                try checkpoint()
                throw RunError(file: file.filePath, "training stopped: \(consecutiveFailures) consecutive unrolls produced non-finite values (last: \(error)); try a smaller meta_learning_rate or output_scale")
            }
            return nil
        }
        consecutiveFailures = 0
        guard trainer.phi.isFinite else {
            throw RunError(file: file.filePath, "training stopped: φ became non-finite in trajectory \(state.trajectoriesDone + 1) at step \(record.startStep); the last checkpoint (before it) is intact")
        }
        state.pendingLosses += record.losses
        state.pendingMetaLosses.append(record.metaLoss)
        return record
    }

    // MARK: A finished trajectory

    /// Appends the trajectory's log rows, validates φ and snapshots it on their periods, and
    /// writes `/phi/latest` (in memory; the next checkpoint saves them).
    private func endTrajectory(_ record: UnrollRecord) throws {
        state.trajectoriesDone += 1
        let epoch = state.trajectoriesDone
        try file.openDataset(TrainFile.trajectoryLoss).append(rows: state.pendingLosses)
        try file.openDataset(TrainFile.trajectoryFinalLoss).append(rows: [record.finalLoss])
        let wasCollapsed = collapse.isCollapsed
        collapse.record(initial: state.pendingLosses.first ?? .nan, final: record.finalLoss, trajectory: epoch)
        if collapse.isCollapsed != wasCollapsed {
            note(collapse.isCollapsed
                 ? "\nwarning: collapsed at trajectory \(epoch): the last \(CollapseDetector.window) trajectories ended where they started (median f(θ_T)/f(θ_0) ≥ \(CollapseDetector.threshold)); recorded in /trajectory@collapsed"
                 : "\nrecovered from the collapse at trajectory \(epoch)")
        }
        try file.openDataset(TrainFile.trajectoryMetaLoss).append(rows: state.pendingMetaLosses)
        state.pendingLosses = []
        state.pendingMetaLosses = []
        recentFinalLosses = Array((recentFinalLosses + [record.finalLoss]).suffix(20))

        if epoch % configuration.validationPeriod == 0 {
            let loss = TrainingRun.validate(trainer.phi, on: validation, count: configuration.validationSize, steps: configuration.steps, generator: &state.validationGenerator)
            try file.openDataset(TrainFile.validationEpoch).append(rows: [Int64(epoch)])
            try file.openDataset(TrainFile.validationLoss).append(rows: [loss])
            if loss.isFinite, loss < state.best.loss {
                state.best = BestPhi(epoch: epoch, loss: loss, values: trainer.phi.values)
                try TrainFile.writePhi(trainer.phi, to: TrainFile.best, in: file)
                let group = try file.openGroup(TrainFile.best)
                try group.setAttribute("epoch", Int64(epoch))
                try group.setAttribute("validation_loss", loss)
            }
        }
        if epoch % configuration.historyPeriod == 0 {
            try file.openDataset(TrainFile.historyEpoch).append(rows: [Int64(epoch)])
            try file.openDataset(TrainFile.historyValues).append(rows: trainer.phi.values)
        }
        try TrainFile.writePhi(trainer.phi, to: TrainFile.latest, in: file)
        try file.openGroup(TrainFile.latest).setAttribute("epoch", Int64(epoch))
    }

    // MARK: Checkpoints and progress

    /// Stores the state in the file and saves the file whole.
    private func checkpoint() throws {
        state.trainer = trainer.state
        let trajectory = try file.openGroup("trajectory")
        try trajectory.setAttribute("skipped_unrolls", Int64(state.skippedUnrolls))
        try trajectory.setAttribute("collapsed", Int64(collapse.isCollapsed ? 1 : 0))
        try trajectory.setAttribute("collapsed_since", Int64(collapse.since))
        try Checkpoint.write(state, to: file)
        try TrainFile.save(file)
        lastCheckpoint = Date()
        checkpointedTrajectories = state.trajectoriesDone
    }

    private var progressDetail: String {
        let meanFinal = recentFinalLosses.reduce(0, +) / Float(max(recentFinalLosses.count, 1))
        let best = state.best.loss.isFinite ? String(format: "%.4g", state.best.loss) : "–"
        let collapsed = collapse.isCollapsed ? "  COLLAPSED since trajectory \(collapse.since)" : ""
        return "final loss (mean of last \(recentFinalLosses.count)) \(String(format: "%.4g", meanFinal))  best validation \(best)\(collapsed)"
    }
}

extension TrainingRun {
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
}
