import CKernels
import Synchronization

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
/// The coordinates never interact except through φ, so the columns are cut into chunks, fixed for
/// a given number of coordinates, and two workers (`BlockWorkers`) take them, one from the first
/// chunk up and the other from the last one down, until they meet. Each worker thus keeps to its
/// own half of the coordinates (and of the caches) step after step, but when one core is slowed
/// (a shared machine) the other takes over some of its chunks instead of waiting. A forward
/// chunk's results do not depend on which worker computes it; each backward chunk accumulates its
/// own ∂L/∂φ, and those are summed in chunk order at the end. So results are the same on any
/// number of cores and whatever the timing.
final class Tape: @unchecked Sendable {
    /// Workers taking chunks (two: the machines we target have two cores).
    static let workerCount = 2
    /// Columns per chunk of the backward pass, about (see `backward`).
    static let backwardChunk = 1024
    /// Columns per chunk of the forward pass, at most: its raw gates (4H × 256 floats) stay in L2.
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
    /// (h, c) and the preprocessing's moments before step 0.
    let initial: LSTMState
    /// The preprocessing's moments after each step (`Preprocessing.momentCount` per step; none
    /// for the stateless ones), variable so that evaluation can swap them with `initial`'s.
    var moments: [[Buffer]]
    /// The gradients `initial`'s moments have seen (the trajectory's step at the unroll's start).
    var initialStep = 0
    /// ∇f(θ_t) for t = 0…steps (the last one from the final evaluation of the unroll), zero in the padding.
    let gradients: [Buffer]
    /// The update δ_t of the current step.
    let delta: Buffer

    // Backward scratch.
    let dhRecurrent: [Buffer], dc: [Buffer]
    let dhAbove: Buffer, dGates: Buffer, dTheta: Buffer, dy: Buffer
    /// The columns of each chunk of the forward and of the backward pass.
    let forwardChunks: [Range<Int>], backwardChunks: [Range<Int>]
    /// Each backward chunk's ∂L/∂φ.
    let partialGradients: [Buffer]
    /// Each worker's scratch for the raw gates of a forward chunk.
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
        moments = (0..<steps).map { _ in (0..<architecture.preprocessing.momentCount).map { _ in Buffer(count: columns) } }
        gradients = (0...steps).map { _ in Buffer(count: columns) }
        delta = Buffer(count: columns)
        dhRecurrent = layers.map { Buffer(count: $0.hidden * columns) }
        dc = layers.map { Buffer(count: $0.hidden * columns) }
        let widest = max(layers.map(\.hidden).max() ?? 0, architecture.preprocessing.inputSize)
        dhAbove = Buffer(count: widest * columns)
        let widestGates = layers.map(\.gateCount).max() ?? 0
        dGates = Buffer(count: widestGates * columns)
        dTheta = Buffer(count: columns)
        dy = Buffer(count: columns)
        forwardChunks = Self.chunks(columns: columns, width: Self.forwardChunk)
        backwardChunks = Self.chunks(columns: columns, width: Self.backwardChunk)
        partialGradients = backwardChunks.map { _ in Buffer(count: architecture.parameterCount) }
        rawGates = (0..<Self.workerCount).map { _ in Buffer(count: widestGates * Self.forwardChunk) }
    }

    /// `columns` cut into an even number of near-equal chunks (so that two workers can share
    /// them evenly) of at most about `width` columns, on multiples of 16 (whole SIMD steps).
    static func chunks(columns: Int, width: Int) -> [Range<Int>] {
        let vectors = columns / LSTMState.lanes
        var count = max((columns + width - 1) / width, 2)
        count += count % 2
        count = max(min(count, vectors), 1)
        return (0..<count).map { c in (c * vectors / count * LSTMState.lanes)..<((c + 1) * vectors / count * LSTMState.lanes) }
    }

    /// Runs `body(worker, chunk)` for every chunk, worker 0 taking chunks from the first up and
    /// worker 1 from the last down until all are taken, with denormals flushed (the helper runs
    /// under the caller's mode). The chunks write disjoint columns of the buffers.
    private func forEachChunk(_ chunks: [Range<Int>], _ body: (_ worker: Int, _ chunk: Int) -> Void) {
        let claims = ChunkClaims(count: chunks.count)
        Matrix.withDenormalsFlushed {
            BlockWorkers.shared.run(Self.workerCount) { worker in
                // Each side's chunks are contiguous from its end, and the claims never exceed the
                // count, so the two sides never take the same chunk.
                var next = worker == 0 ? 0 : chunks.count - 1
                while claims.claim() {
                    body(worker, next)
                    next += worker == 0 ? 1 : -1
                }
            }
        }
    }

    func hPrevious(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        t == 0 ? initial.h[l].pointer : hiddens[t - 1][l].pointer
    }

    func cPrevious(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        t == 0 ? initial.c[l].pointer : cells[t - 1][l].pointer
    }

    /// The preprocessing's moments that step t reads and writes (nil when it keeps none).
    func preprocessingMoments(step t: Int) -> PreprocessingMoments? {
        guard architecture.preprocessing.momentCount == 2 else { return nil }
        let previous = t == 0 ? initial.moments : moments[t - 1]
        return PreprocessingMoments(previousMean: previous[0].pointer, previousSquare: previous[1].pointer,
                                    nextMean: moments[t][0].pointer, nextSquare: moments[t][1].pointer, step: initialStep + t + 1)
    }

    /// The input x of layer l at step t: the preprocessed gradient, or h' of the layer below.
    func below(step t: Int, layer l: Int) -> UnsafeMutablePointer<Float> {
        l == 0 ? preprocessed[t].pointer : hiddens[t][l - 1].pointer
    }

    /// Step t of the learned optimizer: from `gradients[t]`, the update δ_t into `delta`
    /// (δ = outputScale · (h_top · w_out + b_out)).
    func forward(step t: Int, phi: UnsafePointer<Float>) throws(NonFiniteGradientError) {
        var failures = [NonFiniteGradientError?](repeating: nil, count: forwardChunks.count)
        failures.withUnsafeMutableBufferPointer { failures in
            forEachChunk(forwardChunks) { worker, chunk in
                do throws(NonFiniteGradientError) {
                    try forward(step: t, phi: phi, chunk: forwardChunks[chunk], scratch: rawGates[worker].pointer)
                } catch {
                    failures[chunk] = error
                }
            }
        }
        // The first coordinate that failed, whichever worker met it.
        if let failure = failures.compactMap({ $0 }).first { throw failure }
    }

    private func forward(step t: Int, phi: UnsafePointer<Float>, chunk: Range<Int>, scratch: UnsafeMutablePointer<Float>) throws(NonFiniteGradientError) {
        let first = chunk.lowerBound, n = chunk.count, ld = columns
        let real = max(min(chunk.upperBound, coordinates) - first, 0)
        do {
            try architecture.preprocessing.apply(gradients[t].pointer + first, count: real, into: preprocessed[t].pointer + first, stride: ld,
                                                 moments: preprocessingMoments(step: t)?.advanced(by: first))
        } catch {
            throw NonFiniteGradientError(coordinate: error.coordinate + first, value: error.value)
        }
        // Through every layer: the raw gates go to a small scratch block that stays in cache, and
        // the kernel streams the activated gates to the tape.
        for (l, layer) in layers.enumerated() {
            LSTMCell.forward(
                phi: phi, layer: layer, columns: n, ld: ld, scratch: scratch, scratchLD: Self.forwardChunk,
                below: below(step: t, layer: l) + first, hPrevious: hPrevious(step: t, layer: l) + first,
                cPrevious: cPrevious(step: t, layer: l) + first, gates: records ? gates[t][l].pointer + first : nil,
                cNext: cells[t][l].pointer + first, hNext: hiddens[t][l].pointer + first)
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
        forEachChunk(backwardChunks) { _, chunk in
            // Coordinates do not interact in the backward pass either, so each chunk goes back
            // through the whole unroll on its own: its scratch (∂gates, ∂c, ∂h) then stays in the
            // core's L2 cache instead of travelling to memory.
            let partial = partialGradients[chunk].pointer
            partial.update(repeating: 0, count: architecture.parameterCount)
            backward(steps: steps, phi: phi, weights: weights, columns: backwardChunks[chunk], into: partial)
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

/// How many chunks of a pass the workers have claimed between them.
private final class ChunkClaims: Sendable {
    private let claimed = Atomic<Int>(0)
    let count: Int
    init(count: Int) { self.count = count }
    /// Whether one more chunk is left for the caller.
    func claim() -> Bool { claimed.wrappingAdd(1, ordering: .relaxed).oldValue < count }
}
