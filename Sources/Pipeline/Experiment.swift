import L2L
import MNIST

/// The optimizees of an experiment, built from its definition and the data.
struct Experiment {
    let configuration: PipelineConfiguration
    /// The file each data set read was loaded from (empty for quadratics), for the provenance.
    let dataPaths: [(dataset: ImageDataset, path: String)]
    private var splits: [ImageDataset: [MNIST.Split: ClassificationData]] = [:]

    /// Loads only `splits` of only `datasets`: training needs the train and validation splits
    /// of its optimizee's data set, evaluation one split of its problems' data sets.
    init(configuration: PipelineConfiguration, data: DataFiles, splits wanted: [MNIST.Split], datasets: [ImageDataset]) throws {
        self.configuration = configuration
        dataPaths = datasets.map { ($0, data.path($0)) }
        for (dataset, path) in dataPaths {
            let archive = try MNISTStore.read(path, dataset: dataset)
            for split in wanted {
                let examples = try MNIST.load(split, from: archive, path: path)
                splits[dataset, default: [:]][split] = ClassificationData(
                    bytes: examples.pixels, divisor: 255, labels: examples.labels, inputSize: MNISTSplit.pixelsPerImage, classes: 10)
            }
        }
    }

    /// Meta-training's data: the train and validation splits of its optimizee's data set.
    static func training(_ configuration: PipelineConfiguration, data: DataFiles, splits: [MNIST.Split] = [.train, .validation]) throws -> Experiment {
        try Experiment(configuration: configuration, data: data, splits: splits, datasets: configuration.trainingDatasets)
    }

    /// The evaluation's data: `split` of every data set its problems read.
    static func evaluation(_ configuration: PipelineConfiguration, data: DataFiles, split: MNIST.Split) throws -> Experiment {
        try Experiment(configuration: configuration, data: data, splits: [split], datasets: configuration.evaluationDatasets)
    }

    /// The data of `split` that `optimizee` trains on (empty for quadratics, which read none).
    ///
    /// - Throws: `RunError` for a data set or split that was not loaded.
    func data(_ split: MNIST.Split, for optimizee: OptimizeeSpecification) throws -> ClassificationData {
        guard let dataset = optimizee.dataset else { return ClassificationData(inputs: [], labels: [], inputSize: 784, classes: 10) }
        guard let data = splits[dataset]?[split] else {
            let loaded = splits.flatMap { dataset, splits in splits.keys.map { "\(dataset.rawValue) \($0)" } }.sorted()
            throw RunError(file: dataPaths.first { $0.dataset == dataset }?.path ?? dataset.defaultOutput,
                           "the \(split) split of \(dataset) was not loaded (this stage loads \(loaded.isEmpty ? "no data" : loaded.joined(separator: ", ")))")
        }
        return data
    }
}

extension Experiment {
    /// The problem `optimizee` defines on `split` of its data set (a mixture: on each component's),
    /// as an existential that generic code opens (`func f<P: Problem>(_: P)` called with it).
    func problem(_ optimizee: OptimizeeSpecification, split: MNIST.Split) throws -> any Problem {
        switch optimizee {
        case let .quadratic(problems, dimensions, distribution):
            return QuadraticProblem(problems: problems, dimensions: dimensions, distribution: distribution)
        case let .mnist(hidden, activation, batchSize, initialisation, _):
            return MLPProblem(data: try data(split, for: optimizee), hiddenSizes: hidden, activation: activation, batchSize: batchSize,
                              initialisation: initialisation)
        case let .mixture(components):
            let made = try components.map { MixtureProblem.Component(weight: $0.weight, problem: try problem($0.optimizee, split: split)) }
            do {
                return try MixtureProblem(made)
            } catch {
                // The configuration's reader refuses such weights; this guards other callers.
                throw RunError(file: configuration.path, "optimizee: \(error)")
            }
        }
    }
}
