import MNIST
import Testing
import TestSupport
@testable import L2L

/// The paper's base optimizee on the real database (the shared offline mirror; skipped without it).
@Suite("the MNIST optimizee on real data", .enabled(if: sharedMNISTMirror != nil, "needs ../shared/mnist"))
struct RealMNISTTests {
    @Test("the base network: 15,910 parameters, f(θ₀) ≈ log 10, and ∇f matches finite differences")
    func baseNetwork() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path("mnist.h5")
        _ = try MNISTFetch(mirrors: [Mirror(parsing: sharedMNISTMirror ?? "")], output: path, toolVersion: "test").run()
        let split = try MNIST.load(.train, from: path)
        let data = ClassificationData(bytes: split.pixels, divisor: 255, labels: split.labels, inputSize: MNISTSplit.pixelsPerImage, classes: 10)
        var seedGenerator = Generator(seed: 0)
        var mlp = MLPProblem(data: data).makeInstance(using: &seedGenerator)
        #expect(mlp.parameterCount == 15_910)

        var generator = Generator(seed: 1)
        let theta0 = mlp.initialTheta(using: &generator)
        let batch = mlp.sampleBatch(using: &generator)
        #expect(abs(Double(mlp.loss(theta0, batch: batch)) - Double.log(10)) < 0.01)

        // Larger weights so that every layer's gradient is well above rounding.
        let theta = theta0.map { $0 * 30 }
        var gradient = [Float](repeating: 0, count: mlp.parameterCount)
        _ = mlp.lossAndGradient(theta, batch: batch, gradient: &gradient)
        // Coordinates in every tensor: W1 (pixels near the centre), b1, W2, b2.
        for i in [784 * 10 + 14 * 28 * 20 / 28, 784 * 20 / 2 + 7, 15_680 + 3, 15_700 + 45, 15_900 + 4] {
            var plus = theta, minus = theta
            plus[i] += 1e-2
            minus[i] -= 1e-2
            let numeric = (Double(mlp.loss(plus, batch: batch)) - Double(mlp.loss(minus, batch: batch))) / (Double(plus[i]) - Double(minus[i]))
            #expect(isClose(Double(gradient[i]), numeric, relative: 3e-2, absolute: 3e-4), "coordinate \(i): \(gradient[i]) vs \(numeric)")
        }
    }
}
