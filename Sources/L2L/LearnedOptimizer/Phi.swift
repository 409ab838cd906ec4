/// The shape of the learned optimizer (paper §2.1, Fig. 3): a stack of LSTM layers run
/// coordinate-wise, a linear layer to one output, and an output scale.
public struct LSTMArchitecture: Sendable, Equatable {
    /// Units of each LSTM layer, bottom first (the paper: two layers of 20).
    public var hiddenSizes: [Int]
    public var preprocessing: Preprocessing
    /// The LSTM's output is multiplied by this to give the update g_t.
    public var outputScale: Float

    public init(hiddenSizes: [Int] = [20, 20], preprocessing: Preprocessing, outputScale: Float) {
        precondition(!hiddenSizes.isEmpty && hiddenSizes.allSatisfy { $0 > 0 }, "at least one LSTM layer of positive width")
        self.hiddenSizes = hiddenSizes
        self.preprocessing = preprocessing
        self.outputScale = outputScale
    }

    /// The paper's MNIST optimizer: LogAndSign with k = 10, output scale 0.1.
    public static let paperMNIST = LSTMArchitecture(preprocessing: .logAndSign(k: 10), outputScale: 0.1)
    /// The released code's MNIST optimizer: LogAndSign with k = 5, output scale 0.01.
    public static let releasedCodeMNIST = LSTMArchitecture(preprocessing: .logAndSign(k: 5), outputScale: 0.01)
    /// The paper's quadratic optimizer: the raw gradient, output scale 1.
    public static let paperQuadratic = LSTMArchitecture(preprocessing: .identity, outputScale: 1)

    /// Where each layer's tensors live in φ.
    struct Layer {
        let inputSize: Int, hidden: Int, weights: Int, bias: Int
        var fanIn: Int { inputSize + hidden }
        var gateCount: Int { 4 * hidden }
    }

    var layers: [Layer] {
        var result: [Layer] = []
        var offset = 0
        var below = preprocessing.inputSize
        for hidden in hiddenSizes {
            let weights = offset
            offset += (below + hidden) * 4 * hidden
            result.append(Layer(inputSize: below, hidden: hidden, weights: weights, bias: offset))
            offset += 4 * hidden
            below = hidden
        }
        return result
    }

    /// Offsets of the output layer's weights (top hidden size × 1) and bias (1) in φ.
    var outputWeights: Int { layers.last.map { $0.bias + $0.gateCount } ?? 0 }
    var outputBias: Int { outputWeights + (hiddenSizes.last ?? 0) }
    var parameterCount: Int { outputBias + 1 }
}

/// The meta-parameters φ of the coordinate-wise LSTM optimizer, shared by every coordinate:
/// named tensors stored in one flat vector, so that Adam updates them in one pass.
///
/// Names and shapes, for layers k = 1, 2, …: `lstmk/w` ((input + hidden) × 4·hidden, rows the
/// input then the previous hidden state, columns the gates in the order i, j, f, o), `lstmk/b`
/// (4·hidden), `out/w` (hidden × 1) and `out/b` (1).
public struct Phi: Sendable, Equatable {
    /// One named tensor inside `values`.
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        public var range: Range<Int> { offset..<offset + count }
    }

    public let architecture: LSTMArchitecture
    public let tensors: [Tensor]
    public var values: [Float]

    /// φ with every value zero (a gradient's layout, or a buffer to fill).
    public init(zerosFor architecture: LSTMArchitecture) {
        self.architecture = architecture
        var tensors: [Tensor] = []
        for (index, layer) in architecture.layers.enumerated() {
            tensors.append(Tensor(name: "lstm\(index + 1)/w", shape: [layer.fanIn, layer.gateCount], offset: layer.weights))
            tensors.append(Tensor(name: "lstm\(index + 1)/b", shape: [layer.gateCount], offset: layer.bias))
        }
        let top = architecture.hiddenSizes.last ?? 0
        tensors.append(Tensor(name: "out/w", shape: [top, 1], offset: architecture.outputWeights))
        tensors.append(Tensor(name: "out/b", shape: [1], offset: architecture.outputBias))
        self.tensors = tensors
        self.values = [Float](repeating: 0, count: architecture.parameterCount)
    }

    /// φ initialised as Sonnet 1 initialises the released code's networks: LSTM gate weights and
    /// biases ~ truncated normal (σ = 1/√fan_in, fan_in = input + hidden, cut at 2σ); the output
    /// layer's weights likewise with fan_in = the top hidden size; its bias 0.
    public init(initializing architecture: LSTMArchitecture, using generator: inout Generator) {
        self.init(zerosFor: architecture)
        for layer in architecture.layers {
            let sigma = 1 / Double(layer.fanIn).squareRoot()
            for index in layer.weights..<layer.bias + layer.gateCount {
                values[index] = Float(generator.truncatedNormal(sigma: sigma))
            }
        }
        let top = architecture.hiddenSizes.last ?? 1
        let sigma = 1 / Double(top).squareRoot()
        for index in architecture.outputWeights..<architecture.outputBias {
            values[index] = Float(generator.truncatedNormal(sigma: sigma))
        }
    }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> Tensor? {
        tensors.first { $0.name == name }
    }

    /// The values of the tensor called `name` (empty if there is none).
    public func values(of name: String) -> [Float] {
        tensor(named: name).map { Array(values[$0.range]) } ?? []
    }

    /// Whether every value is finite.
    public var isFinite: Bool { values.allSatisfy(\.isFinite) }
}
