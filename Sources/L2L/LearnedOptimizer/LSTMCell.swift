import CKernels

/// The arithmetic of one LSTM layer run for every coordinate at once (paper §2.1, Fig. 3): the
/// coordinates are the rows of one matrix product, gates = [x, h] · W + b, split into i, j, f, o:
///
///     c' = σ(f + 1) ⊙ c + σ(i) ⊙ tanh(j)        h' = tanh(c') ⊙ σ(o)
///
/// (the forget-gate bias of 1 is Sonnet's `forget_bias`, which the released code uses).
enum LSTMCell {
    /// Forward for `rows` coordinates. tanh and σ are CKernels' rational approximation (within
    /// 3e-7 of tanh), the same in training and evaluation.
    ///
    /// - Parameters:
    ///   - input: rows × fanIn, each row [x, h_prev].
    ///   - gates: rows × 4H, receives the activated gates σ(i), tanh(j), σ(f + 1), σ(o), which the
    ///     backward pass reuses.
    ///   - cPrevious, cNext, hNext, tanhC: rows × H; tanhC receives tanh(c') for the backward pass.
    static func forward(
        phi: UnsafePointer<Float>, layer: LSTMArchitecture.Layer, rows: Int,
        input: UnsafePointer<Float>, cPrevious: UnsafePointer<Float>,
        gates: UnsafeMutablePointer<Float>, cNext: UnsafeMutablePointer<Float>, hNext: UnsafeMutablePointer<Float>,
        tanhC: UnsafeMutablePointer<Float>
    ) {
        Matrix.multiply(input, phi + layer.weights, into: gates, m: rows, n: layer.gateCount, k: layer.fanIn)
        // The element-wise part, vectorised in C (CKernels): the gates' activations, c' and h'.
        l2l_lstm_cell_forward(Int64(rows), Int64(layer.hidden), gates, phi + layer.bias, cPrevious, cNext, hNext, tanhC)
    }

    /// Backward for `rows` coordinates: accumulates ∂L/∂W and ∂L/∂b into `dPhi`.
    ///
    /// - Parameters:
    ///   - tanhC: rows × H, tanh(c') saved by the forward pass.
    ///   - dh: rows × H, ∂L/∂h' (from the layer above or the output, plus the next step).
    ///   - dc: rows × H; on entry ∂L/∂c' from the next step, on exit ∂L/∂c for the previous step.
    ///   - dGates: rows × 4H scratch.
    ///   - dInput: rows × fanIn, receives ∂L/∂[x, h_prev].
    static func backward(
        phi: UnsafePointer<Float>, dPhi: UnsafeMutablePointer<Float>, layer: LSTMArchitecture.Layer, rows: Int,
        input: UnsafePointer<Float>, gates: UnsafePointer<Float>, cPrevious: UnsafePointer<Float>, tanhC: UnsafePointer<Float>,
        dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>, dGates: UnsafeMutablePointer<Float>, dInput: UnsafeMutablePointer<Float>
    ) {
        let width = layer.gateCount
        l2l_lstm_cell_backward(Int64(rows), Int64(layer.hidden), gates, cPrevious, tanhC, dh, dc, dGates)
        // ∂W += inputᵀ · dGates; ∂b += Σ_rows dGates; ∂input = dGates · Wᵀ.
        Matrix.multiply(input, dGates, into: dPhi + layer.weights, m: layer.fanIn, n: width, k: rows, transposeA: true, beta: 1)
        let dBias = dPhi + layer.bias
        for row in 0..<rows {
            let dz = dGates + row * width
            for column in 0..<width { dBias[column] += dz[column] }
        }
        Matrix.multiply(dGates, phi + layer.weights, into: dInput, m: rows, n: layer.fanIn, k: width, transposeB: true)
    }

    /// Copies `rows` rows of `width` values into columns offset..<offset+width of a matrix with
    /// `stride` columns (building [x, h_prev] from its parts).
    static func place(_ source: UnsafePointer<Float>, rows: Int, width: Int, into matrix: UnsafeMutablePointer<Float>, stride: Int, offset: Int) {
        for row in 0..<rows {
            (matrix + row * stride + offset).update(from: source + row * width, count: width)
        }
    }

    /// The opposite of `place`: columns offset..<offset+width of a matrix into a dense block.
    static func take(_ matrix: UnsafePointer<Float>, rows: Int, stride: Int, offset: Int, width: Int, into target: UnsafeMutablePointer<Float>) {
        for row in 0..<rows {
            (target + row * width).update(from: matrix + row * stride + offset, count: width)
        }
    }
}

/// The per-coordinate recurrent state of the learned optimizer: (h, c) of every layer, for every
/// coordinate (zero at the start of a trajectory).
public final class LSTMState: @unchecked Sendable {
    /// h and c of each layer, coordinates × hidden.
    public let h: [Buffer], c: [Buffer]
    public let coordinates: Int

    public init(architecture: LSTMArchitecture, coordinates: Int) {
        self.coordinates = coordinates
        h = architecture.hiddenSizes.map { Buffer(count: coordinates * $0) }
        c = architecture.hiddenSizes.map { Buffer(count: coordinates * $0) }
    }

    /// An independent copy.
    public func copy() -> LSTMState {
        let result = LSTMState(hiddenSizes: h.map { $0.count / max(coordinates, 1) }, coordinates: coordinates)
        for (target, source) in zip(result.h + result.c, h + c) { target.copy(from: source) }
        return result
    }

    private init(hiddenSizes: [Int], coordinates: Int) {
        self.coordinates = coordinates
        h = hiddenSizes.map { Buffer(count: coordinates * $0) }
        c = hiddenSizes.map { Buffer(count: coordinates * $0) }
    }

    public func reset() {
        for buffer in h + c { buffer.fill(0) }
    }

    /// Every value, h of each layer then c of each layer, in the buffers' own layout: what a
    /// checkpoint saves and `load(flattened:)` restores.
    public var flattened: [Float] { (h + c).flatMap(\.array) }

    /// Restores values saved by `flattened`; false (and the state unchanged) when the count differs.
    public func load(flattened values: [Float]) -> Bool {
        guard values.count == (h + c).reduce(0, { $0 + $1.count }) else { return false }
        var offset = 0
        values.withUnsafeBufferPointer { values in
            for buffer in h + c {
                buffer.pointer.update(from: values.baseAddress! + offset, count: buffer.count)
                offset += buffer.count
            }
        }
        return true
    }
}
