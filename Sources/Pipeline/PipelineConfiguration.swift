import Foundation
import L2L
import MNIST

/// Which optimizee an experiment trains on or evaluates.
public enum OptimizeeSpecification: Sendable, Equatable, Hashable {
    /// Random quadratics (paper §3.1).
    case quadratic(problems: Int, dimensions: Int, distribution: Quadratic.Distribution)
    /// An MLP on MNIST (paper §3.2), or on another data set in MNIST's format (`dataset`), θ₀
    /// drawn as `initialisation` says (`optimizee.init`).
    case mnist(hidden: [Int], activation: MLP.Activation, batchSize: Int, initialisation: Initialisation = .released,
               dataset: ImageDataset = .mnist)
    /// A weighted list of optimizees, one drawn per trajectory or run (`MixtureProblem`; issue 13).
    indirect case mixture([MixtureComponent])

    /// Whether it is an MLP (a mixture: whether any component is).
    public var isMNIST: Bool {
        switch self {
        case .quadratic: return false
        case .mnist: return true
        case let .mixture(components): return components.contains { $0.optimizee.isMNIST }
        }
    }

    /// How an MLP's θ₀ is drawn (nil for quadratics and mixtures).
    public var initialisation: Initialisation? {
        if case let .mnist(_, _, _, initialisation, _) = self { return initialisation }
        return nil
    }

    /// The data set an MLP trains on (nil for quadratics, which read none, and mixtures).
    public var dataset: ImageDataset? {
        if case let .mnist(_, _, _, _, dataset) = self { return dataset }
        return nil
    }

    /// The data sets it reads, each once, in the order of first use.
    public var datasets: [ImageDataset] {
        switch self {
        case .quadratic: return []
        case let .mnist(_, _, _, _, dataset): return [dataset]
        case let .mixture(components): return Self.unique(components.flatMap(\.optimizee.datasets))
        }
    }

    static func unique(_ datasets: [ImageDataset]) -> [ImageDataset] {
        datasets.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
    }
}

/// One optimizee of a mixture (`optimizee: [{weight: w, kind: …}, …]`) and its weight.
public struct MixtureComponent: Sendable, Equatable, Hashable {
    /// Relative: a component is drawn with probability weight / Σ weights.
    public var weight: Double
    public var optimizee: OptimizeeSpecification
}

/// One problem the evaluation stage compares the optimizers on.
public struct EvaluationProblem: Sendable, Equatable {
    public var name: String
    public var optimizee: OptimizeeSpecification
}

/// An experiment definition (`pipelines/*.yaml`): every hyperparameter of meta-training and
/// evaluation, with the paper's values in the files we ship. Parsed strictly: unknown keys,
/// missing keys and out-of-range values are errors naming the file, the key and the reason.
public struct PipelineConfiguration: Sendable, Equatable {
    public var name: String
    public var seed: UInt64
    public var optimizee: OptimizeeSpecification
    public var architecture: LSTMArchitecture

    // Meta-training.
    public var epochs: Int
    public var steps: Int
    public var unrollLength: Int
    public var metaLearningRate: Float
    /// `training.meta_gradient_clip`: the largest norm of ∂L/∂φ before Adam's step (nil: none).
    public var metaGradientClip: Float?
    /// `training.trajectories_per_update`: optimizee instances per meta-gradient (1 when absent).
    public var trajectoriesPerUpdate: Int
    /// `training.meta_learning_rate_schedule` (constant when absent).
    public var metaLearningRateSchedule: LearningRateSchedule
    /// `training.random_scaling`: the half-width of log c's range when meta-training optimizes
    /// f(c ⊙ θ) (Lv et al. 2017; `RandomlyScaledProblem`), nil when `off` or absent.
    public var randomScalingLogRange: Float?
    public var lossWeights: [Float]?
    /// `training.validation_period` with `training.validation_size` or `training.validation`.
    public var validation: ValidationConfiguration
    public var historyPeriod: Int

    // Evaluation.
    public var horizon: Int
    public var runs: Int
    public var tuningRuns: Int
    /// The baselines' learning-rate grid.
    public var learningRates: [Float]
    public var evaluationProblems: [EvaluationProblem]
    /// `evaluation.name`: a named evaluation writes `eval-<name>.h5` (`eval-<name>-validation.h5`)
    /// instead of `eval.h5`, so that several evaluations of one run sit side by side.
    public var evaluationName: String?
    /// For an evaluation file (`evaluates:`; `EvaluationFile`), the pipeline that trains its runs.
    public var evaluatedPipeline: String?

    /// The pipeline file that trains this definition's runs (the one to name in `l2l-train`).
    public var trainingPipeline: String { evaluatedPipeline ?? path }

    /// The data sets meta-training reads (its optimizee's).
    public var trainingDatasets: [ImageDataset] { optimizee.datasets }

    /// The data sets the evaluation problems read, each once, in the order of first use.
    public var evaluationDatasets: [ImageDataset] {
        OptimizeeSpecification.unique(evaluationProblems.flatMap(\.optimizee.datasets))
    }

    /// The file's text, stored verbatim in every output.
    public var text: String
    public var path: String

    /// Whether a run made from `stored` can be continued (or evaluated) with this definition:
    /// every value that shapes meta-training is the same; `epochs` (a longer or shorter run) and
    /// the evaluation section may differ.
    public func trainsLike(_ stored: PipelineConfiguration) -> Bool {
        trainingDifferences(from: stored).isEmpty
    }

    /// The meta-training settings that differ between `stored` and this definition, as
    /// "name: stored → now" (empty when a run of `stored` can be continued with this one).
    public func trainingDifferences(from stored: PipelineConfiguration) -> [String] {
        let mine = Swift.Mirror(reflecting: normalizedForTraining), theirs = Swift.Mirror(reflecting: stored.normalizedForTraining)
        return zip(mine.children, theirs.children).compactMap { now, then in
            let (a, b) = (String(describing: now.value), String(describing: then.value))
            return a == b ? nil : "\(now.label ?? "?"): \(b) → \(a)"
        }
    }

    /// This definition with what does not shape meta-training cleared.
    private var normalizedForTraining: PipelineConfiguration {
        var normalized = self
        normalized.epochs = 0
        normalized.text = ""
        normalized.path = ""
        normalized.horizon = 0
        normalized.runs = 0
        normalized.tuningRuns = 0
        normalized.learningRates = []
        normalized.evaluationProblems = []
        normalized.evaluationName = nil
        normalized.evaluatedPipeline = nil
        return normalized
    }

    public var training: MetaTrainingConfiguration {
        MetaTrainingConfiguration(steps: steps, unrollLength: unrollLength, metaLearningRate: metaLearningRate, lossWeights: lossWeights,
                                  metaGradientClip: metaGradientClip, trajectoriesPerUpdate: trajectoriesPerUpdate, schedule: metaLearningRateSchedule)
    }

    /// The values `training.epochs` (and `l2l-train --epochs`) may take.
    public static let epochsRange = 1...10_000_000

    /// The largest pipeline file read: its text is copied into every output file.
    public static let maximumFileSize = 1 << 20

    /// Reads and validates `path`.
    public init(contentsOf path: String) throws(PipelineError) {
        try self.init(text: Self.readText(path), path: path)
    }

    /// The text of the pipeline file at `path`, refusing what cannot be one.
    static func readText(_ path: String) throws(PipelineError) -> String {
        var information = stat()
        guard stat(path, &information) == 0 else {
            throw PipelineError(file: path, key: "", reason: "cannot read the file: \(String(cString: strerror(errno)))")
        }
        guard information.st_mode & S_IFMT == S_IFREG else {
            throw PipelineError(file: path, key: "", reason: "is not a regular file; expected a pipeline definition (YAML)")
        }
        guard information.st_size <= Self.maximumFileSize else {
            throw PipelineError(file: path, key: "", reason: "is \(information.st_size) bytes; a pipeline file may have at most \(Self.maximumFileSize) (it is copied into every output)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError(file: path, key: "", reason: "cannot read the file: \(String(cString: strerror(errno)))")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PipelineError(file: path, key: "", reason: "is not UTF-8 text")
        }
        return text
    }

    public init(text: String, path: String) throws(PipelineError) {
        self.text = text
        self.path = path
        var root = try ConfigurationReader.document(file: path, text: text)
        if root.has("sweep") {
            throw PipelineError(file: path, key: "sweep", reason: "this file is a sweep: name one of its members (l2l-train --member ID-or-INDEX; l2l-sweep \(path) lists them)")
        }
        name = try root.string("name")
        guard Self.namesAFile(name) else {
            throw root.error("name", "use letters, digits, - and _ only (it names the run folder)")
        }
        seed = UInt64(try root.int("seed", in: 0...Int(Int32.max)))

        optimizee = try Self.trainingOptimizee(&root)

        var lstm = try root.section("optimizer")
        let layers = try lstm.intList("layers", each: 1...1024, count: 1...8)
        var preprocessingSection = try lstm.section("preprocessing")
        let preprocessing: Preprocessing
        switch try preprocessingSection.string("kind", oneOf: ["identity", "log_and_sign", "normalised"]) {
        case "identity": preprocessing = .identity
        case "log_and_sign": preprocessing = .logAndSign(k: Float(try preprocessingSection.double("k", in: 0.1...100)))
        default:
            preprocessing = .normalised(beta1: Float(try preprocessingSection.double("beta1", in: 0...0.9999)),
                                        beta2: Float(try preprocessingSection.double("beta2", in: 0...0.9999)),
                                        epsilon: Float(try preprocessingSection.double("epsilon", in: 1e-12...1)))
        }
        try preprocessingSection.finish()
        let outputScale = Float(try lstm.double("output_scale", in: 1e-6...1e3))
        try lstm.finish()
        architecture = LSTMArchitecture(hiddenSizes: layers, preprocessing: preprocessing, outputScale: outputScale)

        var training = try root.section("training")
        epochs = try training.int("epochs", in: Self.epochsRange)
        steps = try training.int("steps", in: 1...1_000_000)
        unrollLength = try training.int("unroll", in: 1...10_000)
        metaLearningRate = Float(try training.double("meta_learning_rate", in: 1e-8...1))
        metaGradientClip = training.has("meta_gradient_clip") ? Float(try training.double("meta_gradient_clip", in: 1e-6...1e6)) : nil
        trajectoriesPerUpdate = training.has("trajectories_per_update") ? try training.int("trajectories_per_update", in: 1...1024) : 1
        metaLearningRateSchedule = training.has("meta_learning_rate_schedule")
            ? try Self.schedule(try training.section("meta_learning_rate_schedule")) : .constant
        randomScalingLogRange = try Self.randomScaling(&training)
        let weights = try training.node("loss_weights")
        if weights.string == "uniform" {
            lossWeights = nil
        } else {
            lossWeights = try training.doubleList("loss_weights", count: unrollLength + 1).map(Float.init)
        }
        validation = try Self.validation(&training, steps: steps)
        historyPeriod = try training.int("history_period", in: 1...1_000_000)
        try training.finish()

        evaluatedPipeline = root.has("evaluated_pipeline") ? try root.string("evaluated_pipeline") : nil
        var evaluation = try root.section("evaluation")
        evaluationName = evaluation.has("name") ? try evaluation.string("name") : nil
        if let evaluationName, !Self.namesAFile(evaluationName) || evaluationName == "validation" {
            throw evaluation.error("name", "use letters, digits, - and _ only, not 'validation' (it names the file eval-<name>.h5)")
        }
        horizon = try evaluation.int("horizon", in: 1...1_000_000)
        runs = try evaluation.int("runs", in: 1...100_000)
        tuningRuns = try evaluation.int("tuning_runs", in: 1...100_000)
        var grid = try evaluation.section("learning_rates")
        let from = try grid.double("log10_from", in: -12...3), to = try grid.double("log10_to", in: -12...3)
        let step = try grid.double("log10_step", in: 0.01...5)
        try grid.finish()
        guard from <= to else { throw grid.error("log10_to", "must not be below log10_from (\(from))") }
        learningRates = stride(from: from, through: to + 1e-9, by: step).map { Float(pow(10, $0)) }
        evaluationProblems = []
        for var section in try evaluation.sections("problems") {
            let problemName = try section.string("name")
            let inherited = optimizee.initialisation ?? .released, inheritedDataset = optimizee.dataset ?? .mnist
            let spec: OptimizeeSpecification
            if section.has("mixture") {
                spec = try Self.mixture(section.sections("mixture"), at: section.keyPath("mixture"), inherited: inherited, inheritedDataset: inheritedDataset)
            } else {
                spec = try Self.optimizee(&section, inherited: inherited, inheritedDataset: inheritedDataset)
                // A mixture may train on both kinds; a single optimizee's problems stay of its kind.
                if case .mixture = optimizee {} else if spec.isMNIST != optimizee.isMNIST {
                    throw section.error("kind", "evaluation problems must be of the kind the optimizer was trained on")
                }
            }
            try section.finish()
            evaluationProblems.append(EvaluationProblem(name: problemName, optimizee: spec))
        }
        try evaluation.finish()
        try root.finish()
    }

    /// Whether `name` can name a folder or a file: not empty, letters, digits, - and _ only.
    private static func namesAFile(_ name: String) -> Bool {
        !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }

    /// `optimizee`: one optimizee (a mapping) or a mixture (a list of them, each with a `weight`).
    private static func trainingOptimizee(_ root: inout ConfigurationReader) throws(PipelineError) -> OptimizeeSpecification {
        if case .sequence = try root.node("optimizee") {
            return try mixture(root.sections("optimizee"), at: "optimizee")
        }
        var section = try root.section("optimizee")
        let optimizee = try Self.optimizee(&section)
        try section.finish()
        return optimizee
    }

    /// A mixture's components (at `key`), each an optimizee with a `weight`: finite, ≥ 0, and
    /// not all 0.
    private static func mixture(_ sections: [ConfigurationReader], at key: String, inherited: Initialisation = .released,
                                inheritedDataset: ImageDataset = .mnist) throws(PipelineError) -> OptimizeeSpecification {
        var components: [MixtureComponent] = []
        for var section in sections {
            if section.has("mixture") { throw section.error("mixture", "a mixture's component cannot itself be a mixture") }
            // The range check refuses negative, infinite and NaN weights (.nan is outside it).
            let weight = try section.double("weight", in: 0...1e12)
            let optimizee = try Self.optimizee(&section, inherited: inherited, inheritedDataset: inheritedDataset)
            try section.finish()
            components.append(MixtureComponent(weight: weight, optimizee: optimizee))
        }
        guard components.contains(where: { $0.weight > 0 }) else {
            let file = sections.first?.file ?? ""
            throw PipelineError(file: file, key: key, reason: "every weight is 0; at least one component needs a positive weight",
                                line: sections.first?.line)
        }
        return .mixture(components)
    }

    /// Reads an optimizee; an MNIST one without `init` takes `inherited` and without `dataset`
    /// `inheritedDataset` (an evaluation problem takes the meta-training optimizee's, and that
    /// one the released code's N(0, 0.01²) and MNIST).
    private static func optimizee(_ section: inout ConfigurationReader, inherited: Initialisation = .released,
                                  inheritedDataset: ImageDataset = .mnist) throws(PipelineError) -> OptimizeeSpecification {
        let kind = try section.string("kind", oneOf: ["quadratic", "mnist"])
        let result: OptimizeeSpecification
        if kind == "quadratic" {
            let problems = try section.int("problems", in: 1...100_000)
            let dimensions = try section.int("dimensions", in: 1...10_000)
            let distribution = try section.string("distribution", oneOf: Quadratic.Distribution.allCases.map(\.rawValue))
            result = .quadratic(problems: problems, dimensions: dimensions, distribution: Quadratic.Distribution(rawValue: distribution) ?? .gaussian)
        } else {
            let hidden = try section.intList("hidden", each: 1...100_000, count: 1...16)
            let activation = try section.string("activation", oneOf: MLP.Activation.allCases.map(\.rawValue))
            let batchSize = try section.int("batch_size", in: 1...1_000_000)
            let initialisation = section.has("init") ? try Self.initialisation(try section.section("init")) : inherited
            let dataset = section.has("dataset")
                ? ImageDataset(rawValue: try section.string("dataset", oneOf: ImageDataset.allCases.map(\.rawValue))) ?? inheritedDataset
                : inheritedDataset
            result = .mnist(hidden: hidden, activation: MLP.Activation(rawValue: activation) ?? .sigmoid, batchSize: batchSize,
                            initialisation: initialisation, dataset: dataset)
        }
        return result
    }

    /// `validation_period` with either `validation_size` (the final loss scores, no
    /// re-evaluation: the paper's selection) or `validation: {size, score, last_steps, top_k}`.
    private static func validation(_ training: inout ConfigurationReader, steps: Int) throws(PipelineError) -> ValidationConfiguration {
        let period = try training.int("validation_period", in: 1...1_000_000)
        guard training.has("validation") else {
            return ValidationConfiguration(period: period, size: try training.int("validation_size", in: sizes))
        }
        if training.has("validation_size") {
            throw training.error("validation_size", "give the size once: as validation.size when there is a validation section")
        }
        var section = try training.section("validation")
        let size = try section.int("size", in: sizes)
        let score: ValidationScore
        switch try section.string("score", oneOf: ["final", "mean", "mean_last"]) {
        case "mean": score = .meanLoss
        case "mean_last": score = .meanOfLast(steps: try section.int("last_steps", in: 1...steps))
        default: score = .finalLoss
        }
        if section.has("last_steps"), score == .finalLoss || score == .meanLoss {
            throw section.error("last_steps", "only with score: mean_last")
        }
        let topK = section.has("top_k") ? try section.int("top_k", in: 1...1000) : nil
        try section.finish()
        return ValidationConfiguration(period: period, size: size, score: score, topK: topK)
    }

    private static let sizes = 1...100_000

    /// `random_scaling: off` or `{log_range: r}`; absent means off.
    private static func randomScaling(_ training: inout ConfigurationReader) throws(PipelineError) -> Float? {
        guard training.has("random_scaling") else { return nil }
        let node = try training.node("random_scaling")
        if let text = node.string {
            guard text == "off" else { throw training.error("random_scaling", "expected off or {log_range: r}, found '\(text)'", at: node) }
            return nil
        }
        var section = try training.section("random_scaling")
        let range = try section.double("log_range", in: 0.01...10)
        try section.finish()
        return Float(range)
    }

    /// `{warmup_updates: W}`, optionally with `decay: cosine, decay_updates: D, final_fraction: f`.
    private static func schedule(_ section: ConfigurationReader) throws(PipelineError) -> LearningRateSchedule {
        var section = section
        let warmup = try section.int("warmup_updates", in: 0...100_000_000)
        let decay = section.has("decay") ? try section.string("decay", oneOf: ["none", "cosine"]) : "none"
        var decayUpdates = 0, finalFraction = 1.0
        if decay == "cosine" {
            decayUpdates = try section.int("decay_updates", in: 1...100_000_000)
            finalFraction = try section.double("final_fraction", in: 0...1)
        } else {
            for key in ["decay_updates", "final_fraction"] where section.has(key) {
                throw section.error(key, "only with decay: cosine")
            }
        }
        try section.finish()
        return LearningRateSchedule(warmupUpdates: warmup, decayUpdates: decayUpdates, finalFraction: Float(finalFraction))
    }

    /// `init: {kind: gaussian, weights: σ_w, biases: σ_b}` or `init: {kind: fan_in_uniform}`.
    private static func initialisation(_ section: ConfigurationReader) throws(PipelineError) -> Initialisation {
        var section = section
        let kind = try section.string("kind", oneOf: ["gaussian", "fan_in_uniform"])
        let result: Initialisation
        if kind == "gaussian" {
            let weights = try section.double("weights", in: 0...10)
            let biases = try section.double("biases", in: 0...10)
            result = .gaussian(weights: Float(weights), biases: Float(biases))
        } else {
            result = .fanInUniform
        }
        try section.finish()
        return result
    }
}
