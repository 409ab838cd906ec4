import RealModule

/// A gradient that cannot be preprocessed: NaN or infinite at some coordinate.
public struct NonFiniteGradientError: Error, CustomStringConvertible, Sendable, Equatable {
    public let coordinate: Int
    public let value: Float
    public var description: String {
        "the gradient is not finite at coordinate \(coordinate) (\(value)); the learned optimizer cannot take a step from it"
    }
}

/// The running moments of `Preprocessing.normalised` for some coordinates: the state before a
/// step (read) and after it (written), and how many gradients the step's state has seen with it.
public struct PreprocessingMoments {
    public var previousMean: UnsafePointer<Float>, previousSquare: UnsafePointer<Float>
    public var nextMean: UnsafeMutablePointer<Float>, nextSquare: UnsafeMutablePointer<Float>
    /// t ≥ 1: the gradients seen, this step's included (for the bias corrections 1 − βᵗ).
    public var step: Int

    public init(previousMean: UnsafePointer<Float>, previousSquare: UnsafePointer<Float>,
                nextMean: UnsafeMutablePointer<Float>, nextSquare: UnsafeMutablePointer<Float>, step: Int) {
        self.previousMean = previousMean
        self.previousSquare = previousSquare
        self.nextMean = nextMean
        self.nextSquare = nextSquare
        self.step = step
    }

    /// The same moments `offset` coordinates further on.
    func advanced(by offset: Int) -> PreprocessingMoments {
        PreprocessingMoments(previousMean: previousMean + offset, previousSquare: previousSquare + offset,
                             nextMean: nextMean + offset, nextSquare: nextSquare + offset, step: step)
    }
}

/// How each coordinate's gradient becomes the LSTM's input (paper Appendix A; Lv et al. 2017).
public enum Preprocessing: Sendable, Equatable, CustomStringConvertible {
    /// The gradient itself: one input per coordinate.
    case identity
    /// Appendix A's rule for gradients of very different magnitudes, two inputs per coordinate:
    /// ( max(log(|g| + ε)/k, −1), clamp(g·eᵏ, −1, 1) ) with ε the Float machine epsilon. This is
    /// the paper's piecewise rule: (log|g|/k, sgn g) when |g| ≥ e^−k, (−1, eᵏg) otherwise.
    case logAndSign(k: Float)
    /// Lv, Jiang and Li's Adam-like inputs (RNNprop, 2017, eq. 9), two per coordinate:
    /// ( g / s, m̂ / s ) with m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², m̂ = m / (1 − β₁ᵗ) and
    /// s = √(v / (1 − β₂ᵗ)) + ε, the moments starting at 0 with each trajectory. Both inputs are
    /// invariant to a rescaling of f, so the LSTM cannot tell a problem by its gradients' scale.
    /// Their order follows Lv et al.'s code (vfleaking/rnnprop): the gradient's first.
    case normalised(beta1: Float, beta2: Float, epsilon: Float)

    /// Inputs per coordinate.
    public var inputSize: Int {
        switch self {
        case .identity: return 1
        case .logAndSign, .normalised: return 2
        }
    }

    /// Running values per coordinate that the preprocessing keeps between steps (m and v).
    public var momentCount: Int {
        if case .normalised = self { return 2 }
        return 0
    }

    public var description: String {
        switch self {
        case .identity: return "identity"
        case let .logAndSign(k): return "LogAndSign(k: \(k))"
        case let .normalised(beta1, beta2, epsilon): return "Normalised(beta1: \(beta1), beta2: \(beta2), epsilon: \(epsilon))"
        }
    }

    /// Writes the inputs of `count` coordinates feature-major: input r of coordinate i goes to
    /// `inputs[r · stride + i]` (`stride` ≥ `count`; `count` when nil). `moments` (the same
    /// coordinates') is read and advanced by the preprocessings that keep any (`momentCount`).
    ///
    /// - Throws: `NonFiniteGradientError` at the first NaN or infinite gradient.
    public func apply(_ gradient: UnsafePointer<Float>, count: Int, into inputs: UnsafeMutablePointer<Float>, stride: Int? = nil,
                      moments: PreprocessingMoments? = nil) throws(NonFiniteGradientError) {
        let stride = stride ?? count
        switch self {
        case .identity:
            for i in 0..<count {
                guard gradient[i].isFinite else { throw NonFiniteGradientError(coordinate: i, value: gradient[i]) }
                inputs[i] = gradient[i]
            }
        case let .logAndSign(k):
            let scale = Float.exp(k)
            let logs = inputs, signs = inputs + stride
            for i in 0..<count {
                let g = gradient[i]
                guard g.isFinite else { throw NonFiniteGradientError(coordinate: i, value: g) }
                logs[i] = max(Float.log(abs(g) + .ulpOfOne) / k, -1)
                signs[i] = min(max(g * scale, -1), 1)
            }
        case let .normalised(beta1, beta2, epsilon):
            guard let moments else { preconditionFailure("the normalised preprocessing needs its moments") }
            let step = Float(moments.step)
            let meanCorrection = 1 / (1 - Float.pow(beta1, step)), squareCorrection = 1 / (1 - Float.pow(beta2, step))
            let scaled = inputs, means = inputs + stride
            for i in 0..<count {
                let g = gradient[i]
                guard g.isFinite else { throw NonFiniteGradientError(coordinate: i, value: g) }
                let m = beta1 * moments.previousMean[i] + (1 - beta1) * g
                let v = beta2 * moments.previousSquare[i] + (1 - beta2) * g * g
                moments.nextMean[i] = m
                moments.nextSquare[i] = v
                let s = (v * squareCorrection).squareRoot() + epsilon
                scaled[i] = g / s
                means[i] = m * meanCorrection / s
            }
        }
    }
}
