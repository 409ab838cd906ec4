import Dispatch

/// Everything the backward pass needs from an unroll of the learned optimizer, in buffers
/// allocated once for a given number of coordinates and steps and reused by every unroll.
///
/// Per step t and layer l: the layer's input [x, h_prev] (N × fan_in), its activated gates
/// (N × 4H), and its new c and h (N × H); per step the optimizee's gradient ∇f(θ_t) (N).
///
/// The coordinates never interact except through φ, so the rows are split into `workerCount`
/// fixed blocks run concurrently, each through the whole forward and backward pass; each block
/// accumulates its own ∂L/∂φ, summed in block order at the end. The split does not depend on the
/// machine, so results are the same on any number of cores.
final class Tape: @unchecked Sendable {
    /// Blocks of coordinates processed concurrently (two: the machines we target have two cores).
    static let workerCount = 2

    let architecture: LSTMArchitecture
    let layers: [LSTMArchitecture.Layer]
    let coordinates: Int
    let steps: Int

    let inputs: [[Buffer]], gates: [[Buffer]], cells: [[Buffer]], hiddens: [[Buffer]], tanhCells: [[Buffer]]
    /// (h, c) before step 0.
    let initial: LSTMState
    /// ∇f(θ_t) for t = 0…steps (the last one from the final evaluation of the unroll).
    let gradients: [Buffer]
    /// The preprocessed gradient of the current step (N × input size).
    let preprocessed: Buffer
    /// The update δ_t of the current step (N).
    let delta: Buffer

    // Backward scratch (rows × width each, so that the blocks use disjoint rows).
    let dhRecurrent: [Buffer], dc: [Buffer]
    let dhAbove: Buffer, dGates: Buffer, dInput: Buffer, dTheta: Buffer
    /// The rows of each block, and each block's ∂L/∂φ.
    let blocks: [Range<Int>]
    let partialGradients: [Buffer]

    init(architecture: LSTMArchitecture, coordinates: Int, steps: Int) {
        let layers = architecture.layers
        self.architecture = architecture
        self.layers = layers
        self.coordinates = coordinates
        self.steps = steps
        let n = coordinates
        inputs = (0..<steps).map { _ in layers.map { Buffer(count: n * $0.fanIn) } }
        gates = (0..<steps).map { _ in layers.map { Buffer(count: n * $0.gateCount) } }
        cells = (0..<steps).map { _ in layers.map { Buffer(count: n * $0.hidden) } }
        hiddens = (0..<steps).map { _ in layers.map { Buffer(count: n * $0.hidden) } }
        tanhCells = (0..<steps).map { _ in layers.map { Buffer(count: n * $0.hidden) } }
        initial = LSTMState(architecture: architecture, coordinates: n)
        gradients = (0...steps).map { _ in Buffer(count: n) }
        preprocessed = Buffer(count: n * architecture.preprocessing.inputSize)
        delta = Buffer(count: n)
        dhRecurrent = layers.map { Buffer(count: n * $0.hidden) }
        dc = layers.map { Buffer(count: n * $0.hidden) }
        let widestHidden = layers.map(\.hidden).max() ?? 0
        dhAbove = Buffer(count: n * max(widestHidden, architecture.preprocessing.inputSize))
        dGates = Buffer(count: n * (layers.map(\.gateCount).max() ?? 0))
        dInput = Buffer(count: n * (layers.map(\.fanIn).max() ?? 0))
        dTheta = Buffer(count: n)
        let workers = min(Self.workerCount, max(n, 1))
        blocks = (0..<workers).map { w in (w * n / workers)..<((w + 1) * n / workers) }
        partialGradients = blocks.map { _ in Buffer(count: architecture.parameterCount) }
    }

    /// Runs `body` for every block of rows concurrently, denormals flushed on each worker.
    private func forEachBlock(_ body: (Int, Range<Int>) -> Void) {
        // The blocks write disjoint rows of the buffers and their own partial gradient, which
        // is what makes sharing `body` and `self` across the workers safe.
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            let blocks = self.blocks
            DispatchQueue.concurrentPerform(iterations: blocks.count) { index in
                Matrix.withDenormalsFlushed { shared.value(index, blocks[index]) }
            }
        }
    }

    func hPrevious(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        t == 0 ? initial.h[l].pointer : hiddens[t - 1][l].pointer
    }

    func cPrevious(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        t == 0 ? initial.c[l].pointer : cells[t - 1][l].pointer
    }

    /// Step t of the learned optimizer: from `gradients[t]`, the update δ_t into `delta`
    /// (δ = outputScale · (h_top · w_out + b_out)).
    func forward(step t: Int, phi: UnsafePointer<Float>) throws(NonFiniteGradientError) {
        var failures = [NonFiniteGradientError?](repeating: nil, count: blocks.count)
        failures.withUnsafeMutableBufferPointer { failures in
            forEachBlock { index, rows in
                do throws(NonFiniteGradientError) {
                    try forward(step: t, phi: phi, rows: rows)
                } catch {
                    failures[index] = error
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
    }

    private func forward(step t: Int, phi: UnsafePointer<Float>, rows: Range<Int>) throws(NonFiniteGradientError) {
        let n = rows.count, first = rows.lowerBound
        let inputSize = architecture.preprocessing.inputSize
        do {
            try architecture.preprocessing.apply(gradients[t].pointer + first, count: n, into: preprocessed.pointer + first * inputSize)
        } catch {
            throw NonFiniteGradientError(coordinate: error.coordinate + first, value: error.value)
        }
        var below = preprocessed.pointer + first * inputSize, belowWidth = inputSize
        for (l, layer) in layers.enumerated() {
            let input = inputs[t][l].pointer + first * layer.fanIn
            let h = first * layer.hidden
            LSTMCell.place(below, rows: n, width: belowWidth, into: input, stride: layer.fanIn, offset: 0)
            LSTMCell.place(hPrevious(step: t, layer: l) + h, rows: n, width: layer.hidden, into: input, stride: layer.fanIn, offset: layer.inputSize)
            LSTMCell.forward(
                phi: phi, layer: layer, rows: n, input: input, cPrevious: cPrevious(step: t, layer: l) + h,
                gates: gates[t][l].pointer + first * layer.gateCount, cNext: cells[t][l].pointer + h, hNext: hiddens[t][l].pointer + h,
                tanhC: tanhCells[t][l].pointer + h)
            below = hiddens[t][l].pointer + h
            belowWidth = layer.hidden
        }
        let outputWeights = phi + architecture.outputWeights, outputBias = phi[architecture.outputBias]
        let scale = architecture.outputScale
        for row in 0..<n {
            var sum: Float = 0
            for k in 0..<belowWidth { sum += below[row * belowWidth + k] * outputWeights[k] }
            delta[first + row] = scale * (sum + outputBias)
        }
    }

    /// ∂L/∂φ of the meta-loss L = Σ_{t=0}^{T} w_t f(θ_t) of the last unroll of T steps, by
    /// back-propagation through time (paper eq. 3–5). The optimizee's gradients are constants
    /// (∂∇_t/∂φ = 0), so θ_{t+1} = θ_t + δ_t gives ∂L/∂θ_T = w_T ∇_T and
    /// ∂L/∂θ_t = w_t ∇_t + ∂L/∂θ_{t+1}, and ∂L/∂δ_t = ∂L/∂θ_{t+1}.
    ///
    /// - Parameter dPhi: receives the gradient (overwritten), laid out as φ.
    func backward(steps: Int, phi: UnsafePointer<Float>, weights: [Float], into dPhi: UnsafeMutablePointer<Float>) {
        precondition(steps <= self.steps && weights.count > steps, "an unroll of \(steps) steps needs \(steps + 1) weights and a tape that long")
        forEachBlock { index, rows in
            backward(steps: steps, phi: phi, weights: weights, rows: rows, into: partialGradients[index].pointer)
        }
        let count = architecture.parameterCount
        dPhi.update(from: partialGradients[0].pointer, count: count)
        for partial in partialGradients.dropFirst() {
            for k in 0..<count { dPhi[k] += partial[k] }
        }
    }

    private func backward(steps: Int, phi: UnsafePointer<Float>, weights: [Float], rows: Range<Int>, into dPhi: UnsafeMutablePointer<Float>) {
        let n = rows.count, first = rows.lowerBound
        dPhi.update(repeating: 0, count: architecture.parameterCount)
        for (l, layer) in layers.enumerated() {
            (dhRecurrent[l].pointer + first * layer.hidden).update(repeating: 0, count: n * layer.hidden)
            (dc[l].pointer + first * layer.hidden).update(repeating: 0, count: n * layer.hidden)
        }
        let dTheta = self.dTheta.pointer + first
        for row in 0..<n { dTheta[row] = weights[steps] * gradients[steps][first + row] }

        let top = layers.count - 1, topHidden = layers[top].hidden
        let outputWeights = phi + architecture.outputWeights
        let dOutputWeights = dPhi + architecture.outputWeights
        let widest = max(layers.map(\.hidden).max() ?? 0, architecture.preprocessing.inputSize)
        let dhAbove = self.dhAbove.pointer + first * widest
        let dGates = self.dGates.pointer + first * (layers.map(\.gateCount).max() ?? 0)
        let dInput = self.dInput.pointer + first * (layers.map(\.fanIn).max() ?? 0)
        for t in stride(from: steps - 1, through: 0, by: -1) {
            // Output layer: δ = scale · (h_top · w + b).
            let hTop = hiddens[t][top].pointer + first * topHidden
            var dBias: Float = 0
            for row in 0..<n {
                let dyValue = architecture.outputScale * dTheta[row]
                dBias += dyValue
                for k in 0..<topHidden {
                    dOutputWeights[k] += hTop[row * topHidden + k] * dyValue
                    dhAbove[row * topHidden + k] = dyValue * outputWeights[k]
                }
            }
            dPhi[architecture.outputBias] += dBias

            for l in stride(from: top, through: 0, by: -1) {
                let layer = layers[l]
                let h = first * layer.hidden
                let recurrent = dhRecurrent[l].pointer + h
                for index in 0..<n * layer.hidden { dhAbove[index] += recurrent[index] }
                LSTMCell.backward(
                    phi: phi, dPhi: dPhi, layer: layer, rows: n,
                    input: inputs[t][l].pointer + first * layer.fanIn, gates: gates[t][l].pointer + first * layer.gateCount,
                    cPrevious: cPrevious(step: t, layer: l) + h, tanhC: tanhCells[t][l].pointer + h,
                    dh: dhAbove, dc: dc[l].pointer + h, dGates: dGates, dInput: dInput)
                LSTMCell.take(dInput, rows: n, stride: layer.fanIn, offset: layer.inputSize, width: layer.hidden, into: recurrent)
                if l > 0 {
                    LSTMCell.take(dInput, rows: n, stride: layer.fanIn, offset: 0, width: layer.inputSize, into: dhAbove)
                }
            }
            if t > 0 {
                let weight = weights[t], gradient = gradients[t].pointer + first
                for row in 0..<n { dTheta[row] += weight * gradient[row] }
            }
        }
    }
}

/// A value handed to concurrent workers whose safety the caller guarantees (disjoint writes).
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
