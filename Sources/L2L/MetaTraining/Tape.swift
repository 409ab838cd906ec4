/// Everything the backward pass needs from an unroll of the learned optimizer, in buffers
/// allocated once for a given number of coordinates and steps and reused by every unroll.
///
/// Per step t and layer l: the layer's input [x, h_prev] (N × fan_in), its activated gates
/// (N × 4H), and its new c and h (N × H); per step the optimizee's gradient ∇f(θ_t) (N).
final class Tape {
    let architecture: LSTMArchitecture
    let layers: [LSTMArchitecture.Layer]
    let coordinates: Int
    let steps: Int

    let inputs: [[Buffer]], gates: [[Buffer]], cells: [[Buffer]], hiddens: [[Buffer]]
    /// (h, c) before step 0.
    let initial: LSTMState
    /// ∇f(θ_t) for t = 0…steps (the last one from the final evaluation of the unroll).
    let gradients: [Buffer]
    /// The preprocessed gradient of the current step (N × input size).
    let preprocessed: Buffer
    /// The update δ_t of the current step (N).
    let delta: Buffer

    // Backward scratch.
    let dhRecurrent: [Buffer], dc: [Buffer]
    let dhAbove: Buffer, dGates: Buffer, dInput: Buffer, dTheta: Buffer, dy: Buffer

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
        dy = Buffer(count: n)
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
        let n = coordinates
        try architecture.preprocessing.apply(gradients[t].pointer, count: n, into: preprocessed.pointer)
        var below = preprocessed.pointer, belowWidth = architecture.preprocessing.inputSize
        for (l, layer) in layers.enumerated() {
            let input = inputs[t][l].pointer
            LSTMCell.place(below, rows: n, width: belowWidth, into: input, stride: layer.fanIn, offset: 0)
            LSTMCell.place(hPrevious(step: t, layer: l), rows: n, width: layer.hidden, into: input, stride: layer.fanIn, offset: layer.inputSize)
            LSTMCell.forward(
                phi: phi, layer: layer, rows: n, input: input, cPrevious: cPrevious(step: t, layer: l),
                gates: gates[t][l].pointer, cNext: cells[t][l].pointer, hNext: hiddens[t][l].pointer)
            below = hiddens[t][l].pointer
            belowWidth = layer.hidden
        }
        let outputWeights = phi + architecture.outputWeights, outputBias = phi[architecture.outputBias]
        let scale = architecture.outputScale
        for row in 0..<n {
            var sum: Float = 0
            for k in 0..<belowWidth { sum += below[row * belowWidth + k] * outputWeights[k] }
            delta[row] = scale * (sum + outputBias)
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
        let n = coordinates
        dPhi.update(repeating: 0, count: architecture.parameterCount)
        for buffer in dhRecurrent + dc { buffer.fill(0) }
        for row in 0..<n { dTheta[row] = weights[steps] * gradients[steps][row] }

        let top = layers.count - 1, topHidden = layers[top].hidden
        let outputWeights = phi + architecture.outputWeights
        let dOutputWeights = dPhi + architecture.outputWeights
        for t in stride(from: steps - 1, through: 0, by: -1) {
            // Output layer: δ = scale · (h_top · w + b).
            let hTop = hiddens[t][top].pointer
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
                let dh = dhAbove.pointer
                for index in 0..<n * layer.hidden { dh[index] += dhRecurrent[l][index] }
                LSTMCell.backward(
                    phi: phi, dPhi: dPhi, layer: layer, rows: n,
                    input: inputs[t][l].pointer, gates: gates[t][l].pointer,
                    cPrevious: cPrevious(step: t, layer: l), cNext: cells[t][l].pointer,
                    dh: dh, dc: dc[l].pointer, dGates: dGates.pointer, dInput: dInput.pointer)
                LSTMCell.take(dInput.pointer, rows: n, stride: layer.fanIn, offset: layer.inputSize, width: layer.hidden, into: dhRecurrent[l].pointer, accumulate: false)
                if l > 0 {
                    LSTMCell.take(dInput.pointer, rows: n, stride: layer.fanIn, offset: 0, width: layer.inputSize, into: dhAbove.pointer, accumulate: false)
                }
            }
            if t > 0 {
                let weight = weights[t], gradient = gradients[t].pointer
                for row in 0..<n { dTheta[row] += weight * gradient[row] }
            }
        }
    }
}
