import Foundation
import Testing
@testable import L2L

/// Lv et al.'s random scaling: f̃(θ) = f(c ⊙ θ), log c ~ U[−r, r] per coordinate and instance.
@Suite("random scaling")
struct RandomScalingTests {
    @Test("∇f̃ = c ⊙ ∇f(c ⊙ θ) matches central differences of f̃ (quadratic and MLP)")
    func gradient() throws {
        var generator = Generator(seed: 11)
        var quadratic = RandomlyScaledProblem(QuadraticProblem(problems: 2, dimensions: 5, distribution: .gaussian), logRange: 3)
            .makeInstance(using: &generator)
        let theta = (0..<10).map { _ in Float(generator.normal()) }
        // f is quadratic in θ, so central differences are exact at any step: a large one keeps Float
        // rounding (f reaches hundreds where c ≈ e³) small.
        OptimizeeTests().checkGradient(&quadratic, theta: theta, batch: (), step: 0.5, relative: 1e-3, absolute: 1e-3)

        let data = ClassificationData(inputs: (0..<40 * 6).map { Float(($0 * 7) % 11) / 11 }, labels: (0..<40).map { UInt8($0 % 3) }, inputSize: 6, classes: 3)
        let problem = RandomlyScaledProblem(MLPProblem(data: data, hiddenSizes: [4], batchSize: 8), logRange: 2)
        var mlp = problem.makeInstance(using: &generator)
        let start = mlp.initialTheta(using: &generator).map { $0 * 30 }  // away from 0, where sigmoids are nearly linear
        let batch = mlp.sampleBatch(using: &generator)
        OptimizeeTests().checkGradient(&mlp, theta: start, batch: batch, step: 1e-3, relative: 5e-3, absolute: 1e-4)
    }

    @Test("f̃(θ) = f(c ⊙ θ) and θ̃₀ = θ₀ / c: the scaled problem starts where the base one does")
    func identities() throws {
        let base = QuadraticProblem(problems: 3, dimensions: 4, distribution: .gaussian)
        var generator = Generator(seed: 5)
        var baseGenerator = generator
        var scaled = RandomlyScaledProblem(base, logRange: 3).makeInstance(using: &generator)
        var plain = base.makeInstance(using: &baseGenerator)
        #expect(plain.w == scaled.base.w && plain.y == scaled.base.y, "the base instance is drawn first, from the same generator")

        var thetaGenerator = Generator(seed: 9), same = thetaGenerator
        let thetaTilde = scaled.initialTheta(using: &thetaGenerator)
        let theta0 = plain.initialTheta(using: &same)
        for i in theta0.indices { #expect(isClose(Double(thetaTilde[i] * scaled.scale[i]), Double(theta0[i]), relative: 1e-6, absolute: 1e-9)) }

        let theta = (0..<12).map { Float($0) / 5 - 1 }
        let effective = zip(scaled.scale, theta).map { $0 * $1 }
        #expect(scaled.loss(theta, batch: ()) == plain.loss(effective, batch: ()))
    }

    @Test("log c is uniform on [−r, r], drawn anew for every instance, and the same for the same generator state")
    func statistics() throws {
        let problem = RandomlyScaledProblem(QuadraticProblem(problems: 100, dimensions: 100, distribution: .gaussian), logRange: 3)
        var generator = Generator(seed: 3)
        let replay = generator
        let first = problem.makeInstance(using: &generator).scale
        let second = problem.makeInstance(using: &generator).scale
        var again = replay
        #expect(problem.makeInstance(using: &again).scale == first)
        #expect(first != second)

        let logs = first.map { Double(log($0)) }
        #expect(logs.count == 10_000)
        #expect(logs.allSatisfy { abs($0) <= 3 + 1e-6 })
        let mean = logs.reduce(0, +) / Double(logs.count)
        let variance = logs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(logs.count - 1)
        // U[−3, 3]: mean 0 and variance 3; the mean's standard error is √(3 / 10,000) ≈ 0.017.
        #expect(abs(mean) < 0.07, "mean of log c \(mean)")
        #expect(abs(variance - 3) < 0.15, "variance of log c \(variance)")
        // Each tenth of the range holds about a tenth of the draws (±4 standard errors).
        for decile in 0..<10 {
            let low = -3 + 0.6 * Double(decile), high = low + 0.6
            let share = Double(logs.filter { $0 >= low && $0 < high }.count) / Double(logs.count)
            #expect(abs(share - 0.1) < 0.012, "decile \(decile): \(share)")
        }
    }
}
