import Foundation

/// Lv, Jiang and Li's random scaling (2017, "Learning gradient descent: better generalization
/// and longer horizons", §3.2): each instance of `Base` is optimized as f̃(θ) = f(c ⊙ θ), with
/// log cᵢ drawn uniformly in [−logRange, logRange] for every coordinate, once per instance (per
/// meta-training trajectory). Its gradient is c ⊙ ∇f(c ⊙ θ), and θ̃₀ = θ₀ / c starts where the base
/// instance starts, so the learned optimizer meets the same problems under gradient scales spread
/// over e^±logRange and cannot learn one problem's scale by heart.
public struct RandomlyScaledProblem<Base: Problem>: Problem {
    public var base: Base
    /// The half-width of log c's range (Lv et al.: 3).
    public var logRange: Float

    public init(_ base: Base, logRange: Float) {
        self.base = base
        self.logRange = logRange
    }

    public var parameterCount: Int { base.parameterCount }

    /// The base instance, then its c, both from `generator`.
    public func makeInstance(using generator: inout Generator) -> Instance {
        let instance = base.makeInstance(using: &generator)
        // The instance's own size: a mixture's instances differ in it.
        let scale = (0..<instance.parameterCount).map { _ in Float(exp(Double(logRange) * (2 * generator.uniform() - 1))) }
        return Instance(base: instance, scale: scale)
    }

    /// One scaled instance: f̃(θ) = f(c ⊙ θ).
    public struct Instance: Optimizee {
        public var base: Base.Instance
        /// c, one factor per coordinate.
        public let scale: [Float]
        private var scaled: [Float]

        init(base: Base.Instance, scale: [Float]) {
            self.base = base
            self.scale = scale
            scaled = [Float](repeating: 0, count: scale.count)
        }

        public var parameterCount: Int { base.parameterCount }
        public var component: Int { base.component }

        /// θ₀ / c, so that c ⊙ θ̃₀ is the base instance's θ₀.
        public func initialTheta(using generator: inout Generator) -> [Float] {
            var theta = base.initialTheta(using: &generator)
            for i in theta.indices { theta[i] /= scale[i] }
            return theta
        }

        public func sampleBatch(using generator: inout Generator) -> Base.Instance.Batch {
            base.sampleBatch(using: &generator)
        }

        public mutating func lossAndGradient(_ theta: [Float], batch: Base.Instance.Batch, gradient: inout [Float]) -> Float {
            for i in theta.indices { scaled[i] = scale[i] * theta[i] }
            let loss = base.lossAndGradient(scaled, batch: batch, gradient: &gradient)
            for i in gradient.indices { gradient[i] *= scale[i] }
            return loss
        }
    }
}
