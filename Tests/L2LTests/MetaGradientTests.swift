import Testing
@testable import L2L

/// The hand-written BPTT of the meta-loss, checked end to end against finite differences.
///
/// The meta-gradient of the paper treats the optimizee's gradients as constants (∂∇_t/∂φ = 0),
/// so the function differentiated is L(φ) = Σ_t w_t f(θ_t(φ)) with the LSTM reading the
/// gradients recorded at the unperturbed φ; the finite differences evaluate exactly that.
@Suite("meta-gradient")
struct MetaGradientTests {
    /// One unroll of `steps` from a fixed start; its meta-loss as a function of φ, and ∂L/∂φ.
    struct Setup<P: Problem> {
        let problem: P
        let phi: Phi
        let steps: Int
        let weights: [Float]
        let start: Trajectory<P.Instance>
        let batches: [P.Instance.Batch]
        let frozen: [[Float]]
        let analytic: [Float]

        init(problem: P, architecture: LSTMArchitecture, steps: Int, weights: [Float], seed: UInt64, warmUpSteps: Int = 2) throws {
            self.problem = problem
            self.steps = steps
            self.weights = weights
            var generator = Generator(seed: seed)
            phi = Phi(initializing: architecture, using: &generator)
            var instance = problem.makeInstance(using: &generator)
            let theta = instance.initialTheta(using: &generator)
            // Start from a non-zero LSTM state, as every unroll but a trajectory's first does.
            var trajectory = Trajectory(instance: instance, theta: theta, state: LSTMState(architecture: architecture, coordinates: theta.count), step: 0)
            let tape = Tape(architecture: architecture, coordinates: theta.count, steps: max(steps, warmUpSteps))
            var gradient = [Float](repeating: 0, count: theta.count)
            let warmUp = (0...warmUpSteps).map { _ in instance.sampleBatch(using: &generator) }
            _ = try MetaTrainer<P>.unroll(tape: tape, phi: phi, trajectory: &trajectory, batches: warmUp, gradient: &gradient)
            start = trajectory
            batches = (0...steps).map { _ in instance.sampleBatch(using: &generator) }

            var run = start
            run.state = start.state.copy()
            _ = try MetaTrainer<P>.unroll(tape: tape, phi: phi, trajectory: &run, batches: batches, gradient: &gradient)
            frozen = (0...steps).map { tape.gradients[$0].array }
            var dPhi = [Float](repeating: 0, count: phi.values.count)
            let phiValues = phi.values
            phiValues.withUnsafeBufferPointer { phi in
                dPhi.withUnsafeMutableBufferPointer { tape.backward(steps: steps, phi: phi.baseAddress!, weights: weights, into: $0.baseAddress!) }
            }
            analytic = dPhi
            instance = start.instance
        }

        /// L at φ = `values`, with the recorded gradients as the LSTM's inputs.
        func metaLoss(_ values: [Float]) -> Double {
            var perturbed = phi
            perturbed.values = values
            var run = start
            run.state = start.state.copy()
            let tape = Tape(architecture: phi.architecture, coordinates: start.theta.count, steps: steps)
            var gradient = [Float](repeating: 0, count: start.theta.count)
            let losses = (try? MetaTrainer<P>.unroll(tape: tape, phi: perturbed, trajectory: &run, batches: batches, gradient: &gradient, frozenGradients: frozen)) ?? []
            return zip(weights, losses).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }

        /// The directional derivative of L along `direction`, by central differences.
        func numericDirectional(_ direction: [Float], step: Float) -> Double {
            let plus = zip(phi.values, direction).map { $0 + step * $1 }
            let minus = zip(phi.values, direction).map { $0 - step * $1 }
            return (metaLoss(plus) - metaLoss(minus)) / (2 * Double(step))
        }
    }

    /// For every φ tensor: random directions and single entries, analytic against numeric.
    /// Returns the worst relative disagreement, so a corrupted gradient can be shown to fail.
    static func worstDisagreement<P: Problem>(_ setup: Setup<P>, gradient: [Float], step: Float) -> (Double, String) {
        var generator = Generator(seed: 99)
        var worst = (0.0, "")
        for tensor in setup.phi.tensors {
            var directions: [[Float]] = (0..<3).map { _ in
                var direction = [Float](repeating: 0, count: setup.phi.values.count)
                for index in tensor.range { direction[index] = Float(generator.normal()) }
                return direction
            }
            for k in 0..<min(3, tensor.count) {
                var direction = [Float](repeating: 0, count: setup.phi.values.count)
                direction[tensor.offset + (k * 7919) % tensor.count] = 1
                directions.append(direction)
            }
            for direction in directions {
                let analytic = zip(gradient, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let numeric = setup.numericDirectional(direction, step: step)
                let scale = max(abs(numeric), abs(analytic), 1e-3 * max(1, abs(setup.metaLoss(setup.phi.values))))
                let disagreement = abs(analytic - numeric) / scale
                if disagreement > worst.0 { worst = (disagreement, "\(tensor.name): analytic \(analytic), numeric \(numeric)") }
            }
        }
        return worst
    }

    /// The analytic gradient with the i and f gate columns of `lstm1/w` and `lstm2/b` swapped: a
    /// plausible bug the check must catch.
    static func swappedGates(_ gradient: [Float], phi: Phi) -> [Float] {
        var wrong = gradient
        for name in ["lstm1/w", "lstm2/b"] {
            guard let tensor = phi.tensor(named: name) else { continue }
            let width = tensor.shape.last ?? 1, hidden = width / 4
            for row in 0..<(tensor.count / width) {
                for unit in 0..<hidden {
                    wrong.swapAt(tensor.offset + row * width + unit, tensor.offset + row * width + 2 * hidden + unit)
                }
            }
        }
        return wrong
    }

    @Test("quadratic, identity preprocessing: ∂L/∂φ matches finite differences for every tensor")
    func quadraticIdentity() throws {
        let setup = try Setup(
            problem: QuadraticProblem(problems: 2, dimensions: 3), architecture: .paperQuadratic,
            steps: 3, weights: [1, 1, 1, 1], seed: 11)
        let (worst, example) = Self.worstDisagreement(setup, gradient: setup.analytic, step: 1e-2)
        #expect(worst < 1e-2, "worst \(worst): \(example)")
        let (wrong, _) = Self.worstDisagreement(setup, gradient: Self.swappedGates(setup.analytic, phi: setup.phi), step: 1e-2)
        #expect(wrong > 0.1, "swapping gates must be detected (got \(wrong))")
    }

    @Test("MLP, LogAndSign, unequal loss weights: ∂L/∂φ matches finite differences for every tensor")
    func mlpLogAndSign() throws {
        let problem = MLPProblem(data: toyData(), hiddenSizes: [4], activation: .sigmoid, batchSize: 6)
        let architecture = LSTMArchitecture(hiddenSizes: [20, 20], preprocessing: .logAndSign(k: 5), outputScale: 0.1)
        let setup = try Setup(problem: problem, architecture: architecture, steps: 3, weights: [0.5, 1, 2, 3], seed: 12)
        let (worst, example) = Self.worstDisagreement(setup, gradient: setup.analytic, step: 1e-2)
        #expect(worst < 1e-2, "worst \(worst): \(example)")
        let (wrong, _) = Self.worstDisagreement(setup, gradient: Self.swappedGates(setup.analytic, phi: setup.phi), step: 1e-2)
        #expect(wrong > 0.1, "swapping gates must be detected (got \(wrong))")
    }
}
