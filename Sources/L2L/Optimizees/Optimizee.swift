/// A function f(θ) being trained: the optimizee of the paper (§2, eq. 1).
///
/// Parameters are one flat `Float` vector θ, so that an optimizer sees coordinates. Where f is
/// stochastic (a minibatch of data), the minibatch is drawn separately (`sampleBatch`) so that the
/// same draw can be replayed: the meta-gradient's finite-difference check and the common random
/// numbers of the evaluation both need that.
public protocol Optimizee {
    /// What one evaluation of f is computed on (a minibatch of examples, or nothing).
    associatedtype Batch: Sendable

    /// The number of coordinates of θ.
    var parameterCount: Int { get }

    /// A fresh θ₀.
    func initialTheta(using generator: inout Generator) -> [Float]

    /// Draws the data the next evaluation of f uses.
    func sampleBatch(using generator: inout Generator) -> Batch

    /// f(θ) on `batch`, with ∇f(θ) on the same batch written to `gradient` (`parameterCount`
    /// elements).
    mutating func lossAndGradient(_ theta: [Float], batch: Batch, gradient: inout [Float]) -> Float

    /// Which component of a `MixtureProblem` the instance was drawn from (0 outside mixtures),
    /// so that a run can record what each trajectory trained on.
    var component: Int { get }
}

/// A family of optimizees: each meta-training trajectory (and each evaluation run) optimizes a
/// fresh instance of it (new W and y for quadratics; the same network for MNIST).
public protocol Problem {
    associatedtype Instance: Optimizee
    /// The number of coordinates of every instance's θ (of the largest, for a `MixtureProblem`).
    var parameterCount: Int { get }
    func makeInstance(using generator: inout Generator) -> Instance
}

extension Optimizee {
    public var component: Int { 0 }

    /// f(θ) on `batch` (the gradient is computed and discarded).
    public mutating func loss(_ theta: [Float], batch: Batch) -> Float {
        var gradient = [Float](repeating: 0, count: parameterCount)
        return lossAndGradient(theta, batch: batch, gradient: &gradient)
    }
}
