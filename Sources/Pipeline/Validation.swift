import L2L

/// What one validation run of the learned optimizer scores (`training.validation.score`): the
/// loss at the end of the trajectory, as the paper's model selection and the released code do, or
/// a mean over its steps, which averages over many minibatches and so picks less noise.
public enum ValidationScore: Sendable, Equatable, CustomStringConvertible {
    /// f(θ_T) on a fresh minibatch (the default: `validation_size` alone means this).
    case finalLoss
    /// The mean of f(θ_t) over t = 1…T, each on the minibatch of its step (θ_T's the fresh one).
    case meanLoss
    /// The mean of f(θ_t) over the last `steps` steps t = T − steps + 1 … T.
    case meanOfLast(steps: Int)

    public var description: String {
        switch self {
        case .finalLoss: "final"
        case .meanLoss: "mean"
        case let .meanOfLast(steps): "mean of the last \(steps)"
        }
    }

    /// The score of one run whose losses were f(θ_1) … f(θ_T).
    func score(_ losses: [Float]) -> Double {
        let counted: ArraySlice<Float>
        switch self {
        case .finalLoss: counted = losses.suffix(1)
        case .meanLoss: counted = losses[...]
        case let .meanOfLast(steps): counted = losses.suffix(steps)
        }
        return counted.reduce(0.0) { $0 + Double($1) } / Double(max(counted.count, 1))
    }
}

/// Model selection during meta-training (`training.validation_period` and `training.validation`):
/// every `period` trajectories φ runs on `size` fresh validation problems and the best score so
/// far is `/phi/best`. With `topK`, the `topK` best-scoring φ are kept and, at the end of
/// training, run again on `size` fresh problems (the same problems for every candidate); the best
/// of those becomes `/phi/best`, so that the minimum of many noisy scores (a winner's curse) is
/// checked on data it was not chosen on.
public struct ValidationConfiguration: Sendable, Equatable {
    public var period: Int
    public var size: Int
    public var score: ValidationScore
    /// How many candidates to re-evaluate at the end (nil: none; the selection as in the paper).
    public var topK: Int?

    public init(period: Int, size: Int, score: ValidationScore = .finalLoss, topK: Int? = nil) {
        self.period = period
        self.size = size
        self.score = score
        self.topK = topK
    }

    /// The mean score of the learned optimizer φ over `count` fresh problems of `steps` steps
    /// (infinite when any run meets a non-finite gradient or loss).
    static func validate<P: Problem>(_ phi: Phi, on problem: P, count: Int, steps: Int, score: ValidationScore,
                                     generator: inout Generator) -> Double {
        let optimizer = LearnedOptimizer(phi: phi)
        var total = 0.0
        var losses = [Float](repeating: 0, count: steps)
        for _ in 0..<count {
            var instance = problem.makeInstance(using: &generator)
            var theta = instance.initialTheta(using: &generator)
            var state = optimizer.makeState(parameterCount: theta.count)
            var gradient = [Float](repeating: 0, count: theta.count)
            do {
                for t in 0..<steps {
                    let loss = instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &generator), gradient: &gradient)
                    if t > 0 { losses[t - 1] = loss }
                    try optimizer.step(&theta, gradient: gradient, state: &state)
                }
            } catch {
                return .infinity
            }
            losses[steps - 1] = instance.loss(theta, batch: instance.sampleBatch(using: &generator))
            total += score.score(losses)
        }
        let mean = total / Double(count)
        return mean.isFinite ? mean : .infinity
    }
}

/// The `topK` best-scoring φ of a run so far (lowest score first; ties keep the earlier one).
struct ValidationCandidates: Equatable {
    var capacity: Int
    private(set) var members: [BestPhi] = []

    init(capacity: Int, members: [BestPhi] = []) {
        self.capacity = capacity
        self.members = members
    }

    /// Adds a validated φ when it is among the best `capacity`.
    mutating func offer(_ candidate: BestPhi) {
        guard candidate.loss.isFinite else { return }
        let index = members.firstIndex { candidate.loss < $0.loss } ?? members.endIndex
        guard index < capacity else { return }
        members.insert(candidate, at: index)
        if members.count > capacity { members.removeLast() }
    }
}
