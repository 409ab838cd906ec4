import Foundation
import HDF5
import L2L
import MNIST

/// The scale of an MLP optimizee's gradient at θ₀, layer by layer, for each evaluation problem of
/// a pipeline and each initialisation (`l2l-probe gradient-scale`; issue 12, study 4): the regime
/// the learned optimizer meets at the first step. LogAndSign (Appendix A) sees a gradient g
/// through log(|g|)/k and sign(g)·min(1, |g|·e^k), so gradients below e^-k reach it only as a
/// scaled-down sign; the fraction below that threshold says how much of a layer lives there.
///
/// Each sample is a fresh θ₀ and one minibatch of the validation split (never the test split).
public struct GradientScaleProbe {
    public var configuration: PipelineConfiguration
    /// Where the data sets are read (`--data`).
    public var data: DataFiles
    /// The initialisations compared, by name.
    public var initialisations: [(name: String, initialisation: Initialisation)]
    /// θ₀ and minibatches drawn per problem and initialisation.
    public var samples: Int

    /// The initialisations of study 4, by the names the command takes.
    public static let named: [(name: String, initialisation: Initialisation)] = [
        ("released", .released), ("small", .gaussian(weights: 0.001, biases: 0)), ("fan_in", .fanInUniform),
    ]

    /// One layer's gradient at θ₀, over every entry of every sample.
    public struct LayerStatistics: Sendable, Equatable {
        /// Median of |∂f/∂W| and |∂f/∂b|.
        public var weightMedian: Double
        public var biasMedian: Double
        /// Fraction of |∂f/∂W| below e^-k (NaN without LogAndSign).
        public var weightsBelowThreshold: Double
        /// Fraction of ∂f/∂W exactly zero (on MNIST: the weights of pixels blank in the whole minibatch).
        public var weightsZero: Double
    }

    /// One layer of one problem and initialisation.
    public struct Row: Sendable, Equatable {
        public var problem: String
        public var initialisation: String
        public var layer: Int
        public var statistics: LayerStatistics
    }

    public init(configuration: PipelineConfiguration, data: DataFiles, initialisations: [(name: String, initialisation: Initialisation)], samples: Int) {
        self.configuration = configuration
        self.data = data
        self.initialisations = initialisations
        self.samples = samples
    }

    /// e^-k of the pipeline's LogAndSign (nil for the identity preprocessing).
    public var threshold: Double? {
        if case let .logAndSign(k) = configuration.architecture.preprocessing { return exp(-Double(k)) }
        return nil
    }

    /// Measures every problem × initialisation × layer; writes them to `output` (HDF5) when given.
    public func run(output: String?) throws -> [Row] {
        guard configuration.optimizee.isMNIST else {
            throw RunError(file: configuration.path, "gradient-scale measures MLP optimizees; this pipeline trains on quadratics")
        }
        let experiment = try Experiment.evaluation(configuration, data: data, split: .validation)
        var rows: [Row] = []
        for problem in configuration.evaluationProblems {
            guard case let .mnist(hidden, activation, batchSize, _, _) = problem.optimizee else { continue }
            let data = try experiment.data(.validation, for: problem.optimizee)
            for (name, initialisation) in initialisations {
                let mlp = MLPProblem(data: data, hiddenSizes: hidden, activation: activation, batchSize: batchSize, initialisation: initialisation)
                var generator = Generator(seed: configuration.seed, purpose: "gradient-scale/\(problem.name)/\(name)")
                for (l, layer) in Self.measure(mlp, samples: samples, threshold: threshold, generator: &generator).enumerated() {
                    rows.append(Row(problem: problem.name, initialisation: name, layer: l, statistics: layer))
                }
            }
        }
        if let output { try write(rows, to: output, data: experiment.dataPaths) }
        return rows
    }

    /// Each layer's statistics over `samples` draws of θ₀ and a minibatch from `problem`.
    static func measure(_ problem: MLPProblem, samples: Int, threshold: Double?, generator: inout Generator) -> [LayerStatistics] {
        let instance = problem.makeInstance(using: &generator)
        let ranges = instance.layerRanges
        var weights = [[Float]](repeating: [], count: ranges.count), biases = weights
        var gradient = [Float](repeating: 0, count: instance.parameterCount)
        for _ in 0..<samples {
            let theta = instance.initialTheta(using: &generator)
            _ = instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &generator), gradient: &gradient)
            for (l, range) in ranges.enumerated() {
                weights[l] += gradient[range.weights].map(abs)
                biases[l] += gradient[range.biases].map(abs)
            }
        }
        return ranges.indices.map { l in
            let count = Double(weights[l].count)
            return LayerStatistics(
                weightMedian: median(weights[l]), biasMedian: median(biases[l]),
                weightsBelowThreshold: threshold.map { t in Double(weights[l].count { Double($0) < t }) / count } ?? .nan,
                weightsZero: Double(weights[l].count { $0 == 0 }) / count)
        }
    }

    static func median(_ values: [Float]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? Double(sorted[middle]) : (Double(sorted[middle - 1]) + Double(sorted[middle])) / 2
    }

    /// `/<problem>/<init>/{weights_median, biases_median, weights_below_threshold, weights_zero}`, one value per
    /// layer, with the provenance of every output.
    private func write(_ rows: [Row], to path: String, data: [(dataset: ImageDataset, path: String)]) throws {
        let file = try File.createInMemory(path)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-probe gradient-scale", data: data)
        try file.setAttribute("samples", Int64(samples))
        try file.setAttribute("threshold", threshold ?? .nan)
        try file.setAttribute("split", "validation")
        try file.setAttribute("initialisations", initialisations.map { "\($0.name): \($0.initialisation)" }.joined(separator: "; "))
        for problem in configuration.evaluationProblems {
            for (name, _) in initialisations {
                let mine = rows.filter { $0.problem == problem.name && $0.initialisation == name }
                guard !mine.isEmpty else { continue }
                let group = "\(problem.name)/\(name)"
                let statistics = mine.map(\.statistics)
                try file.createDataset("\(group)/weights_median", values: statistics.map(\.weightMedian), shape: [mine.count])
                    .setAttribute("description", "median |∂f/∂W| of each layer (input layer first) at θ₀, over every entry of every sample")
                try file.createDataset("\(group)/biases_median", values: statistics.map(\.biasMedian), shape: [mine.count])
                try file.createDataset("\(group)/weights_below_threshold", values: statistics.map(\.weightsBelowThreshold), shape: [mine.count])
                    .setAttribute("description", "fraction of each layer's |∂f/∂W| below e^-k, the LogAndSign threshold (the file's @threshold)")
                try file.createDataset("\(group)/weights_zero", values: statistics.map(\.weightsZero), shape: [mine.count])
                    .setAttribute("description", "fraction of each layer's ∂f/∂W exactly zero (inputs blank in the whole minibatch)")
            }
        }
        try file.save()
        try file.close()
    }
}

/// The norm of the meta-gradient ∂L/∂φ over the first unrolls of a pipeline's meta-training
/// (`l2l-probe meta-gradient`): the scale against which `training.meta_gradient_clip` is chosen.
/// It trains as `l2l-train` does (the same seed, draws and updates of φ) but writes nothing.
public struct MetaGradientProbe {
    public var configuration: PipelineConfiguration
    /// Where the data sets are read (`--data`).
    public var data: DataFiles
    public var unrolls: Int

    public init(configuration: PipelineConfiguration, data: DataFiles, unrolls: Int) {
        self.configuration = configuration
        self.data = data
        self.unrolls = unrolls
    }

    /// ‖∂L/∂φ‖ of each unroll, before any clipping (infinite for an unroll that was skipped).
    public func run(progress: (Int, Double) -> Void = { _, _ in }) throws -> [Double] {
        let experiment = try Experiment.training(configuration, data: data, splits: [.train])
        return norms(try experiment.problem(configuration.optimizee, split: .train), progress: progress)
    }

    /// The problem as meta-training sees it: randomly scaled when the pipeline says so.
    private func norms<P: Problem>(_ problem: P, progress: (Int, Double) -> Void) -> [Double] {
        guard let logRange = configuration.randomScalingLogRange else { return unrolled(problem, progress: progress) }
        return unrolled(RandomlyScaledProblem(problem, logRange: logRange), progress: progress)
    }

    private func unrolled<P: Problem>(_ problem: P, progress: (Int, Double) -> Void) -> [Double] {
        let trainer = MetaTrainer(problem: problem, architecture: configuration.architecture, configuration: configuration.training, seed: configuration.seed)
        return (1...unrolls).map { index in
            let norm = (try? trainer.trainUnroll())?.metaGradientNorm ?? .infinity
            progress(index, norm)
            return norm
        }
    }
}
