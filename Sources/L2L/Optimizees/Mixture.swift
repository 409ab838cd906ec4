/// A weighted mixture of problems, as Lv, Jiang and Li (2017, §4) meta-train RNNprop on the MNIST
/// MLP and random convex functions together: each instance (each meta-training trajectory, each
/// evaluation run) first draws one component, with probability weight / Σ weights, then that
/// component's instance. The components may differ in their number of coordinates; the meta-
/// trainer keeps a tape per size.
public struct MixtureProblem: Problem {
    /// One problem of the mixture and its weight.
    public struct Component {
        public var weight: Double
        public var problem: any Problem

        public init(weight: Double, problem: any Problem) {
            self.weight = weight
            self.problem = problem
        }
    }

    /// Why weights cannot make a mixture.
    public enum WeightError: Error, Equatable, Sendable, CustomStringConvertible {
        case noComponents
        case invalid(index: Int, weight: Double)
        case allZero

        public var description: String {
            switch self {
            case .noComponents: return "a mixture needs at least one component"
            case let .invalid(index, weight): return "component \(index)'s weight is \(weight); weights must be finite and ≥ 0"
            case .allZero: return "every weight is 0; at least one must be positive"
            }
        }
    }

    public let components: [Component]
    /// The running sums of the weights, divided by their total (the last is 1).
    private let cumulative: [Double]

    /// - Throws: `WeightError` for no components, a negative or non-finite weight, or weights
    ///   that are all zero.
    public init(_ components: [Component]) throws(WeightError) {
        guard !components.isEmpty else { throw .noComponents }
        for (index, component) in components.enumerated() where !(component.weight.isFinite && component.weight >= 0) {
            throw .invalid(index: index, weight: component.weight)
        }
        let total = components.reduce(0) { $0 + $1.weight }
        guard total > 0 else { throw .allZero }
        self.components = components
        var sum = 0.0
        cumulative = components.map { sum += $0.weight; return sum / total }
    }

    /// The probability of drawing each component.
    public var probabilities: [Double] {
        zip(cumulative, [0] + cumulative).map { $0 - $1 }
    }

    /// The largest component's number of coordinates (an instance has its own component's).
    public var parameterCount: Int { components.map(\.problem.parameterCount).max() ?? 0 }

    /// One uniform draw picks the component, then that component draws its instance, both from
    /// `generator`, so that a trajectory's instance is drawn again from the generator's state.
    public func makeInstance(using generator: inout Generator) -> AnyOptimizee {
        let u = generator.uniform()
        // A zero-weight component has an empty interval, so `u < cumulative` never selects it;
        // when rounding leaves the last sum below 1, a u above it goes to the last positive weight.
        let index = cumulative.firstIndex { u < $0 } ?? components.lastIndex { $0.weight > 0 } ?? 0
        func draw<Q: Problem>(_ problem: Q) -> AnyOptimizee {
            AnyOptimizee(problem.makeInstance(using: &generator), component: index)
        }
        return draw(components[index].problem)
    }
}

/// An optimizee of any type, as a mixture's instances are: it forwards to the one it wraps.
public struct AnyOptimizee: Optimizee {
    /// The wrapped optimizee's minibatch.
    public struct Batch: Sendable {
        fileprivate let value: any Sendable
    }

    /// Which component of its mixture the instance was drawn from.
    public let component: Int
    private var base: any Optimizee

    public init(_ base: some Optimizee, component: Int = 0) {
        self.base = base
        self.component = component
    }

    public var parameterCount: Int { base.parameterCount }

    public func initialTheta(using generator: inout Generator) -> [Float] {
        base.initialTheta(using: &generator)
    }

    public func sampleBatch(using generator: inout Generator) -> Batch {
        Batch(value: base.sampleBatch(using: &generator))
    }

    public mutating func lossAndGradient(_ theta: [Float], batch: Batch, gradient: inout [Float]) -> Float {
        func call<O: Optimizee>(_ optimizee: inout O) -> Float {
            guard let batch = batch.value as? O.Batch else {
                preconditionFailure("a minibatch of another optimizee (\(type(of: batch.value))) was passed to \(O.self)")
            }
            return optimizee.lossAndGradient(theta, batch: batch, gradient: &gradient)
        }
        return call(&base)
    }
}
