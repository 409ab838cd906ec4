import Foundation
import HDF5
import L2L

/// The layout of `runs/<experiment>/train.h5` (see docs/hdf5-layout.md).
///
/// The stage holds the file in memory and saves it whole at each checkpoint (`File.save()`), so
/// the file on disk is always one complete checkpoint with the logs it vouches for: a kill, a
/// full disk or a failed write at any moment leaves the previous one.
enum TrainFile {
    static let formatName = "l2l-train"
    /// 3: one named `/checkpoint` (the file is replaced whole, so no alternating slots).
    static let formatVersion: Int32 = 3
    /// Versions whose φ (`/phi/best`, `/phi/latest`) this code still reads, for evaluation.
    static let readableVersions: ClosedRange<Int32> = 2...3

    static let trajectoryLoss = "trajectory/loss"
    static let trajectoryFinalLoss = "trajectory/final_loss"
    static let trajectoryMetaLoss = "trajectory/meta_loss"
    static let trajectoryMetaGradientNorm = "trajectory/meta_gradient_norm"
    /// Only for a mixture: the component each trajectory drew.
    static let trajectoryComponent = "trajectory/component"
    static let validationEpoch = "validation/epoch"
    static let validationLoss = "validation/loss"
    static let historyEpoch = "phi/history/epoch"
    static let historyValues = "phi/history/values"
    static let latest = "phi/latest"
    static let best = "phi/best"
    static let checkpoint = "checkpoint"

    /// Creates the datasets of a new run, whose optimizee has `coordinates` parameters.
    static func create(_ file: File, configuration: PipelineConfiguration, phi: Phi, coordinates: Int, epochs: Int) throws {
        try file.setAttribute("format", formatName)
        try file.setAttribute("format_version", formatVersion)
        try file.setAttribute("run_id", UUID().uuidString.lowercased())
        try file.setAttribute("epochs", Int64(epochs))
        let unrolls = unrollsPerTrajectory(configuration)
        let loss = try file.createExtendibleDataset(trajectoryLoss, of: Float.self, rowShape: [configuration.steps], chunkRows: 16, gzipLevel: 4)
        try loss.setAttribute("description", "f(θ_t) at every step t = 0..<steps of each meta-training trajectory, on the minibatch of its gradient")
        let final = try file.createExtendibleDataset(trajectoryFinalLoss, of: Float.self, chunkRows: 256)
        try final.setAttribute("description", "f(θ_steps) at the end of each trajectory, on a fresh minibatch")
        let meta = try file.createExtendibleDataset(trajectoryMetaLoss, of: Double.self, rowShape: [unrolls], chunkRows: 256)
        try meta.setAttribute("description", "the meta-loss Σ_t w_t f(θ_t) of each unroll of each trajectory")
        try createMetaGradientNorms(in: file, unrolls: unrolls)
        if case let .mixture(components) = configuration.optimizee {
            let dataset = try file.createExtendibleDataset(trajectoryComponent, of: Int32.self, rowShape: [configuration.trajectoriesPerUpdate], chunkRows: 256)
            try dataset.setAttribute("description", "the index in the optimizee list (0-based) of the mixture component each trajectory drew, one per trajectory of the update (training.trajectories_per_update)")
            try dataset.setAttribute("components", components.enumerated().map { "\($0): weight \($1.weight), \($1.optimizee)" }.joined(separator: "\n"))
        }
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
        try Checkpoint.create(in: file, parameters: phi.values.count)
    }

    /// `/trajectory/meta_gradient_norm`, one row per trajectory.
    static func createMetaGradientNorms(in file: File, unrolls: Int) throws {
        try file.createExtendibleDataset(trajectoryMetaGradientNorm, of: Double.self, rowShape: [unrolls], chunkRows: 256)
            .setAttribute("description", "‖∂L/∂φ‖ of each unroll before clipping (near zero: φ's updates no longer move the optimizee; NaN: trained by an l2l-train that did not record it)")
    }

    /// The pipeline a run was trained with (its `configuration` attribute), parsed. A text that
    /// does not parse with this version is an error of its own, naming the attribute; it is
    /// never taken for changed settings.
    static func storedConfiguration(in file: File, stage: String) throws -> (text: String, configuration: PipelineConfiguration) {
        let text: String
        do {
            text = try file.stringAttribute("configuration")
        } catch {
            throw RunError(file: file.filePath, object: "/@configuration", "cannot be read: \(error)")
        }
        do {
            return (text, try PipelineConfiguration(text: text, path: file.filePath + " (its configuration attribute)"))
        } catch {
            throw RunError(file: file.filePath, object: "/@configuration",
                           "the stored pipeline does not parse with this \(stage): \(error.reason) (at \(error.key.isEmpty ? "its top" : "'\(error.key)'")\(error.line.map { ", line \($0)" } ?? "")); the file is left as it is")
        }
    }

    /// Saves the run to disk whole; a failed write (a full disk) says that the previous
    /// checkpoint on disk is intact and how to continue.
    static func save(_ file: File) throws {
        do {
            try file.save()
        } catch {
            guard case .system = error.kind else { throw error }
            throw RunError(file: file.filePath, "\(error); the run on disk is as its previous checkpoint left it: free space, then continue with --resume")
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

    /// The snapshots of φ in `/phi/history`, read once; each snapshot's φ is made on demand.
    struct History {
        let path: String
        /// Trajectories done when each snapshot was taken.
        let epochs: [Int64]
        let values: [Float]
        let architecture: LSTMArchitecture

        /// Snapshot `index` as φ, refused (naming it) when it holds a NaN or an infinity.
        func phi(_ index: Int) throws -> Phi {
            var phi = Phi(zerosFor: architecture)
            let size = phi.values.count
            phi.values = Array(values[index * size..<(index + 1) * size])
            if let bad = phi.values.firstIndex(where: { !$0.isFinite }) {
                throw RunError(file: path, object: "/\(historyValues)", "snapshot \(index) (trajectory \(epochs[index])) holds a non-finite value at flat index \(bad); this φ cannot be used")
            }
            return phi
        }
    }

    /// `/phi/history` of `file`, refused when its values do not fill one φ of `architecture` per snapshot.
    static func history(in file: File, architecture: LSTMArchitecture) throws -> History {
        let epochs = try file.openDataset(historyEpoch).read(Int64.self)
        let values = try file.openDataset(historyValues).read(Float.self, rank: 2)
        let size = Phi(zerosFor: architecture).values.count
        guard values.count == epochs.count * size else {
            throw RunError(file: file.filePath, object: "/\(historyValues)", "holds \(values.count) values for \(epochs.count) snapshots of \(size)")
        }
        return History(path: file.filePath, epochs: epochs, values: values, architecture: architecture)
    }

    /// Reads φ from `group` into the layout of `architecture`, refusing a tensor of another
    /// shape or type, or one holding a NaN or an infinity (naming the tensor).
    static func readPhi(_ group: String, in file: File, architecture: LSTMArchitecture) throws -> Phi {
        var phi = Phi(zerosFor: architecture)
        for tensor in phi.tensors {
            let name = "\(group)/\(tensor.name)"
            let dataset = try file.openDataset(name)
            guard try dataset.shape == tensor.shape else {
                throw RunError(file: file.filePath, object: "/\(name)", "has shape \(try dataset.shape), this architecture needs \(tensor.shape)")
            }
            let values = try dataset.read(Float.self, rank: tensor.shape.count)
            if let index = values.firstIndex(where: { !$0.isFinite }) {
                throw RunError(file: file.filePath, object: "/\(name)", "holds a non-finite value (\(values[index]) at flat index \(index)); this φ cannot be used")
            }
            phi.values.replaceSubrange(tensor.range, with: values)
        }
        return phi
    }
}

/// The best φ found by validation so far.
struct BestPhi: Equatable {
    /// Trajectories done when it was validated (0: no validation yet).
    var epoch: Int
    var loss: Double
    var values: [Float]
}

/// Where a training run stands, as one value: what the checkpoint stores, enough to continue
/// bit for bit.
struct TrainingState: Equatable {
    /// φ, Adam, the problem and minibatch generators, the trajectory in progress.
    var trainer: MetaTrainerState
    /// Draws the validation problems.
    var validationGenerator: Generator
    var trajectoriesDone: Int
    /// Unrolls with a non-finite value, skipped (see `/trajectory@skipped_unrolls`).
    var skippedUnrolls: Int
    var best: BestPhi
    /// The log rows of the trajectory in progress, appended once it ends: f(θ_t) for
    /// t = 0..<step, and the meta-loss of each of its unrolls so far.
    var pendingLosses: [Float] = []
    var pendingMetaLosses: [Double] = []
    var pendingMetaGradientNorms: [Double] = []
    /// With `training.validation.top_k`: the best-scoring φ so far, and whether the end-of-training
    /// re-evaluation has chosen `/phi/best` among them for the trajectories done.
    var candidates: ValidationCandidates? = nil
    var candidatesReevaluated = false

    /// A run before its first unroll.
    static func initial(_ configuration: PipelineConfiguration) -> TrainingState {
        let trainer = MetaTrainerState.initial(architecture: configuration.architecture, seed: configuration.seed)
        return TrainingState(
            trainer: trainer, validationGenerator: Generator(seed: configuration.seed, purpose: "validation"),
            trajectoriesDone: 0, skippedUnrolls: 0, best: BestPhi(epoch: 0, loss: .infinity, values: trainer.phi.values),
            candidates: configuration.validation.topK.map { ValidationCandidates(capacity: $0) })
    }
}

/// The `/checkpoint` group of `train.h5`: a `TrainingState` by name. Counters are attributes,
/// the generators' states datasets named by purpose, and the trajectory in progress (only while
/// `trajectory_step` > 0) the group `trajectory`.
enum Checkpoint {
    enum Counter: String, CaseIterable {
        case trajectoriesDone = "trajectories_done", adamStep = "adam_step", skippedUnrolls = "skipped_unrolls"
        case bestEpoch = "best_epoch", trajectoryStep = "trajectory_step"
    }
    static let generators = ["problems", "batches", "validation"]

    static func create(in file: File, parameters: Int) throws {
        let group = TrainFile.checkpoint
        for name in ["phi", "best_phi", "adam_m", "adam_v"] {
            try file.createDataset("\(group)/\(name)", of: Float.self, shape: [parameters])
        }
        for name in generators {
            try file.createDataset("\(group)/generators/\(name)", of: Int64.self, shape: [4])
                .setAttribute("description", "xoshiro256** state (four 64-bit words, stored as their bit patterns)")
        }
    }

    /// Writes `state` into the file (in memory; `File.save()` makes it durable).
    static func write(_ state: TrainingState, to file: File) throws {
        let group = try file.openGroup(TrainFile.checkpoint)
        let counters: [Counter: Int] = [
            .trajectoriesDone: state.trajectoriesDone, .adamStep: state.trainer.adam.step, .skippedUnrolls: state.skippedUnrolls,
            .bestEpoch: state.best.epoch, .trajectoryStep: state.trainer.trajectory?.step ?? 0,
        ]
        for (counter, value) in counters { try group.setAttribute(counter.rawValue, Int64(value)) }
        try group.setAttribute("best_loss", state.best.loss)
        try group.openDataset("phi").write(state.trainer.phi.values)
        try group.openDataset("best_phi").write(state.best.values)
        try group.openDataset("adam_m").write(state.trainer.adam.m)
        try group.openDataset("adam_v").write(state.trainer.adam.v)
        let generatorStates = [state.trainer.problemGenerator, state.trainer.batchGenerator, state.validationGenerator]
        for (name, generator) in zip(generators, generatorStates) {
            try group.openDataset("generators/\(name)").write(generator.state.map { Int64(bitPattern: $0) })
        }
        if let candidates = state.candidates {
            if group.contains("candidates") { try group.remove("candidates") }
            let members = candidates.members
            try group.createDataset("candidates/epoch", values: members.map { Int64($0.epoch) }, shape: [members.count])
            try group.createDataset("candidates/loss", values: members.map(\.loss), shape: [members.count])
            try group.createDataset("candidates/values", values: members.flatMap(\.values), shape: [members.count, state.best.values.count])
            try group.openGroup("candidates").setAttribute("reevaluated", Int64(state.candidatesReevaluated ? 1 : 0))
        }
        // The trajectory in progress has a group of its own only while there is one.
        if group.contains("trajectory") { try group.remove("trajectory") }
        // K = 1 writes vectors, as format 3 always has; K > 1 one row per trajectory.
        let trajectories = state.trainer.trajectories
        if let trajectory = trajectories.first {
            let rows = trajectories.count == 1 ? [] : [trajectories.count]
            try group.createDataset("trajectory/origin", values: trajectories.flatMap(\.origin).map { Int64(bitPattern: $0) }, shape: rows + [4])
            try group.createDataset("trajectory/theta", values: trajectories.flatMap(\.theta), shape: rows + [trajectory.theta.count])
            try group.createDataset("trajectory/lstm_state", values: trajectories.flatMap(\.lstmState), shape: rows + [trajectory.lstmState.count])
            try group.createDataset("trajectory/loss", values: state.pendingLosses, shape: [state.pendingLosses.count])
            try group.createDataset("trajectory/meta_loss", values: state.pendingMetaLosses, shape: [state.pendingMetaLosses.count])
            try group.createDataset("trajectory/meta_gradient_norm", values: state.pendingMetaGradientNorms, shape: [state.pendingMetaGradientNorms.count])
        }
    }

    /// Reads the state a checkpoint holds, checking every value's count, φ's finiteness and the
    /// generators' states (each error names the object); the top-k candidates when `topK` is set.
    static func read(from file: File, architecture: LSTMArchitecture, topK: Int? = nil) throws -> TrainingState {
        let group = try file.openGroup(TrainFile.checkpoint)
        let object = "/\(TrainFile.checkpoint)"
        func counter(_ counter: Counter) throws -> Int {
            let value = try group.attribute(counter.rawValue, as: Int64.self)
            guard value >= 0 else { throw RunError(file: file.filePath, object: "\(object)@\(counter.rawValue)", "is \(value), expected a count ≥ 0") }
            return Int(value)
        }
        let parameters = Phi(zerosFor: architecture).values.count
        func vector(_ name: String, finite: Bool) throws -> [Float] {
            let values = try group.openDataset(name).read(Float.self, rank: 1)
            guard values.count == parameters else {
                throw RunError(file: file.filePath, object: "\(object)/\(name)", "has \(values.count) values, this architecture's φ \(parameters)")
            }
            if finite, let index = values.firstIndex(where: { !$0.isFinite }) {
                throw RunError(file: file.filePath, object: "\(object)/\(name)", "holds a non-finite value (\(values[index]) at index \(index))")
            }
            return values
        }
        func generator(_ name: String) throws -> Generator {
            let words = try group.openDataset("generators/\(name)").read(Int64.self, rank: 1).map { UInt64(bitPattern: $0) }
            guard let generator = Generator(state: words) else {
                throw RunError(file: file.filePath, object: "\(object)/generators/\(name)", "is not a xoshiro256** state (four words, not all zero)")
            }
            return generator
        }

        var phi = Phi(zerosFor: architecture)
        phi.values = try vector("phi", finite: true)
        var state = TrainingState(
            trainer: MetaTrainerState(
                phi: phi, adam: Adam.State(m: try vector("adam_m", finite: true), v: try vector("adam_v", finite: true), step: try counter(.adamStep)),
                problemGenerator: try generator("problems"), batchGenerator: try generator("batches")),
            validationGenerator: try generator("validation"),
            trajectoriesDone: try counter(.trajectoriesDone), skippedUnrolls: try counter(.skippedUnrolls),
            best: BestPhi(epoch: try counter(.bestEpoch), loss: try group.attribute("best_loss", as: Double.self), values: try vector("best_phi", finite: true)))
        if let topK {
            state.candidates = try candidates(in: group, file: file, capacity: topK, parameters: parameters)
            state.candidatesReevaluated = try group.openGroup("candidates").attribute("reevaluated", as: Int64.self) == 1
        }
        let step = try counter(.trajectoryStep)
        if step > 0 {
            guard group.contains("trajectory") else {
                throw RunError(file: file.filePath, object: "\(object)/trajectory", "is missing, but trajectory_step is \(step)")
            }
            let losses = try group.openDataset("trajectory/loss").read(Float.self, rank: 1)
            guard losses.count == step else {
                throw RunError(file: file.filePath, object: "\(object)/trajectory/loss", "has \(losses.count) values, trajectory_step is \(step)")
            }
            state.pendingLosses = losses
            state.pendingMetaLosses = try group.openDataset("trajectory/meta_loss").read(Double.self, rank: 1)
            // A checkpoint of an l2l-train that did not record the norms: unknown for these unrolls.
            state.pendingMetaGradientNorms = group.contains("trajectory/meta_gradient_norm")
                ? try group.openDataset("trajectory/meta_gradient_norm").read(Double.self, rank: 1)
                : [Double](repeating: .nan, count: state.pendingMetaLosses.count)
            // One row per trajectory in progress (a vector when there is one).
            func rows<Element: HDF5Element>(_ name: String, of type: Element.Type) throws -> [[Element]] {
                let dataset = try group.openDataset("trajectory/\(name)")
                let shape = try dataset.shape
                guard shape.count == 1 || shape.count == 2, let width = shape.last, width > 0 else {
                    throw RunError(file: file.filePath, object: "\(object)/trajectory/\(name)", "has shape \(shape), expected a vector or one row per trajectory")
                }
                let values = try dataset.read(type)
                return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<$0 + width]) }
            }
            let origins = try rows("origin", of: Int64.self), thetas = try rows("theta", of: Float.self)
            let lstmStates = try rows("lstm_state", of: Float.self)
            guard origins.count == thetas.count, thetas.count == lstmStates.count else {
                throw RunError(file: file.filePath, object: "\(object)/trajectory", "holds \(origins.count) origins, \(thetas.count) θ and \(lstmStates.count) LSTM states; expected one of each per trajectory")
            }
            state.trainer.trajectories = origins.indices.map {
                TrajectorySnapshot(origin: origins[$0].map { UInt64(bitPattern: $0) }, step: step, theta: thetas[$0], lstmState: lstmStates[$0])
            }
        }
        return state
    }

    private static func candidates(in group: Group, file: File, capacity: Int, parameters: Int) throws -> ValidationCandidates {
        let object = "/\(TrainFile.checkpoint)/candidates"
        guard group.contains("candidates") else { throw RunError(file: file.filePath, object: object, "is missing (training.validation.top_k is set)") }
        let epochs = try group.openDataset("candidates/epoch").read(Int64.self)
        let losses = try group.openDataset("candidates/loss").read(Double.self)
        let values = try group.openDataset("candidates/values").read(Float.self, rank: 2)
        guard losses.count == epochs.count, values.count == epochs.count * parameters, epochs.count <= capacity else {
            throw RunError(file: file.filePath, object: object, "holds \(epochs.count) epochs, \(losses.count) losses and \(values.count) values; expected at most \(capacity) candidates of \(parameters) values")
        }
        if let index = values.firstIndex(where: { !$0.isFinite }) {
            throw RunError(file: file.filePath, object: "\(object)/values", "holds a non-finite value at flat index \(index)")
        }
        let members = epochs.indices.map { BestPhi(epoch: Int(epochs[$0]), loss: losses[$0], values: Array(values[$0 * parameters..<($0 + 1) * parameters])) }
        return ValidationCandidates(capacity: capacity, members: members)
    }
}
