/// Detects a collapsed meta-training run: one whose learned optimizer no longer trains its
/// optimizee, every trajectory ending where it started (on MNIST at chance, f ≈ ln 10 ≈ 2.30).
/// It can last long or end: at meta learning rate 0.003 one run stalled for 741 trajectories and
/// then trained normally, at 0.01 one for 44 (docs/fidelity.md); `collapsed_since` dates the
/// current stall, and a recovery clears it.
///
/// A trajectory's progress is f(θ_T) / f(θ_0), its final loss over its initial one. The run is
/// collapsed while the median progress of its last `window` trajectories is at least
/// `threshold` (the median, so that one lucky trajectory in a collapsed run does not count as a
/// recovery: seen at trajectory 315 of a run at meta learning rate 0.003).
/// The state is a function of the logged losses only, so a resumed run replays it from its
/// `train.h5` and records the same attributes as a run that never stopped.
struct CollapseDetector: Equatable {
    static let window = 20
    static let threshold = 0.98

    private(set) var recent: [Double] = []
    /// The trajectory (1-based) at which the current collapse was detected; 0 when not collapsed.
    private(set) var since = 0

    var isCollapsed: Bool { since > 0 }

    /// Records trajectory `trajectory` (1-based) with its initial and final loss.
    mutating func record(initial: Float, final: Float, trajectory: Int) {
        let progress = Double(final) / Double(initial)
        // A non-finite or undefined ratio is no evidence either way: counted as no progress.
        recent = Array((recent + [progress.isFinite ? progress : 1]).suffix(Self.window))
        let sorted = recent.sorted()
        let median = sorted.isEmpty ? 0 : (sorted[(sorted.count - 1) / 2] + sorted[sorted.count / 2]) / 2
        let collapsed = recent.count == Self.window && median >= Self.threshold
        if !collapsed {
            since = 0
        } else if since == 0 {
            since = trajectory
        }
    }

    /// The detector after every trajectory of the logs: initial losses (f(θ_0) of each
    /// trajectory) and final losses, in order.
    init(initialLosses: [Float] = [], finalLosses: [Float] = []) {
        for (index, (initial, final)) in zip(initialLosses, finalLosses).enumerated() {
            record(initial: initial, final: final, trajectory: index + 1)
        }
    }
}
