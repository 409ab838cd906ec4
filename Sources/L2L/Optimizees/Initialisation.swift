/// How an MLP optimizee's θ₀ is drawn: the parameters every trajectory starts from, which set
/// the scale of the gradients the learned optimizer meets (with N(0, 0.01²) the first-layer
/// gradients of a two-hidden-layer sigmoid network are about 100× below the one-layer network's).
public enum Initialisation: Sendable, Equatable, Hashable {
    /// Weights ~ N(0, weights²), biases ~ N(0, biases²) (0: exactly zero). The released code's
    /// is `.gaussian(weights: 0.01, biases: 0.01)`, this project's default.
    case gaussian(weights: Float, biases: Float)
    /// Weights and biases ~ U(−1/√fan_in, 1/√fan_in), fan_in the layer's inputs: PyTorch's
    /// default for `nn.Linear`.
    case fanInUniform

    /// The released code's: every weight and bias ~ N(0, 0.01²).
    public static let released = Initialisation.gaussian(weights: 0.01, biases: 0.01)

    /// θ₀ of a network with `layerSizes` (input first), laid out as `MLP` holds it: layer after
    /// layer, the weights (fan_in × fan_out) then the biases. One draw per parameter in that
    /// order, so that `.released` gives exactly the draws of every earlier l2l run.
    func theta(layerSizes: [Int], using generator: inout Generator) -> [Float] {
        var theta: [Float] = []
        for (fanIn, fanOut) in zip(layerSizes, layerSizes.dropFirst()) {
            let weightScale: Float, biasScale: Float
            switch self {
            case let .gaussian(weights, biases): (weightScale, biasScale) = (weights, biases)
            case .fanInUniform: (weightScale, biasScale) = (1 / Float(fanIn).squareRoot(), 1 / Float(fanIn).squareRoot())
            }
            for index in 0..<(fanIn * fanOut + fanOut) {
                let scale = index < fanIn * fanOut ? weightScale : biasScale
                let draw: Float
                switch self {
                case .gaussian: draw = Float(generator.normal())
                case .fanInUniform: draw = Float(2 * generator.uniform() - 1)
                }
                theta.append(scale == 0 ? 0 : draw * scale)
            }
        }
        return theta
    }
}
