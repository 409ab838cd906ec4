import Foundation
import HDF5
import L2L

/// One `l2l-train` process's work on a run: the loop over unrolls, and the four things it does
/// around them, each in its own method: the failure policy (`unroll`), the logs of a finished
/// trajectory with validation and snapshots (`endTrajectory`), checkpoints (`checkpoint`) and
/// progress.
final class TrainingSession<P: Problem, V: Problem> {
    private let configuration: PipelineConfiguration
    private let resumeCommand: String
    private let epochs: Int
    private let checkpointInterval: Double
    private let file: File
    private let trainer: MetaTrainer<P>
    private let validation: V
    /// Where the run stands; its `trainer` part is refreshed from `trainer` at each checkpoint.
    private var state: TrainingState

    private var consecutiveFailures = 0
    private var recentFinalLosses: [Float] = []
    private var recentMetaGradientNorms: [Double] = []
    private var collapse: CollapseDetector
    private var lastCheckpoint = Date()
    private var checkpointedTrajectories: Int

    init(run: TrainingRun, file: File, state: TrainingState, training: P, validation: V) throws {
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
            if try reevaluateCandidates() { try checkpoint() }
            note("\(file.filePath): already trained for \(state.trajectoriesDone) of \(epochs) trajectories; nothing to do")
            return .completed(epochs: state.trajectoriesDone)
        }
        if state.candidatesReevaluated {
            // Training goes on past an earlier end: /phi/best is the running best again until
            // the new end re-evaluates the candidates.
            state.candidatesReevaluated = false
            try writeBest(state.best)
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
        let reevaluated = try reevaluateCandidates()
        if reevaluated || checkpointedTrajectories != state.trajectoriesDone { try checkpoint() }
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
            state.pendingMetaGradientNorms = []
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
        state.pendingMetaGradientNorms.append(record.metaGradientNorm)
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
        if file.contains(TrainFile.trajectoryComponent) {
            try file.openDataset(TrainFile.trajectoryComponent).append(rows: record.components.map(Int32.init))
        }
        try file.openDataset(TrainFile.trajectoryMetaGradientNorm).append(rows: state.pendingMetaGradientNorms)
        recentMetaGradientNorms = Array((recentMetaGradientNorms + state.pendingMetaGradientNorms).suffix(20))
        state.pendingMetaGradientNorms = []
        state.pendingLosses = []
        state.pendingMetaLosses = []
        recentFinalLosses = Array((recentFinalLosses + [record.finalLoss]).suffix(20))

        let validation = configuration.validation
        if epoch % validation.period == 0 {
            let loss = ValidationConfiguration.validate(trainer.phi, on: self.validation, count: validation.size, steps: configuration.steps,
                                                        score: validation.score, generator: &state.validationGenerator)
            try file.openDataset(TrainFile.validationEpoch).append(rows: [Int64(epoch)])
            try file.openDataset(TrainFile.validationLoss).append(rows: [loss])
            let validated = BestPhi(epoch: epoch, loss: loss, values: trainer.phi.values)
            state.candidates?.offer(validated)
            if loss.isFinite, loss < state.best.loss {
                state.best = validated
                try writeBest(validated)
            }
        }
        if epoch % configuration.historyPeriod == 0 {
            try file.openDataset(TrainFile.historyEpoch).append(rows: [Int64(epoch)])
            try file.openDataset(TrainFile.historyValues).append(rows: trainer.phi.values)
        }
        try TrainFile.writePhi(trainer.phi, to: TrainFile.latest, in: file)
        try file.openGroup(TrainFile.latest).setAttribute("epoch", Int64(epoch))
    }

    // MARK: Model selection

    /// Writes `best` as `/phi/best` with its epoch, its validation score and, once the top-k
    /// candidates were re-evaluated, its re-evaluated score (removed again when training goes on).
    private func writeBest(_ best: BestPhi, reevaluatedLoss: Double? = nil) throws {
        var phi = trainer.phi
        phi.values = best.values
        try TrainFile.writePhi(phi, to: TrainFile.best, in: file)
        let group = try file.openGroup(TrainFile.best)
        try group.setAttribute("epoch", Int64(best.epoch))
        try group.setAttribute("validation_loss", best.loss)
        if let reevaluatedLoss {
            try group.setAttribute("reevaluated_loss", reevaluatedLoss)
        } else if group.hasAttribute("reevaluated_loss") {
            try group.removeAttribute("reevaluated_loss")
        }
        if let candidates = state.candidates {
            try group.setAttribute("selection", reevaluatedLoss == nil
                ? "the best validation score so far (the top \(candidates.capacity) are re-evaluated when training ends)"
                : "the best of the top \(candidates.capacity) validation scores, re-evaluated on fresh problems")
        }
    }

    /// With `training.validation.top_k`, at the end of training: runs every candidate on the same
    /// fresh validation problems, writes `/validation/top_k/*` and makes the best `/phi/best`.
    /// Returns whether it ran (not when there are no candidates or they were re-evaluated already).
    private func reevaluateCandidates() throws -> Bool {
        guard let candidates = state.candidates, !state.candidatesReevaluated, !candidates.members.isEmpty else { return false }
        let selection = configuration.validation
        note("re-evaluating the \(candidates.members.count) best φ on \(selection.size) fresh validation problems each (training.validation.top_k)")
        var phi = trainer.phi
        let scores = candidates.members.map { candidate in
            phi.values = candidate.values
            var generator = Generator(seed: configuration.seed, purpose: "validation/top_k")
            return ValidationConfiguration.validate(phi, on: validation, count: selection.size, steps: configuration.steps,
                                                    score: selection.score, generator: &generator)
        }
        let group = try file.openGroup("validation")
        if group.contains("top_k") { try group.remove("top_k") }
        let count = candidates.members.count
        try group.createDataset("top_k/epoch", values: candidates.members.map { Int64($0.epoch) }, shape: [count])
            .setAttribute("description", "trajectories done when each of the best-scoring φ was validated")
        try group.createDataset("top_k/loss", values: candidates.members.map(\.loss), shape: [count])
            .setAttribute("description", "each candidate's validation score during training")
        try group.createDataset("top_k/reevaluated_loss", values: scores, shape: [count])
            .setAttribute("description", "each candidate's score on the same fresh validation problems, after training")
        let winner = scores.indices.min { scores[$0] < scores[$1] } ?? 0
        try writeBest(candidates.members[winner], reevaluatedLoss: scores[winner])
        state.candidatesReevaluated = true
        note("/phi/best: trajectory \(candidates.members[winner].epoch), re-evaluated score \(String(format: "%.4g", scores[winner])) (during training \(String(format: "%.4g", candidates.members[winner].loss)))")
        return true
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
        let norms = recentMetaGradientNorms.filter(\.isFinite).sorted()
        let norm = norms.isEmpty ? "" : "  ‖∂L/∂φ‖ \(String(format: "%.2g", norms[norms.count / 2]))"
        return "final loss (mean of last \(recentFinalLosses.count)) \(String(format: "%.4g", meanFinal))  best validation \(best)\(norm)\(collapsed)"
    }
}
