import CKernels

/// Everything the backward pass needs from an unroll of the learned optimizer, in buffers
/// allocated once for a given number of coordinates and steps and reused by every unroll.
///
/// Feature-major (see `LSTMCell`): every matrix has one row per feature and `columns` columns,
/// the coordinates padded to a multiple of 16 (the padding's gradient is zero, so it adds exactly
/// nothing to ∂L/∂φ). Per step t: the preprocessed gradient (inputSize rows) and ∇f(θ_t); per
/// step and layer: the activated gates (4H rows), c' and h' (H rows each). The forward pass
/// streams the gates to memory (non-temporal stores: they are read again only by the backward
/// pass); the backward pass reads them back chunk by chunk and recomputes tanh(c') from c'.
///
/// The coordinates never interact except through φ, so the columns are split into `workerCount`
/// fixed blocks run concurrently, each through the whole forward and backward pass; each block
/// accumulates its own ∂L/∂φ, summed in block order at the end. The split does not depend on the
/// machine, so results are the same on any number of cores.
final class Tape: @unchecked Sendable {
    /// Blocks of coordinates processed concurrently (two: the machines we target have two cores).
    static let workerCount = 2
    /// Columns per chunk of the backward pass (a multiple of 16; see `backward`).
    static let backwardChunk = 1024
    /// Columns per chunk of the forward pass: its raw gates (4H × 256 floats) stay in L2.
    static let forwardChunk = 256

    let architecture: LSTMArchitecture
    let layers: [LSTMArchitecture.Layer]
    let coordinates: Int
    /// The row length of every matrix: `coordinates` rounded up to a multiple of 16.
    let columns: Int
    let steps: Int
    /// Whether the forward pass keeps the activated gates, which the backward pass needs;
    /// evaluation, which never goes back, does not.
    let records: Bool

    let preprocessed: [Buffer]
    /// Per step and layer (empty when the tape does not record).
    let gates: [[Buffer]]
    /// c' and h' (variable so that evaluation can swap them with `initial` rather than copy).
    var cells: [[Buffer]], hiddens: [[Buffer]]
    /// (h, c) before step 0.
    let initial: LSTMState
    /// ∇f(θ_t) for t = 0…steps (the last one from the final evaluation of the unroll), zero in the padding.
    let gradients: [Buffer]
    /// The update δ_t of the current step.
    let delta: Buffer

    // Backward scratch.
    let dhRecurrent: [Buffer], dc: [Buffer]
    let dhAbove: Buffer, dGates: Buffer, dTheta: Buffer, dy: Buffer
    /// The columns of each block, and each block's ∂L/∂φ.
    let blocks: [Range<Int>]
    let partialGradients: [Buffer]
    /// Each block's scratch for the raw gates of a chunk of the forward pass.
    let rawGates: [Buffer]

    init(architecture: LSTMArchitecture, coordinates: Int, steps: Int, records: Bool = true) {
        let layers = architecture.layers
        self.architecture = architecture
        self.layers = layers
        self.coordinates = coordinates
        self.steps = steps
        self.records = records
        let columns = LSTMState.columns(for: coordinates)
        self.columns = columns
        func matrices(_ rows: (LSTMArchitecture.Layer) -> Int) -> [[Buffer]] {
            (0..<steps).map { _ in layers.map { Buffer(count: rows($0) * columns) } }
        }
        preprocessed = (0..<steps).map { _ in Buffer(count: architecture.preprocessing.inputSize * columns) }
        gates = records ? matrices(\.gateCount) : []
        cells = matrices(\.hidden)
        hiddens = matrices(\.hidden)
        initial = LSTMState(architecture: architecture, coordinates: coordinates)
        gradients = (0...steps).map { _ in Buffer(count: columns) }
        delta = Buffer(count: columns)
        dhRecurrent = layers.map { Buffer(count: $0.hidden * columns) }
        dc = layers.map { Buffer(count: $0.hidden * columns) }
        let widest = max(layers.map(\.hidden).max() ?? 0, architecture.preprocessing.inputSize)
        dhAbove = Buffer(count: widest * columns)
        dGates = Buffer(count: (layers.map(\.gateCount).max() ?? 0) * columns)
        dTheta = Buffer(count: columns)
        dy = Buffer(count: columns)
        // Block boundaries on multiples of 16, so that every block's columns are whole SIMD steps.
        let lanes = LSTMState.lanes, workers = min(Self.workerCount, columns / lanes)
        blocks = (0..<workers).map { w in (w * columns / lanes / workers * lanes)..<((w + 1) * columns / lanes / workers * lanes) }
        partialGradients = blocks.map { _ in Buffer(count: architecture.parameterCount) }
        rawGates = blocks.map { _ in Buffer(count: (layers.map(\.gateCount).max() ?? 0) * Self.forwardChunk) }
    }

    /// Runs `body` for every block of columns concurrently, denormals flushed on each worker.
    /// The blocks write disjoint columns of the buffers and their own partial gradient.
    private func forEachBlock(_ body: (Int, Range<Int>) -> Void) {
        let blocks = self.blocks
        BlockWorkers.shared.run(blocks.count) { index in
            Matrix.withDenormalsFlushed { body(index, blocks[index]) }
        }
    }

    func hPrevious(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        t == 0 ? initial.h[l].pointer : hiddens[t - 1][l].pointer
    }

    func cPrevious(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        t == 0 ? initial.c[l].pointer : cells[t - 1][l].pointer
    }

    /// The input x of layer l at step t: the preprocessed gradient, or h' of the layer below.
    func below(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        l == 0 ? preprocessed[t].pointer : hiddens[t][l - 1].pointer
    }

    /// Step t of the learned optimizer: from `gradients[t]`, the update δ_t into `delta`
    /// (δ = outputScale · (h_top · w_out + b_out)).
    func forward(step t: Int, phi: UnsafePointer<Float>) throws(NonFiniteGradientError) {
        var failures = [NonFiniteGradientError?](repeating: nil, count: blocks.count)
        failures.withUnsafeMutableBufferPointer { failures in
            forEachBlock { index, block in
                do throws(NonFiniteGradientError) {
                    try forward(step: t, phi: phi, block: block, scratch: rawGates[index].pointer)
                } catch {
                    failures[index] = error
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
    }

    private func forward(step t: Int, phi: UnsafePointer<Float>, block: Range<Int>, scratch: UnsafeMutablePointer<Float>) throws(NonFiniteGradientError) {
        let first = block.lowerBound, n = block.count, ld = columns
        let real = max(min(block.upperBound, coordinates) - first, 0)
        do {
            try architecture.preprocessing.apply(gradients[t].pointer + first, count: real, into: preprocessed[t].pointer + first, stride: ld)
        } catch {
            throw NonFiniteGradientError(coordinate: error.coordinate + first, value: error.value)
        }
        // A chunk at a time through every layer: the raw gates go to a small scratch block that
        // stays in cache, and the kernel streams the activated gates to the tape.
        for start in stride(from: first, to: first + n, by: Self.forwardChunk) {
            let width = min(Self.forwardChunk, first + n - start)
            for (l, layer) in layers.enumerated() {
                LSTMCell.forward(
                    phi: phi, layer: layer, columns: width, ld: ld, scratch: scratch, scratchLD: Self.forwardChunk,
                    below: below(step: t, layer: l) + start, hPrevious: hPrevious(step: t, layer: l) + start,
                    cPrevious: cPrevious(step: t, layer: l) + start, gates: records ? gates[t][l].pointer + start : nil,
                    cNext: cells[t][l].pointer + start, hNext: hiddens[t][l].pointer + start)
            }
        }
        let top = layers.count - 1
        l2l_output_forward(
            Int64(layers[top].hidden), Int64(n), Int64(ld), hiddens[t][top].pointer + first, phi + architecture.outputWeights,
            phi[architecture.outputBias], architecture.outputScale, delta.pointer + first)
    }

    /// ∂L/∂φ of the meta-loss L = Σ_{t=0}^{T} w_t f(θ_t) of the last unroll of T steps, by
    /// back-propagation through time (paper eq. 3–5). The optimizee's gradients are constants
    /// (∂∇_t/∂φ = 0), so θ_{t+1} = θ_t + δ_t gives ∂L/∂θ_T = w_T ∇_T and
    /// ∂L/∂θ_t = w_t ∇_t + ∂L/∂θ_{t+1}, and ∂L/∂δ_t = ∂L/∂θ_{t+1}.
    ///
    /// - Parameter dPhi: receives the gradient (overwritten), laid out as φ.
    func backward(steps: Int, phi: UnsafePointer<Float>, weights: [Float], into dPhi: UnsafeMutablePointer<Float>) {
        precondition(records, "the backward pass needs a tape that records")
        precondition(steps <= self.steps && weights.count > steps, "an unroll of \(steps) steps needs \(steps + 1) weights and a tape that long")
        forEachBlock { index, block in
            // Coordinates do not interact in the backward pass either, so each block goes back
            // through the whole unroll one chunk of columns at a time: the chunk's scratch
            // (∂gates, ∂c, ∂h) then stays in the core's L2 cache instead of travelling to memory.
            let partial = partialGradients[index].pointer
            partial.update(repeating: 0, count: architecture.parameterCount)
            for start in stride(from: block.lowerBound, to: block.upperBound, by: Self.backwardChunk) {
                backward(steps: steps, phi: phi, weights: weights, columns: start..<min(start + Self.backwardChunk, block.upperBound), into: partial)
            }
        }
        let count = architecture.parameterCount
        dPhi.update(from: partialGradients[0].pointer, count: count)
        for partial in partialGradients.dropFirst() {
            for k in 0..<count { dPhi[k] += partial[k] }
        }
    }

    /// The backward pass for some columns, adding their share of ∂L/∂φ to `dPhi`.
    private func backward(steps: Int, phi: UnsafePointer<Float>, weights: [Float], columns chunk: Range<Int>, into dPhi: UnsafeMutablePointer<Float>) {
        let first = chunk.lowerBound, n = chunk.count, ld = columns
        for (l, layer) in layers.enumerated() {
            for row in 0..<layer.hidden {
                (dhRecurrent[l].pointer + row * ld + first).update(repeating: 0, count: n)
                (dc[l].pointer + row * ld + first).update(repeating: 0, count: n)
            }
        }
        let dTheta = self.dTheta.pointer + first
        for column in 0..<n { dTheta[column] = weights[steps] * gradients[steps][first + column] }

        let top = layers.count - 1
        let dhAbove = self.dhAbove.pointer + first, dGates = self.dGates.pointer + first
        for t in stride(from: steps - 1, through: 0, by: -1) {
            // Output layer: δ = scale · (h_top · w + b).
            l2l_output_backward(
                Int64(layers[top].hidden), Int64(n), Int64(ld), hiddens[t][top].pointer + first, phi + architecture.outputWeights,
                architecture.outputScale, dTheta, dy.pointer + first, dPhi + architecture.outputWeights, dPhi + architecture.outputBias, dhAbove)
            for l in stride(from: top, through: 0, by: -1) {
                LSTMCell.backward(
                    phi: phi, dPhi: dPhi, layer: layers[l], columns: n, ld: ld,
                    below: below(step: t, layer: l) + first, hPrevious: hPrevious(step: t, layer: l) + first,
                    cPrevious: cPrevious(step: t, layer: l) + first, gates: gates[t][l].pointer + first, cNext: cells[t][l].pointer + first,
                    dh: dhAbove, dhRecurrent: dhRecurrent[l].pointer + first, dc: dc[l].pointer + first,
                    dGates: dGates, dBelow: l > 0 ? dhAbove : nil)
            }
            if t > 0 {
                let weight = weights[t], gradient = gradients[t].pointer + first
                for column in 0..<n { dTheta[column] += weight * gradient[column] }
            }
        }
    }
}
