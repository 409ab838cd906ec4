import Testing
@testable import L2L

/// A small labelled data set for MLP tests: `count` examples of `inputSize` features in [0, 1).
func toyData(count: Int = 40, inputSize: Int = 6, classes: Int = 3, seed: UInt64 = 7) -> ClassificationData {
    var generator = Generator(seed: seed)
    let inputs = (0..<count * inputSize).map { _ in Float(generator.uniform()) }
    let labels = (0..<count).map { _ in UInt8(generator.index(below: classes)) }
    return ClassificationData(inputs: inputs, labels: labels, inputSize: inputSize, classes: classes)
}

/// Central finite differences of `f` at `x` along coordinate i, in Double around a Float function.
func centralDifference(_ f: ([Float]) -> Double, at x: [Float], coordinate i: Int, step h: Float) -> Double {
    var plus = x, minus = x
    plus[i] += h
    minus[i] -= h
    // The step actually taken, after rounding to Float.
    let taken = Double(plus[i]) - Double(minus[i])
    return (f(plus) - f(minus)) / taken
}

/// |a − b| ≤ absolute + relative · max(|a|, |b|).
func isClose(_ a: Double, _ b: Double, relative: Double, absolute: Double) -> Bool {
    abs(a - b) <= absolute + relative * max(abs(a), abs(b))
}
