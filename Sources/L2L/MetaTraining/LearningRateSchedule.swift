import Foundation

/// How Adam's learning rate on φ changes over meta-training (`training.meta_learning_rate_schedule`),
/// a stabiliser against the collapses seen at large meta learning rates: a linear warm-up over the
/// first updates, then optionally a cosine decay. Counted in updates of φ (Adam's step), not in
/// trajectories, so that it does not depend on `epochs` and a resumed run follows the same rates.
public struct LearningRateSchedule: Sendable, Equatable, CustomStringConvertible {
    /// Updates over which the rate rises linearly from base/warmup to base (0: none).
    public var warmupUpdates: Int
    /// Updates, after the warm-up, over which a cosine takes the rate from base to
    /// base · `finalFraction` (0: no decay); it stays there afterwards.
    public var decayUpdates: Int
    public var finalFraction: Float

    /// The paper's: the base rate throughout.
    public static let constant = LearningRateSchedule(warmupUpdates: 0, decayUpdates: 0, finalFraction: 1)

    public init(warmupUpdates: Int, decayUpdates: Int, finalFraction: Float) {
        precondition(warmupUpdates >= 0 && decayUpdates >= 0 && finalFraction >= 0 && finalFraction <= 1, "a schedule of non-negative lengths and a fraction in 0...1")
        self.warmupUpdates = warmupUpdates
        self.decayUpdates = decayUpdates
        self.finalFraction = finalFraction
    }

    /// The rate of update number `step` (1 for the first).
    public func learningRate(base: Float, step: Int) -> Float {
        if self == .constant { return base }
        if step <= warmupUpdates { return base * Float(step) / Float(warmupUpdates) }
        guard decayUpdates > 0 else { return base }
        let progress = min(Double(step - warmupUpdates) / Double(decayUpdates), 1)
        let cosine = 0.5 * (1 + cos(Double.pi * progress))
        return Float(Double(base) * (Double(finalFraction) + (1 - Double(finalFraction)) * cosine))
    }

    public var description: String {
        self == .constant ? "constant" : "warm-up \(warmupUpdates) updates, cosine decay over \(decayUpdates) to \(finalFraction)×"
    }
}
