/// A batch of random quadratics, the paper's first experiment (§3.1):
/// f(θ) = (1/B) Σ_b ‖W_b θ_b − y_b‖², with B independent problems of d dimensions, θ the
/// concatenation of the θ_b (B·d coordinates).
public struct Quadratic: Optimizee, Sendable {
    /// How the entries of W and y are drawn.
    public enum Distribution: String, Sendable, CaseIterable {
        /// IID standard Gaussian, as the paper's text says.
        case gaussian
        /// IID uniform in [0, 1), as the paper's released code (`problems.quadratic`) does.
        case uniform
    }

    public typealias Batch = Void

    /// Number of independent problems B.
    public let problems: Int
    /// Dimensions d of each problem.
    public let dimensions: Int
    /// B matrices of d × d, row-major, one after the other.
    public let w: [Float]
    /// B vectors of d.
    public let y: [Float]
    /// Standard deviation of θ₀'s entries.
    public let thetaScale: Float

    public var parameterCount: Int { problems * dimensions }

    public init(problems: Int, dimensions: Int, w: [Float], y: [Float], thetaScale: Float = 0.01) {
        precondition(w.count == problems * dimensions * dimensions && y.count == problems * dimensions, "W is B×d×d and y is B×d")
        self.problems = problems
        self.dimensions = dimensions
        self.w = w
        self.y = y
        self.thetaScale = thetaScale
    }

    /// θ₀ ~ N(0, thetaScale²).
    public func initialTheta(using generator: inout Generator) -> [Float] {
        (0..<parameterCount).map { _ in Float(generator.normal()) * thetaScale }
    }

    public func sampleBatch(using generator: inout Generator) {}

    /// f and ∇f: ∂f/∂θ_b = (2/B) W_bᵀ (W_b θ_b − y_b).
    public mutating func lossAndGradient(_ theta: [Float], batch: Void, gradient: inout [Float]) -> Float {
        let d = dimensions
        var total: Double = 0
        var residual = [Float](repeating: 0, count: d)
        let scale = 2 / Float(problems)
        for b in 0..<problems {
            let wb = b * d * d, base = b * d
            for row in 0..<d {
                var sum: Float = 0
                for column in 0..<d { sum += w[wb + row * d + column] * theta[base + column] }
                residual[row] = sum - y[base + row]
                total += Double(residual[row] * residual[row])
            }
            for column in 0..<d {
                var sum: Float = 0
                for row in 0..<d { sum += w[wb + row * d + column] * residual[row] }
                gradient[base + column] = scale * sum
            }
        }
        return Float(total / Double(problems))
    }
}

/// The family of random quadratics: each instance draws new W and y.
public struct QuadraticProblem: Problem, Sendable {
    public var problems: Int
    public var dimensions: Int
    public var distribution: Quadratic.Distribution
    public var thetaScale: Float

    /// The paper's setting: 128 problems of 10 dimensions, θ₀ ~ N(0, 0.01²).
    public init(problems: Int = 128, dimensions: Int = 10, distribution: Quadratic.Distribution = .gaussian, thetaScale: Float = 0.01) {
        self.problems = problems
        self.dimensions = dimensions
        self.distribution = distribution
        self.thetaScale = thetaScale
    }

    public var parameterCount: Int { problems * dimensions }

    public func makeInstance(using generator: inout Generator) -> Quadratic {
        func draw() -> Float {
            distribution == .gaussian ? Float(generator.normal()) : Float(generator.uniform())
        }
        let w = (0..<problems * dimensions * dimensions).map { _ in draw() }
        let y = (0..<problems * dimensions).map { _ in draw() }
        return Quadratic(problems: problems, dimensions: dimensions, w: w, y: y, thetaScale: thetaScale)
    }
}
