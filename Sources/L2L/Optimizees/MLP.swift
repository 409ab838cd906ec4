import CKernels
import RealModule

/// Labelled examples for a classifier optimizee: `count` rows of `inputSize` features.
/// (The data layer fills it from MNIST; this module does no I/O.)
public struct ClassificationData: Sendable {
    /// The examples' inputs, `count × inputSize`, row-major.
    enum Inputs: Sendable {
        case values([Float])
        /// Bytes, each input being byte / divisor (MNIST: intensity / 255), converted per
        /// minibatch: four times less memory than floats, and the same values.
        case bytes([UInt8], divisor: Float)
    }

    let inputs: Inputs
    /// Class indices in 0..<classes, one per row.
    public let labels: [UInt8]
    public let inputSize: Int
    public let classes: Int
    public var count: Int { labels.count }

    public init(inputs: [Float], labels: [UInt8], inputSize: Int, classes: Int) {
        precondition(inputs.count == labels.count * inputSize, "inputs must hold count × inputSize values")
        self.init(inputs: .values(inputs), labels: labels, inputSize: inputSize, classes: classes)
    }

    /// Inputs stored as bytes, each input being byte / `divisor` (MNIST: pixels, 255).
    public init(bytes: [UInt8], divisor: Float, labels: [UInt8], inputSize: Int, classes: Int) {
        precondition(bytes.count == labels.count * inputSize, "inputs must hold count × inputSize values")
        self.init(inputs: .bytes(bytes, divisor: divisor), labels: labels, inputSize: inputSize, classes: classes)
    }

    private init(inputs: Inputs, labels: [UInt8], inputSize: Int, classes: Int) {
        precondition(labels.allSatisfy { Int($0) < classes }, "labels must lie in 0..<classes")
        self.inputs = inputs
        self.labels = labels
        self.inputSize = inputSize
        self.classes = classes
    }
}

/// A multi-layer perceptron trained with softmax cross-entropy on minibatches: the paper's MNIST
/// optimizee (§3.2: one hidden layer of 20 sigmoid units; §3.2's generalisation runs change the
/// width, the depth and the activation).
///
/// θ holds, layer after layer, the weights W (fan_in × fan_out, row-major) then the biases b.
/// The loss is the mean cross-entropy over a minibatch of `batchSize` examples drawn uniformly
/// **with replacement** at every evaluation, as `problems.mnist` of the released code does.
public final class MLP: Optimizee, @unchecked Sendable {
    public enum Activation: String, Sendable, CaseIterable {
        case sigmoid, relu, tanh
    }

    /// Indices of the examples of one minibatch.
    public typealias Batch = [Int32]

    public let data: ClassificationData
    /// Widths of every layer, input and output included: `[784, 20, 10]` for the base network.
    public let layerSizes: [Int]
    public let activation: Activation
    public let batchSize: Int
    /// Standard deviation of θ₀'s entries (weights and biases alike).
    public let initScale: Float
    public let parameterCount: Int
    /// Where layer l's weights and biases start in θ.
    let weightOffsets: [Int], biasOffsets: [Int]

    // Workspace, allocated once (an instance is not to be used from two threads at a time):
    // activations[l] is the input of layer l (batchSize × layerSizes[l]), the last one the
    // logits and then the softmax probabilities; delta is ∂loss/∂(pre-activation) of a layer.
    private let activations: [Buffer]
    private var delta: Buffer, deltaBelow: Buffer

    public init(data: ClassificationData, hiddenSizes: [Int] = [20], activation: Activation = .sigmoid, batchSize: Int = 128, initScale: Float = 0.01) {
        self.data = data
        self.layerSizes = [data.inputSize] + hiddenSizes + [data.classes]
        self.activation = activation
        self.batchSize = batchSize
        self.initScale = initScale
        var offset = 0
        var weightOffsets: [Int] = [], biasOffsets: [Int] = []
        for l in 0..<layerSizes.count - 1 {
            weightOffsets.append(offset)
            offset += layerSizes[l] * layerSizes[l + 1]
            biasOffsets.append(offset)
            offset += layerSizes[l + 1]
        }
        self.weightOffsets = weightOffsets
        self.biasOffsets = biasOffsets
        self.parameterCount = offset
        self.activations = layerSizes.map { Buffer(count: batchSize * $0) }
        let widest = layerSizes.max() ?? 0
        self.delta = Buffer(count: batchSize * widest)
        self.deltaBelow = Buffer(count: batchSize * widest)
    }

    /// Every weight and bias ~ N(0, initScale²).
    public func initialTheta(using generator: inout Generator) -> [Float] {
        (0..<parameterCount).map { _ in Float(generator.normal()) * initScale }
    }

    public func sampleBatch(using generator: inout Generator) -> [Int32] {
        (0..<batchSize).map { _ in Int32(generator.index(below: data.count)) }
    }

    public func lossAndGradient(_ theta: [Float], batch: [Int32], gradient: inout [Float]) -> Float {
        precondition(batch.count == batchSize, "a minibatch has \(batchSize) examples")
        precondition(theta.count == parameterCount && gradient.count == parameterCount, "θ and ∇f have \(parameterCount) coordinates")
        let layers = layerSizes.count - 1
        let rows = batchSize
        return theta.withUnsafeBufferPointer { theta in
            gradient.withUnsafeMutableBufferPointer { gradient in
                let theta = theta.baseAddress!, gradient = gradient.baseAddress!
                gather(batch)
                forward(theta, layers: layers, rows: rows)
                let loss = softmaxCrossEntropy(batch, top: activations[layers], rows: rows)
                backward(theta, gradient, layers: layers, rows: rows)
                return loss
            }
        }
    }

    // MARK: Implementation

    /// activations[0] = the minibatch's inputs (rows × inputSize).
    private func gather(_ batch: [Int32]) {
        let inputSize = data.inputSize, target = activations[0].pointer
        switch data.inputs {
        case let .values(values):
            values.withUnsafeBufferPointer { inputs in
                for (row, index) in batch.enumerated() {
                    (target + row * inputSize).update(from: inputs.baseAddress! + Int(index) * inputSize, count: inputSize)
                }
            }
        case let .bytes(bytes, divisor):
            bytes.withUnsafeBufferPointer { inputs in
                for (row, index) in batch.enumerated() {
                    let source = inputs.baseAddress! + Int(index) * inputSize, destination = target + row * inputSize
                    l2l_bytes_to_floats(Int64(inputSize), source, divisor, destination)
                }
            }
        }
    }

    /// activations[l + 1] = act(activations[l] · W_l + b_l), no activation on the logits.
    private func forward(_ theta: UnsafePointer<Float>, layers: Int, rows: Int) {
        for l in 0..<layers {
            let fanIn = layerSizes[l], fanOut = layerSizes[l + 1]
            let output = activations[l + 1].pointer
            Matrix.multiply(activations[l].pointer, theta + weightOffsets[l], into: output, m: rows, n: fanOut, k: fanIn)
            let bias = theta + biasOffsets[l]
            let isHidden = l < layers - 1
            for row in 0..<rows {
                let z = output + row * fanOut
                for unit in 0..<fanOut {
                    z[unit] += bias[unit]
                    if isHidden { z[unit] = activate(z[unit]) }
                }
            }
        }
    }

    /// Mean cross-entropy of the logits in `top`, which become the softmax probabilities;
    /// delta = ∂loss/∂logits = (p − onehot) / rows.
    private func softmaxCrossEntropy(_ batch: [Int32], top: Buffer, rows: Int) -> Float {
        let classes = data.classes
        var total: Double = 0
        for row in 0..<rows {
            let z = top.pointer + row * classes
            var largest = -Float.infinity
            for k in 0..<classes { largest = max(largest, z[k]) }
            var sum: Float = 0
            for k in 0..<classes {
                z[k] = Float.exp(z[k] - largest)
                sum += z[k]
            }
            let label = Int(data.labels[Int(batch[row])])
            // log p_label computed from the shifted logits, exact even when p_label underflows.
            total -= Double(Float.log(z[label]) - Float.log(sum))
            for k in 0..<classes {
                let p = z[k] / sum
                delta[row * classes + k] = (p - (k == label ? 1 : 0)) / Float(rows)
            }
        }
        return Float(total / Double(rows))
    }

    /// ∂W_l = activations[l]ᵀ · delta, ∂b_l = Σ_rows delta, delta_below = (delta · W_lᵀ) ⊙ act'.
    private func backward(_ theta: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>, layers: Int, rows: Int) {
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let fanIn = layerSizes[l], fanOut = layerSizes[l + 1]
            let input = activations[l].pointer
            Matrix.multiply(input, delta.pointer, into: gradient + weightOffsets[l], m: fanIn, n: fanOut, k: rows, transposeA: true)
            let bias = gradient + biasOffsets[l]
            bias.update(repeating: 0, count: fanOut)
            for row in 0..<rows {
                for unit in 0..<fanOut { bias[unit] += delta[row * fanOut + unit] }
            }
            guard l > 0 else { continue }
            Matrix.multiply(delta.pointer, theta + weightOffsets[l], into: deltaBelow.pointer, m: rows, n: fanIn, k: fanOut, transposeB: true)
            for index in 0..<rows * fanIn {
                deltaBelow[index] *= activationDerivative(output: input[index])
            }
            swap(&delta, &deltaBelow)
        }
    }

    @inline(__always)
    private func activate(_ z: Float) -> Float {
        switch activation {
        case .sigmoid: return sigmoid(z)
        case .relu: return max(z, 0)
        case .tanh: return Float.tanh(z)
        }
    }

    /// act'(z) written in terms of a = act(z).
    @inline(__always)
    private func activationDerivative(output a: Float) -> Float {
        switch activation {
        case .sigmoid: return a * (1 - a)
        case .relu: return a > 0 ? 1 : 0
        case .tanh: return 1 - a * a
        }
    }
}

/// The MNIST optimizee family: every instance is the same network on the same data (each
/// trajectory differs by θ₀ and the minibatches).
public struct MLPProblem: Problem, Sendable {
    public let data: ClassificationData
    public var hiddenSizes: [Int]
    public var activation: MLP.Activation
    public var batchSize: Int

    public init(data: ClassificationData, hiddenSizes: [Int] = [20], activation: MLP.Activation = .sigmoid, batchSize: Int = 128) {
        self.data = data
        self.hiddenSizes = hiddenSizes
        self.activation = activation
        self.batchSize = batchSize
    }

    /// The weights and biases of every layer: (784·20 + 20) + (20·10 + 10) = 15,910 for the base network.
    public var parameterCount: Int {
        let sizes = [data.inputSize] + hiddenSizes + [data.classes]
        return zip(sizes, sizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }

    public func makeInstance(using generator: inout Generator) -> MLP {
        MLP(data: data, hiddenSizes: hiddenSizes, activation: activation, batchSize: batchSize)
    }
}
