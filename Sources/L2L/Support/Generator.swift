import RealModule

/// The seeded pseudo-random generator behind every random draw of the project:
/// xoshiro256** (Blackman and Vigna, 2018), seeded through SplitMix64.
///
/// Its whole state is four words (`state`), so a checkpoint can save it and a resumed run
/// continue the exact same sequence. Each purpose (problem sampling, minibatches, φ
/// initialisation) owns its own generator, so that changing how many draws one purpose makes
/// does not shift the others.
public struct Generator: RandomNumberGenerator, Sendable, Equatable {
    /// The complete state; restoring it restores the sequence.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            precondition(newValue.count == 4 && newValue.contains { $0 != 0 }, "a xoshiro256** state is four words, not all zero")
            (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    /// A generator whose sequence is determined by `seed`.
    public init(seed: UInt64) {
        var splitMix = seed
        func next() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        (s0, s1, s2, s3) = (next(), next(), next(), next())
    }

    /// A generator continuing from a saved `state` (see `state`).
    public init?(state: [UInt64]) {
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { return nil }
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    /// A generator for `purpose`, derived from one run seed: the same seed and purpose always give
    /// the same sequence, different purposes independent ones.
    public init(seed: UInt64, purpose: String) {
        // FNV-1a of the purpose, mixed into the seed.
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in purpose.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        self.init(seed: seed ^ hash)
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform Double in [0, 1) with 53 random bits.
    public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A standard normal draw (Box–Muller; two uniforms per draw, no cached second value, so the
    /// state stays four words).
    public mutating func normal() -> Double {
        let u1 = 1 - uniform()  // (0, 1]: log is finite
        let u2 = uniform()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }

    /// A normal draw with standard deviation `sigma`, redrawn until within ±2σ (TensorFlow's and
    /// Sonnet's truncated normal).
    public mutating func truncatedNormal(sigma: Double) -> Double {
        while true {
            let z = normal()
            if abs(z) <= 2 { return z * sigma }
        }
    }

    /// A uniform integer in 0..<bound.
    public mutating func index(below bound: Int) -> Int {
        precondition(bound > 0, "index(below:) needs a positive bound, got \(bound)")
        return Int(next(upperBound: UInt64(bound)))
    }
}
