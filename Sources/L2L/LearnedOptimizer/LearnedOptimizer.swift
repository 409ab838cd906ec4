/// The learned optimizer at work (no meta-gradient): the coordinate-wise LSTM with fixed φ,
/// θ_{t+1} = θ_t + g_t(∇f(θ_t), h_t; φ) (paper eq. 1–2). Used to evaluate a trained φ exactly as
/// the hand-crafted optimizers are.
public struct LearnedOptimizer: Optimizer, Sendable {
    public let phi: Phi
    public var name: String { "lstm" }

    /// The (h, c) of every coordinate, the preprocessing's moments and the step's workspace.
    public final class State: @unchecked Sendable {
        let tape: Tape
        init(tape: Tape) { self.tape = tape }
        /// The recurrent state the next step starts from.
        public var lstm: LSTMState { tape.initial }
        /// The update the last `step` added to θ, g_t of eq. 1 (the buffer the step wrote).
        public var lastUpdate: [Float] { Array(UnsafeBufferPointer(start: tape.delta.pointer, count: tape.coordinates)) }
    }

    public init(phi: Phi) { self.phi = phi }

    public func makeState(parameterCount: Int) -> State {
        State(tape: Tape(architecture: phi.architecture, coordinates: parameterCount, steps: 1, records: false))
    }

    /// - Throws: `NonFiniteGradientError` when the gradient has a NaN or an infinity.
    public func step(_ theta: inout [Float], gradient: [Float], state: inout State) throws {
        let tape = state.tape
        precondition(gradient.count == tape.coordinates && theta.count == tape.coordinates, "this state is for \(tape.coordinates) coordinates")
        gradient.withUnsafeBufferPointer { tape.gradients[0].pointer.update(from: $0.baseAddress!, count: $0.count) }
        try phi.values.withUnsafeBufferPointer { phi throws(NonFiniteGradientError) in
            try Matrix.withDenormalsFlushed { () throws(NonFiniteGradientError) in try tape.forward(step: 0, phi: phi.baseAddress!) }
        }
        for i in theta.indices { theta[i] += tape.delta[i] }
        // The new state becomes the next step's initial one: swap the buffers rather than copy them.
        for l in 0..<tape.layers.count {
            (tape.initial.h[l], tape.hiddens[0][l]) = (tape.hiddens[0][l], tape.initial.h[l])
            (tape.initial.c[l], tape.cells[0][l]) = (tape.cells[0][l], tape.initial.c[l])
        }
        for m in tape.moments[0].indices {
            (tape.initial.moments[m], tape.moments[0][m]) = (tape.moments[0][m], tape.initial.moments[m])
        }
        tape.initialStep += 1
    }
}
