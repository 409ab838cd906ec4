import Testing
@testable import L2L

@Suite("meta-training")
struct MetaTrainingTests {
    static let problem = QuadraticProblem(problems: 16, dimensions: 10)
    static let configuration = MetaTrainingConfiguration(steps: 100, unrollLength: 20)

    @Test("the same seed gives bit-identical φ and losses; another seed does not")
    func determinism() throws {
        func train(seed: UInt64) throws -> (phi: [UInt32], losses: [Float]) {
            let trainer = MetaTrainer(problem: Self.problem, architecture: .paperQuadratic, configuration: Self.configuration, seed: seed)
            var losses: [Float] = []
            for _ in 0..<7 { losses += try trainer.trainUnroll().losses }
            return (trainer.phi.values.map(\.bitPattern), losses)
        }
        let first = try train(seed: 42), second = try train(seed: 42), other = try train(seed: 43)
        #expect(first.phi == second.phi)
        #expect(first.losses.map(\.bitPattern) == second.losses.map(\.bitPattern))
        #expect(first.phi != other.phi)
    }

    @Test("a snapshot taken mid-trajectory, restored with φ, Adam's state and the generators into a new trainer, reproduces the rest exactly")
    func resumeMidTrajectory() throws {
        let original = MetaTrainer(problem: Self.problem, architecture: .paperQuadratic, configuration: Self.configuration, seed: 7)
        for _ in 0..<7 { try original.trainUnroll() }  // one trajectory and two unrolls of the next
        let snapshot = try #require(original.snapshot())
        #expect(snapshot.step == 40)
        #expect(snapshot.theta == original.trajectory?.theta)

        // What a checkpoint holds, copied out of the running trainer.
        let phi = original.phi, metaState = original.metaState
        let problemState = original.problemGenerator.state, batchState = original.batchGenerator.state

        let resumed = MetaTrainer(problem: Self.problem, architecture: .paperQuadratic, configuration: Self.configuration, seed: 999)
        resumed.setPhi(phi)
        resumed.metaState = metaState
        resumed.problemGenerator.state = problemState
        resumed.batchGenerator.state = batchState
        try resumed.restore(snapshot)
        #expect(resumed.snapshot() == snapshot)

        for _ in 0..<8 {
            let a = try original.trainUnroll(), b = try resumed.trainUnroll()
            #expect(a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern))
            #expect(a.finalLoss.bitPattern == b.finalLoss.bitPattern)
            #expect(a.startStep == b.startStep)
        }
        #expect(original.phi.values.map(\.bitPattern) == resumed.phi.values.map(\.bitPattern))
        #expect(original.metaState == resumed.metaState)
        #expect(original.problemGenerator == resumed.problemGenerator)

        // A snapshot that does not fit this trainer is refused, naming what differs.
        var short = snapshot
        short.theta.removeLast()
        #expect(throws: SnapshotMismatch.self) { try resumed.restore(short) }
        var state = snapshot
        state.lstmState.removeLast()
        #expect(throws: SnapshotMismatch.self) { try resumed.restore(state) }
        var step = snapshot
        step.step = 100
        #expect(throws: SnapshotMismatch.self) { try resumed.restore(step) }
        #expect(MetaTrainer(problem: Self.problem, architecture: .paperQuadratic, configuration: Self.configuration, seed: 1).snapshot() == nil)
    }

    @Test("a generator restored from its saved state continues the same sequence")
    func generatorState() throws {
        var generator = Generator(seed: 3, purpose: "batches")
        for _ in 0..<10 { _ = generator.normal() }
        let saved = generator.state
        let expected = (0..<20).map { _ in generator.next() }
        var restored = try #require(Generator(state: saved))
        #expect((0..<20).map { _ in restored.next() } == expected)
        #expect(Generator(state: [0, 0, 0, 0]) == nil)
        #expect(Generator(seed: 3, purpose: "batches") != Generator(seed: 3, purpose: "problems"))
    }

    @Test("a trajectory is 100 steps in unrolls of 20; a shorter last unroll when they do not divide")
    func unrollStructure() throws {
        let trainer = MetaTrainer(problem: QuadraticProblem(problems: 2, dimensions: 3), architecture: .paperQuadratic,
                                  configuration: MetaTrainingConfiguration(steps: 50, unrollLength: 20), seed: 1)
        let records = try trainer.trainTrajectory()
        #expect(records.map(\.startStep) == [0, 20, 40])
        #expect(records.map(\.losses.count) == [20, 20, 10])
        #expect(records.map(\.endsTrajectory) == [false, false, true])
        #expect(trainer.trajectory == nil)
        #expect(trainer.metaState.step == 3)
    }

    /// Mean f(θ₀) and mean f(θ_T) after `steps` steps of `optimizer` on `count` held-out instances.
    static func meanLosses(_ optimizer: LearnedOptimizer, problem: QuadraticProblem, steps: Int, count: Int) throws -> (initial: Double, final: Double) {
        var generator = Generator(seed: 2024, purpose: "held-out")
        var initial = 0.0, total = 0.0
        for _ in 0..<count {
            var instance = problem.makeInstance(using: &generator)
            var theta = instance.initialTheta(using: &generator)
            var state = optimizer.makeState(parameterCount: theta.count)
            var gradient = [Float](repeating: 0, count: theta.count)
            initial += Double(instance.loss(theta, batch: ()))
            for _ in 0..<steps {
                _ = instance.lossAndGradient(theta, batch: (), gradient: &gradient)
                try optimizer.step(&theta, gradient: gradient, state: &state)
            }
            total += Double(instance.loss(theta, batch: ()))
        }
        return (initial / Double(count), total / Double(count))
    }

    @Test("learning happens: a few hundred unrolls on quadratics beat the untrained optimizer on held-out ones")
    func learning() throws {
        let trainer = MetaTrainer(problem: Self.problem, architecture: .paperQuadratic, configuration: Self.configuration, seed: 5)
        let untrained = LearnedOptimizer(phi: trainer.phi)
        for _ in 0..<300 { try trainer.trainUnroll() }
        let trained = LearnedOptimizer(phi: trainer.phi)
        let before = try Self.meanLosses(untrained, problem: Self.problem, steps: 100, count: 20)
        let after = try Self.meanLosses(trained, problem: Self.problem, steps: 100, count: 20)
        // Measured: f(θ₀) ≈ 10, untrained f(θ₁₀₀) ≈ 3,075 (it diverges), trained ≈ 1.25.
        #expect(after.final < 0.5 * before.final, "untrained \(before.final), trained \(after.final)")
        #expect(after.final < 0.25 * after.initial, "the trained optimizer must also descend: f(θ₀) \(after.initial), f(θ₁₀₀) \(after.final)")
    }

    @Test("K = 3 trajectories per update: snapshots of all three restore into a new trainer and reproduce the rest exactly")
    func resumeSeveralTrajectories() throws {
        let configuration = MetaTrainingConfiguration(steps: 40, unrollLength: 10, trajectoriesPerUpdate: 3)
        let original = MetaTrainer(problem: Self.problem, architecture: .paperQuadratic, configuration: configuration, seed: 7)
        for _ in 0..<6 { try original.trainUnroll() }  // one trajectory and two unrolls of the next
        let state = original.state
        #expect(state.trajectories.count == 3 && state.trajectories.map(\.step) == [20, 20, 20])
        let resumed = try MetaTrainer(problem: Self.problem, configuration: configuration, state: state)
        for _ in 0..<6 {
            let a = try original.trainUnroll(), b = try resumed.trainUnroll()
            #expect(a.losses.map(\.bitPattern) == b.losses.map(\.bitPattern) && a.metaLoss == b.metaLoss)
        }
        #expect(original.phi.values.map(\.bitPattern) == resumed.phi.values.map(\.bitPattern))
        // Two of three, or trajectories at different steps, do not fit.
        var two = state
        two.trajectories.removeLast()
        #expect(throws: SnapshotMismatch.self) { try MetaTrainer(problem: Self.problem, configuration: configuration, state: two) }
        var uneven = state
        uneven.trajectories[1].step = 30
        #expect(throws: SnapshotMismatch.self) { try MetaTrainer(problem: Self.problem, configuration: configuration, state: uneven) }
    }

    @Test("the meta learning-rate schedule: a linear warm-up, then a cosine to the final fraction; constant is the base rate")
    func schedule() {
        let schedule = LearningRateSchedule(warmupUpdates: 4, decayUpdates: 10, finalFraction: 0.1)
        #expect(schedule.learningRate(base: 0.01, step: 1) == 0.0025)
        #expect(schedule.learningRate(base: 0.01, step: 4) == 0.01)
        #expect(abs(schedule.learningRate(base: 0.01, step: 9) - 0.0055) < 1e-7, "half-way: the mean of base and final")
        #expect(abs(schedule.learningRate(base: 0.01, step: 14) - 0.001) < 1e-8)
        #expect(abs(schedule.learningRate(base: 0.01, step: 1000) - 0.001) < 1e-8)
        #expect(LearningRateSchedule.constant.learningRate(base: 0.003, step: 77) == 0.003)
        #expect(LearningRateSchedule(warmupUpdates: 0, decayUpdates: 0, finalFraction: 1) == .constant)
    }

    @Test("a warm-up changes the first updates of φ and nothing else about the draws")
    func warmupTrains() throws {
        func train(_ schedule: LearningRateSchedule) throws -> MetaTrainer<QuadraticProblem> {
            let trainer = MetaTrainer(problem: Self.problem, architecture: .paperQuadratic,
                                      configuration: MetaTrainingConfiguration(steps: 100, unrollLength: 20, schedule: schedule), seed: 5)
            try trainer.trainUnroll()
            return trainer
        }
        let constant = try train(.constant), warm = try train(LearningRateSchedule(warmupUpdates: 10, decayUpdates: 0, finalFraction: 1))
        let phi0 = MetaTrainerState.initial(architecture: .paperQuadratic, seed: 5).phi.values
        // Adam's first step moves every coordinate by about the rate: a tenth of it in the warm-up.
        let moved = zip(constant.phi.values, phi0).map { abs($0 - $1) }.max() ?? 0
        let movedWarm = zip(warm.phi.values, phi0).map { abs($0 - $1) }.max() ?? 0
        #expect(abs(movedWarm / moved - 0.1) < 1e-3)
        #expect(constant.batchGenerator == warm.batchGenerator && constant.problemGenerator == warm.problemGenerator)
    }
}
