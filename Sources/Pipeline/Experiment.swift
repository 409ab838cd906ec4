import L2L
import MNIST

/// The optimizees of an experiment, built from its definition and the data.
struct Experiment {
    let configuration: PipelineConfiguration
    /// `data/mnist.h5`, for MNIST experiments.
    let mnistPath: String?
    private var splits: [MNIST.Split: ClassificationData] = [:]

    /// Loads (for MNIST) only `splits`: training needs the train and validation splits,
    /// evaluation the test split.
    init(configuration: PipelineConfiguration, mnistPath: String, splits wanted: [MNIST.Split]) throws {
        self.configuration = configuration
        let usesMNIST = configuration.optimizee.isMNIST
        self.mnistPath = usesMNIST ? mnistPath : nil
        if usesMNIST {
            let archive = try MNISTStore.read(mnistPath)
            for split in wanted {
                let examples = try MNIST.load(split, from: archive, path: mnistPath)
                splits[split] = ClassificationData(bytes: examples.pixels, divisor: 255, labels: examples.labels, inputSize: MNISTSplit.pixelsPerImage, classes: 10)
            }
        }
    }

    /// The data of `split` (empty for quadratics, which read none).
    ///
    /// - Throws: `RunError` for an MNIST split that was not loaded.
    func data(_ split: MNIST.Split) throws -> ClassificationData {
        guard configuration.optimizee.isMNIST else { return ClassificationData(inputs: [], labels: [], inputSize: 784, classes: 10) }
        guard let data = splits[split] else {
            throw RunError(file: mnistPath ?? "MNIST", "the \(split) split was not loaded (this stage loads \(splits.keys.map { "\($0)" }.sorted().joined(separator: ", ")))")
        }
        return data
    }
}

/// The two kinds of optimizee as one value, so that generic code can be written once.
enum AnyProblem {
    case quadratic(QuadraticProblem)
    case mlp(MLPProblem)

    init(_ specification: OptimizeeSpecification, data: ClassificationData) {
        switch specification {
        case let .quadratic(problems, dimensions, distribution):
            self = .quadratic(QuadraticProblem(problems: problems, dimensions: dimensions, distribution: distribution))
        case let .mnist(hidden, activation, batchSize, initialisation):
            self = .mlp(MLPProblem(data: data, hiddenSizes: hidden, activation: activation, batchSize: batchSize, initialisation: initialisation))
        }
    }
}
