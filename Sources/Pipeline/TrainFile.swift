import Foundation
import HDF5
import L2L

/// The layout of `runs/<experiment>/train.h5` (see docs/hdf5-layout.md).
enum TrainFile {
    static let formatName = "l2l-train"

    /// `train.h5` in a run folder.
    static func path(inRun folder: String) -> String {
        URL(fileURLWithPath: folder).appendingPathComponent("train.h5").path
    }
    static let formatVersion: Int32 = 2

    static let trajectoryLoss = "trajectory/loss"
    static let trajectoryFinalLoss = "trajectory/final_loss"
    static let trajectoryMetaLoss = "trajectory/meta_loss"
    static let validationEpoch = "validation/epoch"
    static let validationLoss = "validation/loss"
    static let historyEpoch = "phi/history/epoch"
    static let historyValues = "phi/history/values"
    static let latest = "phi/latest"
    static let best = "phi/best"
    static let checkpointPointer = "checkpoint"
    static let slots = ["checkpoint/a", "checkpoint/b"]

    /// Creates the datasets of a new run, whose optimizee has `coordinates` parameters.
    static func create(_ file: File, configuration: PipelineConfiguration, phi: Phi, coordinates: Int, epochs: Int) throws {
        try file.setAttribute("format", formatName)
        try file.setAttribute("format_version", formatVersion)
        try file.setAttribute("epochs", Int64(epochs))
        let unrolls = unrollsPerTrajectory(configuration)
        let loss = try file.createExtendibleDataset(trajectoryLoss, of: Float.self, rowShape: [configuration.steps], chunkRows: 16, gzipLevel: 4)
        try loss.setAttribute("description", "f(θ_t) at every step t = 0..<steps of each meta-training trajectory, on the minibatch of its gradient")
        let final = try file.createExtendibleDataset(trajectoryFinalLoss, of: Float.self, chunkRows: 256)
        try final.setAttribute("description", "f(θ_steps) at the end of each trajectory, on a fresh minibatch")
        let meta = try file.createExtendibleDataset(trajectoryMetaLoss, of: Double.self, rowShape: [unrolls], chunkRows: 256)
        try meta.setAttribute("description", "the meta-loss Σ_t w_t f(θ_t) of each unroll of each trajectory")
        try file.createExtendibleDataset(validationEpoch, of: Int64.self, chunkRows: 256)
            .setAttribute("description", "trajectories completed when the validation ran")
        try file.createExtendibleDataset(validationLoss, of: Double.self, chunkRows: 256)
            .setAttribute("description", "mean f(θ_steps) of the learned optimizer on fresh validation problems")
        try file.createExtendibleDataset(historyEpoch, of: Int64.self, chunkRows: 64)
        try file.createExtendibleDataset(historyValues, of: Float.self, rowShape: [phi.values.count], chunkRows: 16, gzipLevel: 4)
            .setAttribute("description", "snapshots of φ, flat, in the order of /phi/latest's tensors (see their offset attributes)")
        for group in [latest, best] {
            for tensor in phi.tensors {
                let dataset = try file.createDataset("\(group)/\(tensor.name)", of: Float.self, shape: tensor.shape)
                try dataset.setAttribute("offset", Int64(tensor.offset))
            }
        }
        let phiGroup = try file.openGroup("phi")
        try phiGroup.setAttribute("layers", phi.architecture.hiddenSizes.map { Int64($0) })
        try phiGroup.setAttribute("preprocessing", phi.architecture.preprocessing.description)
        try phiGroup.setAttribute("output_scale", phi.architecture.outputScale)
        try phiGroup.setAttribute("gate_order", "i, j, f, o (c' = σ(f + 1)·c + σ(i)·tanh(j), h' = tanh(c')·σ(o))")
        for slot in slots {
            try file.createDataset("\(slot)/phi", of: Float.self, shape: [phi.values.count])
            try file.createDataset("\(slot)/best_phi", of: Float.self, shape: [phi.values.count])
            try file.createDataset("\(slot)/adam_m", of: Float.self, shape: [phi.values.count])
            try file.createDataset("\(slot)/adam_v", of: Float.self, shape: [phi.values.count])
            try file.createDataset("\(slot)/generators", of: Int64.self, shape: [3, 4])
            try file.createDataset("\(slot)/counters", of: Int64.self, shape: [Int(Checkpoint.Counter.allCases.count)])
            try file.createDataset("\(slot)/best_loss", of: Double.self, shape: [])
            try file.createDataset("\(slot)/trajectory/origin", of: Int64.self, shape: [4])
            try file.createDataset("\(slot)/trajectory/theta", of: Float.self, shape: [coordinates])
            try file.createDataset("\(slot)/trajectory/lstm_state", of: Float.self, shape: [2 * phi.architecture.hiddenSizes.reduce(0, +) * coordinates])
            try file.createDataset("\(slot)/trajectory/loss", of: Float.self, shape: [configuration.steps])
            try file.createDataset("\(slot)/trajectory/meta_loss", of: Double.self, shape: [unrolls])
        }
    }

    static func unrollsPerTrajectory(_ configuration: PipelineConfiguration) -> Int {
        (configuration.steps + configuration.unrollLength - 1) / configuration.unrollLength
    }

    /// Writes every tensor of `phi` into `group` (`phi/latest` or `phi/best`).
    static func writePhi(_ phi: Phi, to group: String, in file: File) throws {
        for tensor in phi.tensors {
            try file.openDataset("\(group)/\(tensor.name)").write(Array(phi.values[tensor.range]))
        }
    }

    /// Reads φ from `group` into the layout of `architecture`.
    static func readPhi(_ group: String, in file: File, architecture: LSTMArchitecture) throws -> Phi {
        var phi = Phi(zerosFor: architecture)
        for tensor in phi.tensors {
            let dataset = try file.openDataset("\(group)/\(tensor.name)")
            guard try dataset.shape == tensor.shape else {
                throw HDF5Error(file: file.filePath, object: "/\(group)/\(tensor.name)", kind: .invalidArgument("shape \(try dataset.shape), expected \(tensor.shape) for this architecture"))
            }
            phi.values.replaceSubrange(tensor.range, with: try dataset.read(Float.self, rank: tensor.shape.count))
        }
        return phi
    }
}

/// A trajectory interrupted between two unrolls (by SIGINT or SIGTERM): where it stands and the
/// log rows of its unrolls so far, which are appended once it ends.
struct PartialTrajectory: Equatable {
    var snapshot: TrajectorySnapshot
    /// f(θ_t) for t = 0..<snapshot.step.
    var losses: [Float]
    /// The meta-loss of each unroll done.
    var metaLosses: [Double]
}

/// What a checkpoint holds besides the logs: everything needed to continue bit for bit.
struct Checkpoint {
    /// The entries of a slot's `counters`, in order; `complete` is written as 1.
    enum Counter: Int, CaseIterable {
        case trajectoriesDone, adamStep, bestEpoch, skippedUnrolls, trajectoryStep, complete
    }

    var phi: [Float]
    var bestPhi: [Float]
    var adam: Adam.State
    var generators: [[UInt64]]  // problems, batches, validation
    var epochsDone: Int
    var bestEpoch: Int
    var bestLoss: Double
    var skippedUnrolls: Int
    /// The trajectory in progress, when the checkpoint was taken between two of its unrolls.
    var partial: PartialTrajectory?

    /// Writes the checkpoint into the slot the pointer does not name, flushes, then points at it:
    /// a kill at any instant leaves the previous checkpoint whole.
    func write(to file: File) throws {
        let current = (try? file.stringAttribute(TrainFile.checkpointPointer)) ?? ""
        let slot = current == TrainFile.slots[0] ? TrainFile.slots[1] : TrainFile.slots[0]
        try file.openDataset("\(slot)/phi").write(phi)
        try file.openDataset("\(slot)/best_phi").write(bestPhi)
        try file.openDataset("\(slot)/adam_m").write(adam.m)
        try file.openDataset("\(slot)/adam_v").write(adam.v)
        try file.openDataset("\(slot)/generators").write(generators.flatMap { $0.map { Int64(bitPattern: $0) } })
        if let partial {
            try file.openDataset("\(slot)/trajectory/origin").write(partial.snapshot.origin.map { Int64(bitPattern: $0) })
            try file.openDataset("\(slot)/trajectory/theta").write(partial.snapshot.theta)
            try file.openDataset("\(slot)/trajectory/lstm_state").write(partial.snapshot.lstmState)
            let loss = try file.openDataset("\(slot)/trajectory/loss"), metaLoss = try file.openDataset("\(slot)/trajectory/meta_loss")
            try loss.write(partial.losses + [Float](repeating: .nan, count: try loss.shape[0] - partial.losses.count))
            try metaLoss.write(partial.metaLosses + [Double](repeating: .nan, count: try metaLoss.shape[0] - partial.metaLosses.count))
        }
        var counters = [Int64](repeating: 0, count: Counter.allCases.count)
        counters[Counter.trajectoriesDone.rawValue] = Int64(epochsDone)
        counters[Counter.adamStep.rawValue] = Int64(adam.step)
        counters[Counter.bestEpoch.rawValue] = Int64(bestEpoch)
        counters[Counter.skippedUnrolls.rawValue] = Int64(skippedUnrolls)
        counters[Counter.trajectoryStep.rawValue] = Int64(partial?.snapshot.step ?? 0)
        counters[Counter.complete.rawValue] = 1
        try file.openDataset("\(slot)/counters").write(counters)
        try file.openDataset("\(slot)/best_loss").write([bestLoss])
        try file.flush()
        try file.setAttribute(TrainFile.checkpointPointer, slot)
        try file.flush()
    }

    /// Reads the slot the pointer names.
    static func read(from file: File) throws -> Checkpoint {
        let slot = try file.stringAttribute(TrainFile.checkpointPointer)
        guard TrainFile.slots.contains(slot) else {
            throw PipelineError(file: file.filePath, key: "/@checkpoint", reason: "names '\(slot)', expected one of \(TrainFile.slots)")
        }
        let counters = try file.openDataset("\(slot)/counters").read(Int64.self, rank: 1)
        let generators = try file.openDataset("\(slot)/generators").read(Int64.self, rank: 2).map { UInt64(bitPattern: $0) }
        guard counters.count == Counter.allCases.count, counters[Counter.complete.rawValue] == 1, generators.count == 12 else {
            throw PipelineError(file: file.filePath, key: "/\(slot)", reason: "an incomplete checkpoint")
        }
        func counter(_ name: Counter) -> Int { Int(counters[name.rawValue]) }

        var partial: PartialTrajectory?
        let step = counter(.trajectoryStep)
        if step > 0 {
            // Unrolls with a non-finite meta-loss are never recorded, so NaN marks the unused rest.
            let metaLosses = try file.openDataset("\(slot)/trajectory/meta_loss").read(Double.self, rank: 1)
            let losses = Array(try file.openDataset("\(slot)/trajectory/loss").read(Float.self, rank: 1).prefix(step))
            partial = PartialTrajectory(
                snapshot: TrajectorySnapshot(
                    origin: try file.openDataset("\(slot)/trajectory/origin").read(Int64.self, rank: 1).map { UInt64(bitPattern: $0) },
                    step: step,
                    theta: try file.openDataset("\(slot)/trajectory/theta").read(Float.self, rank: 1),
                    lstmState: try file.openDataset("\(slot)/trajectory/lstm_state").read(Float.self, rank: 1)),
                losses: losses,
                metaLosses: Array(metaLosses.prefix { !$0.isNaN }))
        }
        return Checkpoint(
            phi: try file.openDataset("\(slot)/phi").read(Float.self, rank: 1),
            bestPhi: try file.openDataset("\(slot)/best_phi").read(Float.self, rank: 1),
            adam: Adam.State(
                m: try file.openDataset("\(slot)/adam_m").read(Float.self, rank: 1),
                v: try file.openDataset("\(slot)/adam_v").read(Float.self, rank: 1), step: counter(.adamStep)),
            generators: [Array(generators[0..<4]), Array(generators[4..<8]), Array(generators[8..<12])],
            epochsDone: counter(.trajectoriesDone), bestEpoch: counter(.bestEpoch),
            bestLoss: try file.openDataset("\(slot)/best_loss").read(Double.self, rank: 0)[0],
            skippedUnrolls: counter(.skippedUnrolls), partial: partial)
    }
}
