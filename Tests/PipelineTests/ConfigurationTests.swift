import Foundation
import Testing
import TestSupport
import MNIST
@testable import Pipeline

@Suite("experiment definitions")
struct ConfigurationTests {
    @Test("the shipped pipelines parse, with the paper's values and the recipe of the fidelity study")
    func shipped() throws {
        let mnistSweep = try #require(try Sweep.load(contentsOf: packageRoot.appendingPathComponent("pipelines/mnist.yaml").path))
        #expect(mnistSweep.members.count == 5 && mnistSweep.evaluationSeed == 20161205)
        let mnist = mnistSweep.members[0].configuration
        #expect(mnist.seed == 20161205)
        #expect(mnist.name == "mnist")
        #expect(mnist.optimizee == .mnist(hidden: [20], activation: .sigmoid, batchSize: 128))
        #expect(mnist.architecture == .paperMNIST)
        #expect((mnist.steps, mnist.unrollLength, mnist.metaLearningRate) == (100, 20, 0.01))
        #expect(mnist.metaGradientClip == 50 && mnist.metaLearningRateSchedule.warmupUpdates == 500)
        #expect(mnist.horizon == 200 && mnist.runs >= 20)
        #expect(mnist.evaluationProblems.map(\.name) == ["base", "hidden-40", "two-layers", "relu"])
        #expect(mnist.learningRates.count == 10 && abs(mnist.learningRates[0] - 1e-4) < 1e-9 && abs(mnist.learningRates[9] - 3.1622777) < 1e-5)
        let quadraticSweep = try #require(try Sweep.load(contentsOf: packageRoot.appendingPathComponent("pipelines/quadratic.yaml").path))
        #expect(quadraticSweep.members.count == 5)
        let quadratic = quadraticSweep.members[0].configuration
        #expect(quadratic.architecture == .paperQuadratic)
        #expect(quadratic.optimizee == .quadratic(problems: 128, dimensions: 10, distribution: .gaussian))
        #expect(quadratic.runs >= 100)
        let smoke = try #require(try Sweep.load(contentsOf: packageRoot.appendingPathComponent("pipelines/smoke.yaml").path))
        #expect(smoke.members.map(\.id) == ["seed=1", "seed=2"])
    }

    @Test("the shipped evaluation files evaluate the MNIST experiment's runs: Figure 6's 18 architectures, 2,000 steps, tanh and Fashion-MNIST")
    func shippedEvaluationFiles() throws {
        func sweep(_ name: String) throws -> Sweep {
            guard case let .sweep(sweep) = try PipelineFile(contentsOf: packageRoot.appendingPathComponent("pipelines/\(name).yaml").path) else {
                throw PipelineError(file: name, key: "sweep", reason: "expected the sweep of pipelines/mnist.yaml")
            }
            return sweep
        }
        let mnist = try #require(try Sweep.load(contentsOf: packageRoot.appendingPathComponent("pipelines/mnist.yaml").path))
        for name in ["mnist-architecture", "mnist-long", "mnist-transfer"] {
            let evaluation = try sweep(name)
            #expect(evaluation.members.map(\.id) == mnist.members.map(\.id), "\(name)")
            for (a, b) in zip(evaluation.members, mnist.members) { #expect(a.configuration.trainsLike(b.configuration), "\(name) \(a.id)") }
            #expect(evaluation.members[0].configuration.evaluationName == String(name.dropFirst("mnist-".count)))
        }
        let architecture = try sweep("mnist-architecture").members[0].configuration
        var shapes: Set<[Int]> = []
        for problem in architecture.evaluationProblems {
            guard case let .mnist(hidden, activation, _, _, dataset) = problem.optimizee else { continue }
            #expect(activation == .sigmoid && dataset == .mnist)
            shapes.insert(hidden)
        }
        #expect(shapes.count == 18 && shapes.contains([160, 160, 160]) && shapes.contains([5]))
        #expect(try sweep("mnist-long").members[0].configuration.horizon == 2000)
        #expect(try sweep("mnist-transfer").members[0].configuration.evaluationDatasets == [.mnist, .fashionMNIST])
    }

    @Test("the shipped generalist meta-trains as the ablation's variant 4 (only its name differs), on five seeds, and generalist-long runs it for 2,000 steps")
    func shippedGeneralist() throws {
        let generalist = try #require(try Sweep.load(contentsOf: packageRoot.appendingPathComponent("pipelines/generalist.yaml").path))
        let variant = try #require(try Sweep.load(contentsOf: packageRoot.appendingPathComponent("pipelines/generalisation/normalised.yaml").path))
        #expect(generalist.members.map(\.id) == ["seed=20161205", "seed=20161206", "seed=20161207", "seed=20161208", "seed=20161209"])
        #expect(Array(generalist.members.map(\.id).prefix(3)) == variant.members.map(\.id))
        for (a, b) in zip(generalist.members, variant.members) {
            let differences = a.configuration.trainingDifferences(from: b.configuration)
            #expect(differences.count == 1 && differences.first?.hasPrefix("name:") == true, "\(a.id): \(differences)")
        }
        let member = generalist.members[0].configuration
        #expect(member.randomScalingLogRange == 3)
        #expect(member.evaluationProblems.map(\.name) == ["base", "hidden-40", "two-layers", "relu", "tanh", "fashion-base"])
        #expect(member.evaluationDatasets == [.mnist, .fashionMNIST])
        guard case let .sweep(long) = try PipelineFile(contentsOf: packageRoot.appendingPathComponent("pipelines/generalist-long.yaml").path) else {
            Issue.record("pipelines/generalist-long.yaml is not an evaluation file over the generalist's sweep")
            return
        }
        #expect(long.members.map(\.id) == generalist.members.map(\.id))
        #expect(long.members[0].configuration.horizon == 2000 && long.members[0].configuration.evaluationName == "long")
        for (a, b) in zip(long.members, generalist.members) { #expect(a.configuration.trainsLike(b.configuration), "\(a.id)") }
    }

    @Test("every study pipeline parses as a sweep of at least two members")
    func studies() throws {
        let folder = packageRoot.appendingPathComponent("pipelines/study")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 9, "\(files)")
        for file in files {
            let sweep = try #require(try Sweep.load(contentsOf: folder.appendingPathComponent(file).path), "\(file) has no sweep section")
            #expect(sweep.members.count >= 2, "\(file)")
            #expect(sweep.name == "study-" + file.dropLast(5), "\(file): name \(sweep.name)")
        }
    }

    func refusal(_ text: String) -> PipelineError? {
        #expect(throws: PipelineError.self) { try PipelineConfiguration(text: text, path: "p.yaml") }
        do { _ = try PipelineConfiguration(text: text, path: "p.yaml") } catch { return error }
        return nil
    }

    @Test("unknown keys, missing keys and out-of-range values are refused with the file, the key and the reason")
    func refusals() throws {
        let valid = tinyQuadraticPipeline()
        _ = try PipelineConfiguration(text: valid, path: "p.yaml")

        let unknown = refusal(valid.replacingOccurrences(of: "  unroll: 5", with: "  unroll: 5\n  unrol: 5"))
        #expect(unknown?.key == "training.unrol")
        #expect(unknown?.description.contains("p.yaml:") == true)
        #expect(unknown?.reason.contains("unknown key") == true)

        let missing = refusal(valid.replacingOccurrences(of: "  meta_learning_rate: 0.001\n", with: ""))
        #expect(missing?.key == "training.meta_learning_rate")
        #expect(missing?.reason.contains("missing") == true)

        let range = refusal(valid.replacingOccurrences(of: "steps: 20", with: "steps: 0"))
        #expect(range?.key == "training.steps")
        #expect(range?.reason.contains("outside") == true)

        let choice = refusal(valid.replacingOccurrences(of: "distribution: gaussian}\noptimizer", with: "distribution: cauchy}\noptimizer"))
        #expect(choice?.key == "optimizee.distribution")

        let weights = refusal(valid.replacingOccurrences(of: "loss_weights: uniform", with: "loss_weights: [1, 2]"))
        #expect(weights?.key == "training.loss_weights")

        let kind = refusal(valid.replacingOccurrences(of: "- {name: quadratic, kind: quadratic, problems: 4, dimensions: 5, distribution: gaussian}", with: "- {name: m, kind: mnist, hidden: [20], activation: relu, batch_size: 8}"))
        #expect(kind?.key == "evaluation.problems[0].kind")

        let yaml = refusal("name: [unclosed")
        #expect(yaml?.reason.contains("not valid YAML") == true)
    }

    @Test("YAML mistakes name the line, not the whole file; merge keys are refused as unsupported")
    func yamlMessages() throws {
        // A duplicate key in a large file: the message holds the line, not the file.
        let padding = String(repeating: "# a comment line that makes the file long\n", count: 5000)
        let duplicate = refusal(tinyQuadraticPipeline().replacingOccurrences(of: "seed: 3", with: "seed: 3\nseed: 4") + padding)
        #expect(duplicate?.reason.contains("duplicate key 'seed'") == true)
        #expect((duplicate?.description.count ?? .max) < 300, "the message is \(duplicate?.description.count ?? 0) characters")

        let merged = refusal(tinyQuadraticPipeline().replacingOccurrences(of: "training:\n", with: "defaults: &defaults\n  steps: 20\ntraining:\n  <<: *defaults\n"))
        #expect(merged?.reason.contains("merge keys") == true && merged?.reason.contains("not supported") == true)
        #expect(merged?.line != nil)
    }

    @Test("a pipeline file that cannot be read says why; one over 1 MB is refused")
    func fileMessages() throws {
        let folder = try TemporaryDirectory()
        #expect { try PipelineConfiguration(contentsOf: folder.path("absent.yaml")) } throws: { error in
            (error as? PipelineError)?.reason.contains("No such file or directory") == true
        }
        #expect { try PipelineConfiguration(contentsOf: folder.url.path) } throws: { error in
            (error as? PipelineError)?.reason.contains("not a regular file") == true
        }
        let large = folder.path("large.yaml")
        try (tinyQuadraticPipeline() + String(repeating: "#", count: PipelineConfiguration.maximumFileSize)).write(toFile: large, atomically: true, encoding: .utf8)
        #expect { try PipelineConfiguration(contentsOf: large) } throws: { error in
            (error as? PipelineError)?.reason.contains("at most 1048576") == true
        }
    }

    /// The smoke pipeline's text with `init` lines added to the optimizee (after batch_size).
    static func smokeWith(optimizeeInit: String?, problemInit: String? = nil) throws -> String {
        var text = try String(contentsOf: packageRoot.appendingPathComponent("pipelines/smoke.yaml"), encoding: .utf8)
        text = text.components(separatedBy: "\nsweep:")[0]
        if let optimizeeInit {
            text = text.replacingOccurrences(of: "  batch_size: 128\n\noptimizer:", with: "  batch_size: 128\n  init: \(optimizeeInit)\n\noptimizer:")
        }
        if let problemInit {
            text = text.replacingOccurrences(of: "{name: relu, kind: mnist, hidden: [20], activation: relu, batch_size: 128}",
                                             with: "{name: relu, kind: mnist, hidden: [20], activation: relu, batch_size: 128, init: \(problemInit)}")
        }
        return text
    }

    @Test("optimizee.init: today's N(0, 0.01²) when absent; gaussian and fan-in forms; evaluation problems inherit it unless they set their own; bad values refused")
    func initialisation() throws {
        let absent = try PipelineConfiguration(text: try Self.smokeWith(optimizeeInit: nil), path: "p.yaml")
        #expect(absent.optimizee.initialisation == .released)
        let explicit = try PipelineConfiguration(text: try Self.smokeWith(optimizeeInit: "{kind: gaussian, weights: 0.01, biases: 0.01}"), path: "p.yaml")
        #expect(explicit.trainingDifferences(from: absent).isEmpty, "spelling out the default changes no setting")

        let small = try PipelineConfiguration(
            text: try Self.smokeWith(optimizeeInit: "{kind: gaussian, weights: 0.001, biases: 0}", problemInit: "{kind: fan_in_uniform}"), path: "p.yaml")
        #expect(small.optimizee.initialisation == .gaussian(weights: 0.001, biases: 0))
        #expect(small.evaluationProblems.map { $0.optimizee.initialisation } == [.gaussian(weights: 0.001, biases: 0), .gaussian(weights: 0.001, biases: 0), .gaussian(weights: 0.001, biases: 0), .fanInUniform])
        #expect(small.trainingDifferences(from: absent).contains { $0.contains("optimizee") && $0.contains("0.001") }, "\(small.trainingDifferences(from: absent))")

        let kind = refusal(try Self.smokeWith(optimizeeInit: "{kind: xavier}"))
        #expect(kind?.key.hasSuffix("init.kind") == true && kind?.reason.contains("fan_in_uniform") == true, "\(String(describing: kind))")
        let negative = refusal(try Self.smokeWith(optimizeeInit: "{kind: gaussian, weights: -1, biases: 0}"))
        #expect(negative?.key.hasSuffix("init.weights") == true, "\(String(describing: negative))")
        let missing = refusal(try Self.smokeWith(optimizeeInit: "{kind: gaussian, weights: 0.1}"))
        #expect(missing?.key.hasSuffix("init.biases") == true, "\(String(describing: missing))")
        let extra = refusal(try Self.smokeWith(optimizeeInit: "{kind: fan_in_uniform, gain: 2}"))
        #expect(extra?.key.hasSuffix("gain") == true, "\(String(describing: extra))")
        let quadratic = refusal(tinyQuadraticPipeline().replacingOccurrences(of: "distribution: gaussian}\noptimizer", with: "distribution: gaussian, init: {kind: fan_in_uniform}}\noptimizer"))
        #expect(quadratic?.key.hasSuffix("init") == true, "\(String(describing: quadratic))")
    }

    /// The smoke pipeline's text with a `dataset` line on the optimizee and on its ReLU problem.
    static func smokeWith(optimizeeDataset: String?, problemDataset: String? = nil) throws -> String {
        var text = try smokeWith(optimizeeInit: nil)
        if let optimizeeDataset {
            text = text.replacingOccurrences(of: "  batch_size: 128\n\noptimizer:", with: "  batch_size: 128\n  dataset: \(optimizeeDataset)\n\noptimizer:")
        }
        if let problemDataset {
            text = text.replacingOccurrences(of: "{name: relu, kind: mnist, hidden: [20], activation: relu, batch_size: 128}",
                                             with: "{name: relu, kind: mnist, hidden: [20], activation: relu, batch_size: 128, dataset: \(problemDataset)}")
        }
        return text
    }

    @Test("optimizee.dataset: MNIST when absent; evaluation problems inherit it unless they name their own; unknown names refused")
    func dataset() throws {
        let absent = try PipelineConfiguration(text: try Self.smokeWith(optimizeeDataset: nil), path: "p.yaml")
        #expect(absent.optimizee.dataset == .mnist)
        #expect(absent.trainingDatasets == [.mnist] && absent.evaluationDatasets == [.mnist])
        let explicit = try PipelineConfiguration(text: try Self.smokeWith(optimizeeDataset: "mnist"), path: "p.yaml")
        #expect(explicit.trainingDifferences(from: absent).isEmpty, "spelling out the default changes no setting")

        let fashion = try PipelineConfiguration(text: try Self.smokeWith(optimizeeDataset: "fashion-mnist", problemDataset: "mnist"), path: "p.yaml")
        #expect(fashion.optimizee.dataset == .fashionMNIST)
        #expect(fashion.evaluationProblems.map { $0.optimizee.dataset } == [.fashionMNIST, .fashionMNIST, .fashionMNIST, .mnist])
        #expect(fashion.trainingDatasets == [.fashionMNIST] && fashion.evaluationDatasets == [.fashionMNIST, .mnist])
        #expect(fashion.trainingDifferences(from: absent).contains { $0.contains("dataset: Fashion-MNIST") }, "\(fashion.trainingDifferences(from: absent))")
        let mixed = try PipelineConfiguration(text: try Self.smokeWith(optimizeeDataset: nil, problemDataset: "fashion-mnist"), path: "p.yaml")
        #expect(mixed.trainingDifferences(from: absent).isEmpty, "an evaluation problem's data set does not shape meta-training")
        #expect(mixed.evaluationDatasets == [.mnist, .fashionMNIST])

        let unknown = refusal(try Self.smokeWith(optimizeeDataset: "cifar-10"))
        #expect(unknown?.key.hasSuffix("optimizee.dataset") == true && unknown?.reason.contains("fashion-mnist") == true, "\(String(describing: unknown))")
        let problem = refusal(try Self.smokeWith(optimizeeDataset: nil, problemDataset: "svhn"))
        #expect(problem?.key.hasSuffix("dataset") == true && problem?.reason.contains("mnist") == true, "\(String(describing: problem))")
        let quadratic = refusal(tinyQuadraticPipeline().replacingOccurrences(of: "distribution: gaussian}\noptimizer", with: "distribution: gaussian, dataset: mnist}\noptimizer"))
        #expect(quadratic?.key.hasSuffix("dataset") == true, "\(String(describing: quadratic))")
    }

    @Test("training.random_scaling: absent or off, none (no difference from older runs); {log_range: r} scales meta-training's problems; bad values refused")
    func randomScaling() throws {
        func with(_ value: String) -> String {
            tinyQuadraticPipeline().replacingOccurrences(of: "  loss_weights: uniform\n", with: "  loss_weights: uniform\n  random_scaling: \(value)\n")
        }
        let absent = try PipelineConfiguration(text: tinyQuadraticPipeline(), path: "p.yaml")
        #expect(absent.randomScalingLogRange == nil)
        let off = try PipelineConfiguration(text: with("off"), path: "p.yaml")
        #expect(off.randomScalingLogRange == nil && off.trainingDifferences(from: absent).isEmpty)
        let on = try PipelineConfiguration(text: with("{log_range: 3}"), path: "p.yaml")
        #expect(on.randomScalingLogRange == 3)
        #expect(on.trainingDifferences(from: absent) == ["randomScalingLogRange: nil → Optional(3.0)"], "\(on.trainingDifferences(from: absent))")
        let word = refusal(with("on"))
        #expect(word?.key == "training.random_scaling" && word?.reason.contains("off or {log_range: r}") == true, "\(String(describing: word))")
        let range = refusal(with("{log_range: 20}"))
        #expect(range?.key == "training.random_scaling.log_range" && range?.reason.contains("outside") == true, "\(String(describing: range))")
        let extra = refusal(with("{log_range: 3, per: trajectory}"))
        #expect(extra?.key.hasSuffix("per") == true, "\(String(describing: extra))")
    }

    @Test("optimizer.preprocessing: normalised with β₁, β₂ and ε, all required and in range")
    func normalisedPreprocessing() throws {
        func with(_ value: String) throws -> String {
            try Self.smokeWith(optimizeeInit: nil).replacingOccurrences(of: "  preprocessing:\n    kind: log_and_sign\n    k: 10\n", with: "  preprocessing: \(value)\n")
        }
        let parsed = try PipelineConfiguration(text: try with("{kind: normalised, beta1: 0.95, beta2: 0.95, epsilon: 1e-8}"), path: "p.yaml")
        #expect(parsed.architecture.preprocessing == .normalised(beta1: 0.95, beta2: 0.95, epsilon: 1e-8))
        #expect(parsed.architecture.preprocessing.inputSize == 2 && parsed.architecture.preprocessing.momentCount == 2)
        let missing = refusal(try with("{kind: normalised, beta1: 0.95, beta2: 0.95}"))
        #expect(missing?.key == "optimizer.preprocessing.epsilon", "\(String(describing: missing))")
        let one = refusal(try with("{kind: normalised, beta1: 1, beta2: 0.95, epsilon: 1e-8}"))
        #expect(one?.key == "optimizer.preprocessing.beta1" && one?.reason.contains("outside") == true, "\(String(describing: one))")
        let k = refusal(try with("{kind: normalised, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, k: 10}"))
        #expect(k?.key.hasSuffix("k") == true, "\(String(describing: k))")
    }

    @Test("training.meta_gradient_clip: absent, no clipping (and no difference from older runs); a bound is passed to meta-training; out of range refused")
    func metaGradientClip() throws {
        let absent = try PipelineConfiguration(text: tinyQuadraticPipeline(), path: "p.yaml")
        #expect(absent.metaGradientClip == nil && absent.training.metaGradientClip == nil)
        let text = tinyQuadraticPipeline().replacingOccurrences(of: "  meta_learning_rate: 0.001\n", with: "  meta_learning_rate: 0.001\n  meta_gradient_clip: 1.5\n")
        let clipped = try PipelineConfiguration(text: text, path: "p.yaml")
        #expect(clipped.training.metaGradientClip == 1.5)
        #expect(clipped.trainingDifferences(from: absent) == ["metaGradientClip: nil → Optional(1.5)"])
        let refused = refusal(text.replacingOccurrences(of: "meta_gradient_clip: 1.5", with: "meta_gradient_clip: 0"))
        #expect(refused?.key == "training.meta_gradient_clip", "\(String(describing: refused))")
    }
}
