/// The hyperparameters of meta-training (paper §2 and §3; the released code's defaults).
public struct MetaTrainingConfiguration: Sendable, Equatable {
    /// Optimizee steps per trajectory.
    public var steps: Int
    /// Steps per truncated unroll: φ is updated after each (the last one of a trajectory may be shorter).
    public var unrollLength: Int
    /// Learning rate of Adam on φ.
    public var metaLearningRate: Float
    /// w_0 … w_T of the meta-loss Σ_t w_t f(θ_t), T = `unrollLength`; all 1 when nil.
    public var lossWeights: [Float]?
    /// When set, a meta-gradient ∂L/∂φ whose Euclidean norm exceeds it is scaled down to that
    /// norm before Adam's step (a stabiliser against the collapses of large meta learning rates).
    public var metaGradientClip: Float?
    /// K: optimizee instances trained side by side, each with its own θ₀, minibatches and LSTM
    /// state; every φ update follows the mean of their K meta-losses (1: the paper's one).
    public var trajectoriesPerUpdate: Int
    /// How Adam's learning rate on φ changes with its step (constant: as the paper).
    public var schedule: LearningRateSchedule

    public init(steps: Int = 100, unrollLength: Int = 20, metaLearningRate: Float = 0.001, lossWeights: [Float]? = nil,
                metaGradientClip: Float? = nil, trajectoriesPerUpdate: Int = 1, schedule: LearningRateSchedule = .constant) {
        precondition(steps > 0 && unrollLength > 0 && trajectoriesPerUpdate > 0, "steps, unrollLength and trajectoriesPerUpdate must be positive")
        precondition(lossWeights.map { $0.count == unrollLength + 1 } ?? true, "lossWeights needs unrollLength + 1 values")
        self.steps = steps
        self.unrollLength = unrollLength
        self.metaLearningRate = metaLearningRate
        self.lossWeights = lossWeights
        self.metaGradientClip = metaGradientClip
        self.trajectoriesPerUpdate = trajectoriesPerUpdate
        self.schedule = schedule
    }

    /// Scales `gradient` down to norm `clip` when its Euclidean norm exceeds it; returns the
    /// norm it had.
    @discardableResult
    public static func clip(_ gradient: inout [Float], norm clip: Float) -> Double {
        let norm = norm(gradient)
        if norm > Double(clip) {
            let scale = Float(Double(clip) / norm)
            for index in gradient.indices { gradient[index] *= scale }
        }
        return norm
    }

    /// The Euclidean norm of `gradient`, accumulated in double precision.
    public static func norm(_ gradient: [Float]) -> Double {
        gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }

    /// The weights of an unroll of `length` steps.
    func weights(length: Int) -> [Float] {
        Array((lossWeights ?? [Float](repeating: 1, count: unrollLength + 1)).prefix(length + 1))
    }
}

/// Why an unroll's meta-gradient could not be used.
public enum MetaTrainingError: Error, CustomStringConvertible, Sendable {
    /// The optimizee's gradient became NaN or infinite during the unroll.
    case nonFiniteGradient(step: Int, NonFiniteGradientError)
    /// The meta-loss, or its gradient with respect to φ, is NaN or infinite.
    case nonFiniteMetaLoss(step: Int, metaLoss: Double)

    public var description: String {
        switch self {
        case let .nonFiniteGradient(step, error):
            return "at trajectory step \(step): \(error)"
        case let .nonFiniteMetaLoss(step, metaLoss):
            return "the meta-loss of the unroll starting at trajectory step \(step) is not finite (\(metaLoss)) or has a non-finite gradient; φ was not updated"
        }
    }
}

/// The trajectory being optimized: the optimizee instance, θ, the LSTM's state, the step reached.
public struct Trajectory<Instance: Optimizee> {
    public var instance: Instance
    public var theta: [Float]
    public var state: LSTMState
    public var step: Int
    /// The problem generator before `instance` and θ₀ were drawn (what a snapshot saves); nil
    /// for a trajectory made elsewhere.
    public var origin: Generator? = nil
}

/// A trajectory in progress, as a checkpoint saves it: the optimizee instance is not stored but
/// drawn again from `origin`, the problem generator's state before the trajectory began, so that
/// any `Problem` can be checkpointed mid-trajectory without serialising its instances.
public struct TrajectorySnapshot: Sendable, Equatable {
    /// The problem generator's state before the instance and θ₀ were drawn.
    public var origin: [UInt64]
    /// Optimizee steps done (a multiple of the unroll length, below `steps`).
    public var step: Int
    /// θ_step.
    public var theta: [Float]
    /// The LSTM's state, as `LSTMState.flattened` gives it.
    public var lstmState: [Float]

    public init(origin: [UInt64], step: Int, theta: [Float], lstmState: [Float]) {
        self.origin = origin
        self.step = step
        self.theta = theta
        self.lstmState = lstmState
    }
}

/// Why a snapshot cannot continue in this trainer.
public struct SnapshotMismatch: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public var description: String { reason }
}

/// What one unroll did.
public struct UnrollRecord: Sendable {
    /// The trajectory step the unroll started at.
    public let startStep: Int
    /// f(θ_t) for each step of the unroll, on the minibatch its gradient used.
    public let losses: [Float]
    /// f(θ_T) at the end of the unroll, on a fresh minibatch.
    public let finalLoss: Float
    /// Σ_t w_t f(θ_t) (the mean over the trajectories of the update when K > 1).
    public let metaLoss: Double
    /// ‖∂L/∂φ‖ before clipping: near zero when φ's updates no longer move the optimizee.
    public var metaGradientNorm: Double = .nan
    /// Whether this unroll ended its trajectory.
    public let endsTrajectory: Bool
    /// The mixture component each of the update's K trajectories was drawn from (`Optimizee.component`).
    public var components: [Int] = []
}

/// Everything meta-training carries from one unroll to the next, as one value: φ, Adam's moments
/// and step on φ, the generators of problem instances and of minibatches, and the trajectory in
/// progress. A checkpoint that stores it lets `MetaTrainer(problem:configuration:state:)` continue
/// bit for bit.
public struct MetaTrainerState: Sendable, Equatable {
    public var phi: Phi
    /// Adam's moments and step count for φ.
    public var adam: Adam.State
    /// Draws problem instances and θ₀.
    public var problemGenerator: Generator
    /// Draws minibatches.
    public var batchGenerator: Generator
    /// The trajectories in progress (between two of their unrolls; `trajectoriesPerUpdate` of
    /// them, or none between trajectories).
    public var trajectories: [TrajectorySnapshot]

    /// The first trajectory in progress (the only one unless `trajectoriesPerUpdate` > 1).
    public var trajectory: TrajectorySnapshot? {
        get { trajectories.first }
        set { trajectories = newValue.map { [$0] } ?? [] }
    }

    public init(phi: Phi, adam: Adam.State, problemGenerator: Generator, batchGenerator: Generator, trajectories: [TrajectorySnapshot] = []) {
        self.phi = phi
        self.adam = adam
        self.problemGenerator = problemGenerator
        self.batchGenerator = batchGenerator
        self.trajectories = trajectories
    }

    /// The state before the first unroll: φ drawn from the seed's "phi" generator (Appendix A's
    /// initialisation), Adam at step 0, the "problems" and "batches" generators at their start.
    public static func initial(architecture: LSTMArchitecture, seed: UInt64) -> MetaTrainerState {
        var phiGenerator = Generator(seed: seed, purpose: "phi")
        let phi = Phi(initializing: architecture, using: &phiGenerator)
        return MetaTrainerState(
            phi: phi, adam: Adam.State(m: [Float](repeating: 0, count: phi.values.count), v: [Float](repeating: 0, count: phi.values.count), step: 0),
            problemGenerator: Generator(seed: seed, purpose: "problems"), batchGenerator: Generator(seed: seed, purpose: "batches"))
    }
}

/// Meta-training (paper eq. 3–5, §2): trajectories of `steps` optimizee steps cut into unrolls of
/// `unrollLength`; θ and the LSTM state carry across the unrolls of a trajectory; after each
/// unroll, ∂L/∂φ by back-propagation through time and one Adam step on φ. Each trajectory starts
/// from a fresh optimizee instance, θ₀ and a zero LSTM state. With `trajectoriesPerUpdate` K > 1,
/// K trajectories advance together and each step on φ follows the mean of their meta-losses,
/// L = (1/K) Σ_k Σ_t w_t f_k(θ_t^k), whose gradient is the mean of theirs.
///
/// Randomness: φ's initialisation, problem instances with their θ₀, and minibatches each come
/// from their own generator derived from `seed`; their states are public so a checkpoint can
/// save and restore them.
public final class MetaTrainer<P: Problem> {
    public let problem: P
    public let configuration: MetaTrainingConfiguration
    public private(set) var phi: Phi
    /// Adam's moments and step count for φ.
    public var metaState: Adam.State
    /// Draws problem instances and θ₀.
    public var problemGenerator: Generator
    /// Draws minibatches.
    public var batchGenerator: Generator
    /// The trajectories in progress (K of them), or none between trajectories.
    public var trajectories: [Trajectory<P.Instance>] = []
    /// The first trajectory in progress (the only one when K = 1).
    public var trajectory: Trajectory<P.Instance>? { trajectories.first }
    /// ∂L/∂φ of the last update (after averaging over the K trajectories, before clipping).
    public private(set) var lastMetaGradient: [Float] = []

    /// One tape per number of coordinates met (one, except for a `MixtureProblem`), so that a
    /// mixture's trajectories do not reallocate theirs.
    private var tapes: [Int: Tape] = [:]
    private var gradient: [Float] = []
    private var dPhi: [Float]
    private var dPhiOne: [Float] = []

    public convenience init(problem: P, architecture: LSTMArchitecture, configuration: MetaTrainingConfiguration = .init(), seed: UInt64) {
        self.init(problem: problem, configuration: configuration, between: .initial(architecture: architecture, seed: seed))
    }

    /// A trainer that continues from `state` (a checkpoint's), its trajectory's instance drawn
    /// again from the snapshot's origin.
    ///
    /// - Throws: `SnapshotMismatch` when Adam's moments do not fit φ, or the trajectory does not
    ///   fit this problem or configuration.
    public convenience init(problem: P, configuration: MetaTrainingConfiguration, state: MetaTrainerState) throws(SnapshotMismatch) {
        guard state.adam.m.count == state.phi.values.count, state.adam.v.count == state.phi.values.count else {
            throw SnapshotMismatch(reason: "Adam's moments have \(state.adam.m.count) and \(state.adam.v.count) values, φ \(state.phi.values.count)")
        }
        self.init(problem: problem, configuration: configuration, between: state)
        if !state.trajectories.isEmpty { try restore(state.trajectories) }
    }

    /// A trainer at `state`, between two trajectories (its `trajectory` is not read).
    private init(problem: P, configuration: MetaTrainingConfiguration, between state: MetaTrainerState) {
        self.problem = problem
        self.configuration = configuration
        self.phi = state.phi
        self.metaState = state.adam
        self.problemGenerator = state.problemGenerator
        self.batchGenerator = state.batchGenerator
        self.dPhi = [Float](repeating: 0, count: state.phi.values.count)
    }

    /// Where training stands, as one value (the trajectory as a snapshot).
    public var state: MetaTrainerState {
        MetaTrainerState(phi: phi, adam: metaState, problemGenerator: problemGenerator, batchGenerator: batchGenerator, trajectories: snapshots())
    }

    /// Replaces φ (a restored checkpoint); the layout must match.
    public func setPhi(_ newPhi: Phi) {
        precondition(newPhi.architecture == phi.architecture, "φ of another architecture")
        phi = newPhi
    }

    /// Starts a trajectory if none is in progress, runs one unroll, and updates φ.
    ///
    /// - Throws: `MetaTrainingError` when the unroll produced a non-finite value; φ and Adam's
    ///   state are then unchanged and the trajectory is abandoned (the next call starts anew).
    @discardableResult
    public func trainUnroll() throws(MetaTrainingError) -> UnrollRecord {
        try Matrix.withDenormalsFlushed { () throws(MetaTrainingError) -> UnrollRecord in try unrollAndUpdate() }
    }

    private func unrollAndUpdate() throws(MetaTrainingError) -> UnrollRecord {
        let count = configuration.trajectoriesPerUpdate
        var current = trajectories.isEmpty ? (0..<count).map { _ in startTrajectory() } : trajectories
        let start = current[0].step
        let length = min(configuration.unrollLength, configuration.steps - start)
        let weights = configuration.weights(length: length)
        // Sums over the K trajectories (the first one's values start them), divided by K below.
        var losses: [Float] = []
        var metaLoss = 0.0
        for k in current.indices {
            // Each trajectory's minibatches are drawn just before its unroll, so that K = 1 draws
            // exactly as a single trajectory always has.
            let batches = (0...length).map { _ in current[k].instance.sampleBatch(using: &batchGenerator) }
            let tape = self.tape(coordinates: current[k].instance.parameterCount)
            let unrolled: [Float]
            do {
                unrolled = try Self.unroll(tape: tape, phi: phi, trajectory: &current[k], batches: batches, gradient: &gradient)
            } catch {
                trajectories = []
                throw .nonFiniteGradient(step: start, error)
            }
            metaLoss += zip(weights, unrolled).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            if k == 0 {
                losses = unrolled
                backward(tape, steps: length, weights: weights, into: &dPhi)
            } else {
                for t in losses.indices { losses[t] += unrolled[t] }
                backward(tape, steps: length, weights: weights, into: &dPhiOne)
                for index in dPhi.indices { dPhi[index] += dPhiOne[index] }
            }
        }
        if count > 1 {
            for t in losses.indices { losses[t] /= Float(count) }
            for index in dPhi.indices { dPhi[index] /= Float(count) }
            metaLoss /= Double(count)
        }
        guard metaLoss.isFinite, dPhi.allSatisfy(\.isFinite) else {
            trajectories = []
            throw .nonFiniteMetaLoss(step: start, metaLoss: metaLoss)
        }
        lastMetaGradient = dPhi
        let norm = configuration.metaGradientClip.map { MetaTrainingConfiguration.clip(&dPhi, norm: $0) } ?? MetaTrainingConfiguration.norm(dPhi)
        let rate = configuration.schedule.learningRate(base: configuration.metaLearningRate, step: metaState.step + 1)
        Adam(learningRate: rate).step(&phi.values, gradient: dPhi, state: &metaState)

        for k in current.indices { current[k].step += length }
        let ends = current[0].step >= configuration.steps
        trajectories = ends ? [] : current
        var record = UnrollRecord(startStep: start, losses: Array(losses.prefix(length)), finalLoss: losses[length], metaLoss: metaLoss, endsTrajectory: ends)
        record.metaGradientNorm = norm
        record.components = current.map(\.instance.component)
        return record
    }

    /// ∂L/∂φ of the unroll on `tape` into `dPhi` (overwritten).
    private func backward(_ tape: Tape, steps: Int, weights: [Float], into dPhi: inout [Float]) {
        if dPhi.count != phi.values.count { dPhi = [Float](repeating: 0, count: phi.values.count) }
        phi.values.withUnsafeBufferPointer { phi in
            dPhi.withUnsafeMutableBufferPointer { dPhi in
                tape.backward(steps: steps, phi: phi.baseAddress!, weights: weights, into: dPhi.baseAddress!)
            }
        }
    }

    /// Runs the unrolls of one whole trajectory (finishing the one in progress, if any).
    public func trainTrajectory() throws(MetaTrainingError) -> [UnrollRecord] {
        var records: [UnrollRecord] = []
        repeat {
            records.append(try trainUnroll())
        } while !(records.last?.endsTrajectory ?? true)
        return records
    }

    /// The first trajectory in progress as a checkpoint saves it, or nil between trajectories.
    public func snapshot() -> TrajectorySnapshot? { snapshots().first }

    /// The trajectories in progress as a checkpoint saves them (none between trajectories, and
    /// none for trajectories made elsewhere, whose origin is unknown).
    public func snapshots() -> [TrajectorySnapshot] {
        let saved = trajectories.compactMap { trajectory in
            trajectory.origin.map { TrajectorySnapshot(origin: $0.state, step: trajectory.step, theta: trajectory.theta, lstmState: trajectory.state.flattened) }
        }
        return saved.count == trajectories.count ? saved : []
    }

    /// Continues the trajectory `snapshot` saved (K = 1).
    public func restore(_ snapshot: TrajectorySnapshot) throws(SnapshotMismatch) {
        try restore([snapshot])
    }

    /// Continues the trajectories `snapshots` saved: each instance is drawn again from its
    /// origin. The problem generator is left as restored by the caller (the state after the draws).
    public func restore(_ snapshots: [TrajectorySnapshot]) throws(SnapshotMismatch) {
        guard snapshots.count == configuration.trajectoriesPerUpdate else {
            throw SnapshotMismatch(reason: "\(snapshots.count) trajectories are in progress, training.trajectories_per_update is \(configuration.trajectoriesPerUpdate)")
        }
        guard Set(snapshots.map(\.step)).count == 1 else {
            throw SnapshotMismatch(reason: "the trajectories in progress are at different steps (\(snapshots.map(\.step)))")
        }
        trajectories = try snapshots.map { snapshot throws(SnapshotMismatch) in try restored(snapshot) }
    }

    private func restored(_ snapshot: TrajectorySnapshot) throws(SnapshotMismatch) -> Trajectory<P.Instance> {
        guard var origin = Generator(state: snapshot.origin) else { throw SnapshotMismatch(reason: "the trajectory's origin is not a generator state") }
        guard snapshot.step > 0, snapshot.step < configuration.steps else {
            throw SnapshotMismatch(reason: "the trajectory's step \(snapshot.step) is not inside 1..<\(configuration.steps)")
        }
        let start = origin
        let instance = problem.makeInstance(using: &origin)
        guard snapshot.theta.count == instance.parameterCount else {
            throw SnapshotMismatch(reason: "θ has \(snapshot.theta.count) values, the optimizee \(instance.parameterCount)")
        }
        let state = LSTMState(architecture: phi.architecture, coordinates: instance.parameterCount)
        guard state.load(flattened: snapshot.lstmState) else {
            throw SnapshotMismatch(reason: "the LSTM state has \(snapshot.lstmState.count) values, expected \(state.flattened.count)")
        }
        return Trajectory(instance: instance, theta: snapshot.theta, state: state, step: snapshot.step, origin: start)
    }

    // MARK: Implementation

    private func startTrajectory() -> Trajectory<P.Instance> {
        let origin = problemGenerator
        let instance = problem.makeInstance(using: &problemGenerator)
        let theta = instance.initialTheta(using: &problemGenerator)
        return Trajectory(
            instance: instance, theta: theta, state: LSTMState(architecture: phi.architecture, coordinates: theta.count), step: 0, origin: origin)
    }

    private func tape(coordinates: Int) -> Tape {
        if gradient.count != coordinates { gradient = [Float](repeating: 0, count: coordinates) }
        if let tape = tapes[coordinates] { return tape }
        let made = Tape(architecture: phi.architecture, coordinates: coordinates, steps: configuration.unrollLength)
        tapes[coordinates] = made
        return made
    }

    /// One unroll of `batches.count − 1` steps from the trajectory's θ and LSTM state, both
    /// advanced; returns f(θ_t) for t = 0…T (θ_T's on the last batch) and leaves on the tape what
    /// `Tape.backward` needs.
    ///
    /// - Parameter frozenGradients: when given, the LSTM reads these as ∇f(θ_t) instead of the
    ///   gradients at the θ_t reached: the meta-loss as a function of φ with the optimizee's
    ///   gradients held constant, which `Tape.backward` differentiates (for finite differences).
    static func unroll(
        tape: Tape, phi: Phi, trajectory: inout Trajectory<P.Instance>, batches: [P.Instance.Batch], gradient: inout [Float],
        frozenGradients: [[Float]]? = nil
    ) throws(NonFiniteGradientError) -> [Float] {
        let steps = batches.count - 1
        let n = tape.coordinates
        for l in 0..<tape.layers.count {
            tape.initial.h[l].copy(from: trajectory.state.h[l])
            tape.initial.c[l].copy(from: trajectory.state.c[l])
        }
        for (target, source) in zip(tape.initial.moments, trajectory.state.moments) { target.copy(from: source) }
        tape.initialStep = trajectory.step
        var losses: [Float] = []
        losses.reserveCapacity(steps + 1)
        for t in 0...steps {
            losses.append(trajectory.instance.lossAndGradient(trajectory.theta, batch: batches[t], gradient: &gradient))
            let seen = frozenGradients?[t] ?? gradient
            seen.withUnsafeBufferPointer { tape.gradients[t].pointer.update(from: $0.baseAddress!, count: n) }
            guard t < steps else { break }
            try phi.values.withUnsafeBufferPointer { phi throws(NonFiniteGradientError) in
                try tape.forward(step: t, phi: phi.baseAddress!)
            }
            for i in 0..<n { trajectory.theta[i] += tape.delta[i] }
        }
        if steps > 0 {
            for l in 0..<tape.layers.count {
                trajectory.state.h[l].copy(from: tape.hiddens[steps - 1][l])
                trajectory.state.c[l].copy(from: tape.cells[steps - 1][l])
            }
            for (target, source) in zip(trajectory.state.moments, tape.moments[steps - 1]) { target.copy(from: source) }
        }
        return losses
    }
}
