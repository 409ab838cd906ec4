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
    }

    /// For every φ tensor: random directions and single entries, analytic against numeric.
    /// Returns the worst relative disagreement, so a corrupted gradient can be shown to fail.
    static func worstDisagreement<P: Problem>(_ setup: Setup<P>, gradient: [Float], step: Float) -> (Double, String) {
        worstDisagreement(phi: setup.phi, gradient: gradient, step: step, metaLoss: setup.metaLoss)
    }

    /// As above for any meta-loss L(φ) whose gradient at `phi` is claimed to be `gradient`.
    static func worstDisagreement(phi: Phi, gradient: [Float], step: Float, metaLoss: ([Float]) -> Double) -> (Double, String) {
        func numericDirectional(_ direction: [Float]) -> Double {
            let plus = zip(phi.values, direction).map { $0 + step * $1 }
            let minus = zip(phi.values, direction).map { $0 - step * $1 }
            return (metaLoss(plus) - metaLoss(minus)) / (2 * Double(step))
        }
        var generator = Generator(seed: 99)
        var worst = (0.0, "")
        for tensor in phi.tensors {
            var directions: [[Float]] = (0..<3).map { _ in
                var direction = [Float](repeating: 0, count: phi.values.count)
                for index in tensor.range { direction[index] = Float(generator.normal()) }
                return direction
            }
            for k in 0..<min(3, tensor.count) {
                var direction = [Float](repeating: 0, count: phi.values.count)
                direction[tensor.offset + (k * 7919) % tensor.count] = 1
                directions.append(direction)
            }
            for direction in directions {
                let analytic = zip(gradient, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let numeric = numericDirectional(direction)
                let scale = max(abs(numeric), abs(analytic), 1e-3 * max(1, abs(metaLoss(phi.values))))
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

    @Test("K = 2 trajectories per update: the trainer's ∂L/∂φ is the gradient of the mean of their meta-losses")
    func severalTrajectoriesPerUpdate() throws {
        let problem = MLPProblem(data: toyData(), hiddenSizes: [4], activation: .sigmoid, batchSize: 6)
        let architecture = LSTMArchitecture(hiddenSizes: [20, 20], preprocessing: .logAndSign(k: 5), outputScale: 0.1)
        let configuration = MetaTrainingConfiguration(steps: 6, unrollLength: 3, lossWeights: [0.5, 1, 2, 3], trajectoriesPerUpdate: 2)
        let trainer = MetaTrainer(problem: problem, architecture: architecture, configuration: configuration, seed: 13)
        try trainer.trainUnroll()
        // The second unroll starts from a non-zero LSTM state; reconstruct it from the state alone.
        let state = trainer.state
        #expect(state.trajectories.count == 2 && state.trajectories.allSatisfy { $0.step == 3 })
        #expect(state.trajectories[0].theta != state.trajectories[1].theta, "two instances of their own")
        try trainer.trainUnroll()

        var batchGenerator = state.batchGenerator
        var starts: [Trajectory<MLPProblem.Instance>] = []
        var batches: [[MLPProblem.Instance.Batch]] = []
        var frozen: [[[Float]]] = []
        for snapshot in state.trajectories {
            var origin = try #require(Generator(state: snapshot.origin))
            let instance = problem.makeInstance(using: &origin)
            let lstm = LSTMState(architecture: architecture, coordinates: snapshot.theta.count)
            #expect(lstm.load(flattened: snapshot.lstmState))
            let start = Trajectory(instance: instance, theta: snapshot.theta, state: lstm, step: snapshot.step)
            let mine = (0...3).map { _ in instance.sampleBatch(using: &batchGenerator) }
            var run = start
            run.state = start.state.copy()
            let tape = Tape(architecture: architecture, coordinates: snapshot.theta.count, steps: 3)
            var gradient = [Float](repeating: 0, count: snapshot.theta.count)
            _ = try MetaTrainer<MLPProblem>.unroll(tape: tape, phi: state.phi, trajectory: &run, batches: mine, gradient: &gradient)
            frozen.append((0...3).map { tape.gradients[$0].array })
            starts.append(start)
            batches.append(mine)
        }
        #expect(batchGenerator == trainer.batchGenerator, "the reconstruction drew the trainer's minibatches")

        func meanMetaLoss(_ values: [Float]) -> Double {
            var phi = state.phi
            phi.values = values
            var total = 0.0
            for k in starts.indices {
                var run = starts[k]
                run.state = starts[k].state.copy()
                let tape = Tape(architecture: architecture, coordinates: run.theta.count, steps: 3)
                var gradient = [Float](repeating: 0, count: run.theta.count)
                let losses = (try? MetaTrainer<MLPProblem>.unroll(tape: tape, phi: phi, trajectory: &run, batches: batches[k], gradient: &gradient, frozenGradients: frozen[k])) ?? []
                total += zip(configuration.weights(length: 3), losses).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            }
            return total / Double(starts.count)
        }
        let (worst, example) = Self.worstDisagreement(phi: state.phi, gradient: trainer.lastMetaGradient, step: 1e-2, metaLoss: meanMetaLoss)
        #expect(worst < 1e-2, "worst \(worst): \(example)")
        // The sum instead of the mean must be detected.
        let (wrong, _) = Self.worstDisagreement(phi: state.phi, gradient: trainer.lastMetaGradient.map { 2 * $0 }, step: 1e-2, metaLoss: meanMetaLoss)
        #expect(wrong > 0.1, "the sum of the meta-gradients must be detected (got \(wrong))")
    }
}
