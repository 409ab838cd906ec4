import RealModule

/// A gradient that cannot be preprocessed: NaN or infinite at some coordinate.
public struct NonFiniteGradientError: Error, CustomStringConvertible, Sendable, Equatable {
    public let coordinate: Int
    public let value: Float
    public var description: String {
        "the gradient is not finite at coordinate \(coordinate) (\(value)); the learned optimizer cannot take a step from it"
    }
}

/// How each coordinate's gradient becomes the LSTM's input (paper Appendix A).
public enum Preprocessing: Sendable, Equatable, CustomStringConvertible {
    /// The gradient itself: one input per coordinate.
    case identity
    /// Appendix A's rule for gradients of very different magnitudes, two inputs per coordinate:
    /// ( max(log(|g| + ε)/k, −1), clamp(g·eᵏ, −1, 1) ) with ε the Float machine epsilon. This is
    /// the paper's piecewise rule: (log|g|/k, sgn g) when |g| ≥ e^−k, (−1, eᵏg) otherwise.
    case logAndSign(k: Float)

    /// Inputs per coordinate.
    public var inputSize: Int {
        switch self {
        case .identity: return 1
        case .logAndSign: return 2
        }
    }

    public var description: String {
        switch self {
        case .identity: return "identity"
        case let .logAndSign(k): return "LogAndSign(k: \(k))"
        }
    }

    /// Writes the inputs of `count` coordinates feature-major: input r of coordinate i goes to
    /// `inputs[r · stride + i]` (`stride` ≥ `count`; `count` when nil).
    ///
    /// - Throws: `NonFiniteGradientError` at the first NaN or infinite gradient.
    public func apply(_ gradient: UnsafePointer<Float>, count: Int, into inputs: UnsafeMutablePointer<Float>, stride: Int? = nil) throws(NonFiniteGradientError) {
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
        }
    }
}
