import CKernels

/// The arithmetic of one LSTM layer run for a block of coordinates at once (paper §2.1, Fig. 3):
/// gates = W_xᵀ · x + W_hᵀ · h + b, split into i, j, f, o,
///
///     c' = σ(f + 1) ⊙ c + σ(i) ⊙ tanh(j)        h' = tanh(c') ⊙ σ(o)
///
/// (the forget-gate bias of 1 is Sonnet's `forget_bias`, which the released code uses).
///
/// Every matrix is feature-major: one row per gate or unit, one column per coordinate, rows `ld`
/// floats apart (a block is a range of columns of the tape's matrices). The coordinates are thus
/// contiguous, so the element-wise loops (CKernels) run 16 coordinates per AVX-512 instruction.
/// φ keeps its documented layout (W is fan_in × 4H), read transposed by the products.
enum LSTMCell {
    /// Added to the forget gate's pre-activation (Sonnet's `forget_bias`).
    static let forgetBias: Float = 1

    /// Forward for `columns` coordinates (a multiple of 16). tanh and σ are CKernels' rational
    /// approximation (within 3e-7 of tanh), the same in training and evaluation.
    ///
    /// - Parameters:
    ///   - scratch: 4H rows of `scratchLD` ≥ `columns` that receive the pre-activation gates
    ///     b + Wᵀ · [x; h] (plus the forget bias of 1); kept small, so that they never leave the cache.
    ///   - below: the layer's input x (inputSize rows): the preprocessed gradient or the h' of
    ///     the layer below.
    ///   - hPrevious, cPrevious: the layer's state (H rows).
    ///   - gates: 4H rows; receives the activated gates σ(i), tanh(j), σ(f + 1), σ(o), which the
    ///     backward pass reuses (streamed to memory: 64-byte aligned rows). Nil in evaluation,
    ///     which records no tape.
    ///   - cNext, hNext: H rows.
    static func forward(
        phi: UnsafePointer<Float>, layer: LSTMArchitecture.Layer, columns: Int, ld: Int,
        scratch: UnsafeMutablePointer<Float>, scratchLD: Int,
        below: UnsafePointer<Float>, hPrevious: UnsafePointer<Float>, cPrevious: UnsafePointer<Float>,
        gates: UnsafeMutablePointer<Float>?, cNext: UnsafeMutablePointer<Float>, hNext: UnsafeMutablePointer<Float>
    ) {
        let width = layer.gateCount, weights = phi + layer.weights
        precondition(columns <= scratchLD, "the scratch block holds \(scratchLD) columns")
        // gates = (b + forget bias) + Wᵀ · [x; h], W (fan_in × 4H) read transposed: the sums start
        // from the biases, which saves the cell an addition per gate.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: width) { start in
            let bias = phi + layer.bias
            for gate in 0..<width { start[gate] = bias[gate] }
            for unit in 0..<layer.hidden { start[2 * layer.hidden + unit] += LSTMCell.forgetBias }
            l2l_lstm_product(
                Int64(width), Int64(columns), start.baseAddress, Int64(layer.inputSize), below, Int64(layer.hidden), hPrevious, Int64(ld),
                weights, 1, Int64(width), scratch, Int64(scratchLD))
        }
        if let gates {
            l2l_lstm_forward_streaming(Int64(layer.hidden), Int64(columns), scratch, Int64(scratchLD), cPrevious, Int64(ld), gates, cNext, hNext)
        } else {
            l2l_lstm_forward(Int64(layer.hidden), Int64(columns), scratch, Int64(scratchLD), cPrevious, Int64(ld), cNext, hNext)
        }
    }

    /// Backward for `columns` coordinates: accumulates ∂L/∂W and ∂L/∂b into `dPhi`.
    ///
    /// - Parameters:
    ///   - dh, dhRecurrent: ∂L/∂h' from the layer above (or the output) and from the next step;
    ///     on exit `dhRecurrent` holds ∂L/∂h for the previous step.
    ///   - dc: on entry ∂L/∂c' from the next step, on exit ∂L/∂c for the previous step.
    ///   - dGates: 4H rows of scratch.
    ///   - dBelow: receives ∂L/∂x (inputSize rows) when not nil.
    static func backward(
        phi: UnsafePointer<Float>, dPhi: UnsafeMutablePointer<Float>, layer: LSTMArchitecture.Layer, columns: Int, ld: Int,
        below: UnsafePointer<Float>, hPrevious: UnsafePointer<Float>, cPrevious: UnsafePointer<Float>,
        gates: UnsafePointer<Float>, cNext: UnsafePointer<Float>,
        dh: UnsafePointer<Float>, dhRecurrent: UnsafeMutablePointer<Float>, dc: UnsafeMutablePointer<Float>,
        dGates: UnsafeMutablePointer<Float>, dBelow: UnsafeMutablePointer<Float>?
    ) {
        let width = layer.gateCount, weights = phi + layer.weights, dWeights = dPhi + layer.weights
        let hWeights = weights + layer.inputSize * width
        l2l_lstm_backward(Int64(layer.hidden), Int64(columns), Int64(ld), gates, cPrevious, cNext, dh, dhRecurrent, dc, dGates)
        // ∂W += [x; h] · dGatesᵀ, ∂b += Σ_columns dGates, ∂[x; h] = W · dGates.
        l2l_lstm_weight_gradient(
            Int64(columns), Int64(layer.inputSize), below, Int64(layer.hidden), hPrevious, Int64(ld), Int64(width), dGates, Int64(ld),
            dWeights, Int64(width))
        l2l_add_row_sums(Int64(width), Int64(columns), Int64(ld), dGates, dPhi + layer.bias)
        l2l_lstm_product(Int64(layer.hidden), Int64(columns), nil, Int64(width), dGates, 0, dGates, Int64(ld), hWeights, Int64(width), 1, dhRecurrent, Int64(ld))
        if let dBelow {
            l2l_lstm_product(Int64(layer.inputSize), Int64(columns), nil, Int64(width), dGates, 0, dGates, Int64(ld), weights, Int64(width), 1, dBelow, Int64(ld))
        }
    }
}

/// The per-coordinate recurrent state of the learned optimizer: (h, c) of every layer, for every
/// coordinate, and the preprocessing's running moments where it keeps any (all zero at the start
/// of a trajectory).
public final class LSTMState: @unchecked Sendable {
    /// Coordinates per SIMD step of the kernels: the buffers' rows are padded to a multiple.
    public static let lanes = 16

    /// h and c of each layer, feature-major: H rows of `columns` values, the first
    /// `coordinates` of each row used (the rest are padding, never read back into θ).
    public internal(set) var h: [Buffer], c: [Buffer]
    /// The preprocessing's running values (`Preprocessing.momentCount` rows of `columns`: m, v).
    public internal(set) var moments: [Buffer]
    public let coordinates: Int
    /// The row length: `coordinates` rounded up to a multiple of `lanes`.
    public let columns: Int
    let hiddenSizes: [Int]

    /// The padded row length for `coordinates`.
    public static func columns(for coordinates: Int) -> Int {
        max((coordinates + lanes - 1) / lanes, 1) * lanes
    }

    public convenience init(architecture: LSTMArchitecture, coordinates: Int) {
        self.init(hiddenSizes: architecture.hiddenSizes, coordinates: coordinates, momentCount: architecture.preprocessing.momentCount)
    }

    init(hiddenSizes: [Int], coordinates: Int, momentCount: Int = 0) {
        self.coordinates = coordinates
        self.hiddenSizes = hiddenSizes
        columns = Self.columns(for: coordinates)
        h = hiddenSizes.map { [columns] in Buffer(count: columns * $0) }
        c = hiddenSizes.map { [columns] in Buffer(count: columns * $0) }
        moments = (0..<momentCount).map { [columns] _ in Buffer(count: columns) }
    }

    /// Every buffer, in the order `flattened` lists them.
    private var buffers: [Buffer] { h + c + moments }

    /// The values `flattened` holds.
    private var valueCount: Int { (2 * hiddenSizes.reduce(0, +) + moments.count) * coordinates }

    /// An independent copy.
    public func copy() -> LSTMState {
        let result = LSTMState(hiddenSizes: hiddenSizes, coordinates: coordinates, momentCount: moments.count)
        for (target, source) in zip(result.buffers, buffers) { target.copy(from: source) }
        return result
    }

    public func reset() {
        for buffer in buffers { buffer.fill(0) }
    }

    /// Every value without the padding: h of each layer, then c of each layer, each H × N (row u
    /// holds unit u of every coordinate), then the moments (m, v: N each) where the preprocessing
    /// keeps them. What a checkpoint saves and `load(flattened:)` restores.
    public var flattened: [Float] {
        var values: [Float] = []
        values.reserveCapacity(valueCount)
        for buffer in buffers {
            for row in 0..<buffer.count / columns {
                values.append(contentsOf: UnsafeBufferPointer(start: buffer.pointer + row * columns, count: coordinates))
            }
        }
        return values
    }

    /// Restores values saved by `flattened`; false (and the state unchanged) when the count differs.
    public func load(flattened values: [Float]) -> Bool {
        guard values.count == valueCount else { return false }
        reset()
        var offset = 0
        values.withUnsafeBufferPointer { values in
            for buffer in buffers {
                for row in 0..<buffer.count / columns {
                    (buffer.pointer + row * columns).update(from: values.baseAddress! + offset, count: coordinates)
                    offset += coordinates
                }
            }
        }
        return true
    }
}
