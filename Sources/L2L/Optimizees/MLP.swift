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
    /// How θ₀ is drawn.
    public let initialisation: Initialisation
    public let parameterCount: Int
    /// Where layer l's weights and biases start in θ.
    let weightOffsets: [Int], biasOffsets: [Int]

    /// Where each layer's weights and biases lie in θ, input layer first.
    public var layerRanges: [(weights: Range<Int>, biases: Range<Int>)] {
        weightOffsets.indices.map { l in
            (weightOffsets[l]..<biasOffsets[l], biasOffsets[l]..<biasOffsets[l] + layerSizes[l + 1])
        }
    }

    /// The minibatch's rows are split into this many fixed blocks, run by `BlockWorkers`; the
    /// weight gradients' rows likewise. Every value is computed the same way whatever the split
    /// (each is one row's or one weight's own sum), so the split changes no result. (Variable
    /// for the test that checks exactly this.)
    var blockCount = 2

    // Workspace, allocated once (an instance is not to be used from two threads at a time):
    // activations[l] is the input of layer l (batchSize × layerSizes[l]), the last one the
    // logits and then the softmax probabilities; deltas[l] is ∂loss/∂(pre-activation) of layer l
    // (batchSize × layerSizes[l + 1]); rowLosses the cross-entropy of each example.
    private let activations: [Buffer]
    private let deltas: [Buffer]
    private let rowLosses: Buffer

    public init(data: ClassificationData, hiddenSizes: [Int] = [20], activation: Activation = .sigmoid, batchSize: Int = 128, initialisation: Initialisation = .released) {
        self.data = data
        self.layerSizes = [data.inputSize] + hiddenSizes + [data.classes]
        self.activation = activation
        self.batchSize = batchSize
        self.initialisation = initialisation
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
        self.deltas = layerSizes.dropFirst().map { Buffer(count: batchSize * $0) }
        self.rowLosses = Buffer(count: batchSize)
    }

    /// θ₀ drawn as `initialisation` says (by default every weight and bias ~ N(0, 0.01²)).
    public func initialTheta(using generator: inout Generator) -> [Float] {
        initialisation.theta(layerSizes: layerSizes, using: &generator)
    }

    public func sampleBatch(using generator: inout Generator) -> [Int32] {
        (0..<batchSize).map { _ in Int32(generator.index(below: data.count)) }
    }

    public func lossAndGradient(_ theta: [Float], batch: [Int32], gradient: inout [Float]) -> Float {
        precondition(batch.count == batchSize, "a minibatch has \(batchSize) examples")
        precondition(theta.count == parameterCount && gradient.count == parameterCount, "θ and ∇f have \(parameterCount) coordinates")
        theta.withUnsafeBufferPointer { theta in
            gradient.withUnsafeMutableBufferPointer { gradient in
                let theta = theta.baseAddress!, gradient = gradient.baseAddress!
                // Every example's forward and backward pass down to the deltas needs only its own
                // row; then every weight's gradient is its own sum over the rows.
                BlockWorkers.shared.run(blockCount) { block in
                    let rows = part(block, of: batchSize)
                    gather(batch, rows: rows)
                    forward(theta, rows: rows)
                    softmaxCrossEntropy(batch, rows: rows)
                    backPropagate(theta, rows: rows)
                }
                BlockWorkers.shared.run(blockCount) { block in
                    weightGradients(gradient, block: block)
                }
            }
        }
        var total: Double = 0
        for row in 0..<batchSize { total -= Double(rowLosses[row]) }
        return Float(total / Double(batchSize))
    }

    // MARK: Implementation

    /// Block `block` of `blockCount` near-equal parts of 0..<count.
    private func part(_ block: Int, of count: Int) -> Range<Int> {
        (block * count / blockCount)..<((block + 1) * count / blockCount)
    }

    /// activations[0] = the minibatch's inputs (rows × inputSize).
    private func gather(_ batch: [Int32], rows: Range<Int>) {
        let inputSize = data.inputSize, target = activations[0].pointer
        switch data.inputs {
        case let .values(values):
            values.withUnsafeBufferPointer { inputs in
                for row in rows {
                    (target + row * inputSize).update(from: inputs.baseAddress! + Int(batch[row]) * inputSize, count: inputSize)
                }
            }
        case let .bytes(bytes, divisor):
            bytes.withUnsafeBufferPointer { inputs in
                for row in rows {
                    l2l_bytes_to_floats(Int64(inputSize), inputs.baseAddress! + Int(batch[row]) * inputSize, divisor, target + row * inputSize)
                }
            }
        }
    }

    /// activations[l + 1] = act(activations[l] · W_l + b_l), no activation on the logits.
    private func forward(_ theta: UnsafePointer<Float>, rows: Range<Int>) {
        let layers = layerSizes.count - 1
        for l in 0..<layers {
            let fanIn = layerSizes[l], fanOut = layerSizes[l + 1]
            let output = activations[l + 1].pointer
            Matrix.multiply(activations[l].pointer + rows.lowerBound * fanIn, theta + weightOffsets[l], into: output + rows.lowerBound * fanOut,
                            m: rows.count, n: fanOut, k: fanIn)
            let bias = theta + biasOffsets[l]
            let isHidden = l < layers - 1
            for row in rows {
                let z = output + row * fanOut
                for unit in 0..<fanOut {
                    z[unit] += bias[unit]
                    if isHidden { z[unit] = activate(z[unit]) }
                }
            }
        }
    }

    /// The logits become the softmax probabilities; rowLosses = log p_label (negated later);
    /// the top delta = ∂loss/∂logits = (p − onehot) / batchSize, the loss being the mean.
    private func softmaxCrossEntropy(_ batch: [Int32], rows: Range<Int>) {
        let classes = data.classes, top = activations[layerSizes.count - 1].pointer
        let delta = deltas[layerSizes.count - 2].pointer
        for row in rows {
            let z = top + row * classes
            var largest = -Float.infinity
            for k in 0..<classes { largest = max(largest, z[k]) }
            let label = Int(data.labels[Int(batch[row])])
            let shiftedLabelLogit = z[label] - largest
            var sum: Float = 0
            for k in 0..<classes {
                z[k] = Float.exp(z[k] - largest)
                sum += z[k]
            }
            // log p_label = (z_label − largest) − log Σ. Taking the log of the exponential where it
            // is a normal number keeps every loss recorded so far bit for bit; below that it loses
            // digits and then underflows to 0 (a logit gap beyond ~103), where log would give −inf:
            // a finite, confidently wrong network then read as a diverged one.
            let logNumerator = z[label] >= Float.leastNormalMagnitude ? Float.log(z[label]) : shiftedLabelLogit
            rowLosses[row] = logNumerator - Float.log(sum)
            for k in 0..<classes {
                let p = z[k] / sum
                delta[row * classes + k] = (p - (k == label ? 1 : 0)) / Float(batchSize)
            }
        }
    }

    /// deltas[l − 1] = (deltas[l] · W_lᵀ) ⊙ act'(activations[l]), from the top down, for some rows.
    private func backPropagate(_ theta: UnsafePointer<Float>, rows: Range<Int>) {
        for l in stride(from: layerSizes.count - 2, through: 1, by: -1) {
            let fanIn = layerSizes[l], fanOut = layerSizes[l + 1]
            let below = deltas[l - 1].pointer + rows.lowerBound * fanIn, input = activations[l].pointer + rows.lowerBound * fanIn
            Matrix.multiply(deltas[l].pointer + rows.lowerBound * fanOut, theta + weightOffsets[l], into: below,
                            m: rows.count, n: fanIn, k: fanOut, transposeB: true)
            for index in 0..<rows.count * fanIn {
                below[index] *= activationDerivative(output: input[index])
            }
        }
    }

    /// ∂W_l = activations[l]ᵀ · deltas[l] and ∂b_l = Σ_rows deltas[l], in blocks: block b computes
    /// part b of the first layer's weight rows (by far the most), the last block every other layer.
    private func weightGradients(_ gradient: UnsafeMutablePointer<Float>, block: Int) {
        let layers = layerSizes.count - 1
        for l in 0..<layers {
            let fanIn = layerSizes[l], fanOut = layerSizes[l + 1]
            let inputs = l == 0 ? part(block, of: fanIn) : (block == blockCount - 1 ? 0..<fanIn : 0..<0)
            guard !inputs.isEmpty else { continue }
            Matrix.multiply(activations[l].pointer + inputs.lowerBound, deltas[l].pointer, into: gradient + weightOffsets[l] + inputs.lowerBound * fanOut,
                            m: inputs.count, n: fanOut, k: batchSize, transposeA: true, lda: fanIn)
            guard block == blockCount - 1 else { continue }
            let bias = gradient + biasOffsets[l], delta = deltas[l].pointer
            bias.update(repeating: 0, count: fanOut)
            for row in 0..<batchSize {
                for unit in 0..<fanOut { bias[unit] += delta[row * fanOut + unit] }
            }
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
    public var initialisation: Initialisation

    public init(data: ClassificationData, hiddenSizes: [Int] = [20], activation: MLP.Activation = .sigmoid, batchSize: Int = 128,
                initialisation: Initialisation = .released) {
        self.data = data
        self.hiddenSizes = hiddenSizes
        self.activation = activation
        self.batchSize = batchSize
        self.initialisation = initialisation
    }

    /// The weights and biases of every layer: (784·20 + 20) + (20·10 + 10) = 15,910 for the base network.
    public var parameterCount: Int {
        let sizes = [data.inputSize] + hiddenSizes + [data.classes]
        return zip(sizes, sizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }

    public func makeInstance(using generator: inout Generator) -> MLP {
        MLP(data: data, hiddenSizes: hiddenSizes, activation: activation, batchSize: batchSize, initialisation: initialisation)
    }
}
