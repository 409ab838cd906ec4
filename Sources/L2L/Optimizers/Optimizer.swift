import RealModule

/// An optimizer: the rule θ_{t+1} = θ_t + g_t(∇f(θ_t), state) (paper eq. 1–2).
///
/// One protocol for the hand-crafted baselines and the learned LSTM optimizer, so that the
/// evaluation stage runs every optimizer the same way: make a state for a problem of n
/// coordinates, then step.
public protocol Optimizer {
    /// What the optimizer carries from one step to the next (moments, LSTM states, a counter).
    associatedtype State

    /// A short name for tables and files (`sgd`, `adam`, `lstm`).
    var name: String { get }

    /// The state before the first step on a problem of `parameterCount` coordinates.
    func makeState(parameterCount: Int) -> State

    /// One update of θ from the gradient ∇f(θ).
    func step(_ theta: inout [Float], gradient: [Float], state: inout State) throws
}

/// Gradient descent: θ ← θ − lr·g.
public struct SGD: Optimizer, Sendable {
    public var learningRate: Float
    public var name: String { "sgd" }

    public init(learningRate: Float) { self.learningRate = learningRate }

    public func makeState(parameterCount: Int) {}

    public func step(_ theta: inout [Float], gradient: [Float], state: inout Void) {
        for i in theta.indices { theta[i] -= learningRate * gradient[i] }
    }
}

/// Nesterov's accelerated gradient in the form of Sutskever et al. (2013) as PyTorch and the
/// paper's baselines use it: v ← μv + g, θ ← θ − lr·(g + μv).
public struct NAG: Optimizer, Sendable {
    public var learningRate: Float
    public var momentum: Float
    public var name: String { "nag" }

    public init(learningRate: Float, momentum: Float = 0.9) {
        self.learningRate = learningRate
        self.momentum = momentum
    }

    /// The velocity v, starting at 0.
    public func makeState(parameterCount: Int) -> [Float] { [Float](repeating: 0, count: parameterCount) }

    public func step(_ theta: inout [Float], gradient: [Float], state velocity: inout [Float]) {
        for i in theta.indices {
            velocity[i] = momentum * velocity[i] + gradient[i]
            theta[i] -= learningRate * (gradient[i] + momentum * velocity[i])
        }
    }
}

/// RMSprop (Tieleman and Hinton, 2012): v ← αv + (1−α)g², θ ← θ − lr·g/(√v + ε), v₀ = 0.
public struct RMSprop: Optimizer, Sendable {
    public var learningRate: Float
    public var decay: Float
    public var epsilon: Float
    public var name: String { "rmsprop" }

    public init(learningRate: Float, decay: Float = 0.99, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.decay = decay
        self.epsilon = epsilon
    }

    /// The running mean square v, starting at 0.
    public func makeState(parameterCount: Int) -> [Float] { [Float](repeating: 0, count: parameterCount) }

    public func step(_ theta: inout [Float], gradient: [Float], state meanSquare: inout [Float]) {
        for i in theta.indices {
            let g = gradient[i]
            meanSquare[i] = decay * meanSquare[i] + (1 - decay) * g * g
            theta[i] -= learningRate * g / (meanSquare[i].squareRoot() + epsilon)
        }
    }
}

/// Adam (Kingma and Ba, 2015, Algorithm 1): m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
/// θ ← θ − lr·m̂/(√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ). Also the meta-optimizer of φ.
public struct Adam: Optimizer, Sendable {
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var name: String { "adam" }

    /// The moments and the step count; a checkpoint saves all three.
    public struct State: Sendable, Equatable {
        public var m: [Float]
        public var v: [Float]
        public var step: Int

        public init(m: [Float], v: [Float], step: Int) {
            self.m = m
            self.v = v
            self.step = step
        }
    }

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    public func makeState(parameterCount: Int) -> State {
        State(m: [Float](repeating: 0, count: parameterCount), v: [Float](repeating: 0, count: parameterCount), step: 0)
    }

    public func step(_ theta: inout [Float], gradient: [Float], state: inout State) {
        state.step += 1
        let correction1 = Float(1 - Double.pow(Double(beta1), Double(state.step)))
        let correction2 = Float(1 - Double.pow(Double(beta2), Double(state.step)))
        for i in theta.indices {
            let g = gradient[i]
            state.m[i] = beta1 * state.m[i] + (1 - beta1) * g
            state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g
            let mHat = state.m[i] / correction1
            let vHat = state.v[i] / correction2
            theta[i] -= learningRate * mHat / (vHat.squareRoot() + epsilon)
        }
    }
}
