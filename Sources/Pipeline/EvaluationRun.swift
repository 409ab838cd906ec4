import Foundation
import HDF5
import L2L

/// The evaluation stage (`l2l-eval`): the learned optimizer of a training run (its `/phi/best`)
/// against SGD, NAG, RMSprop and Adam on every evaluation problem of the experiment.
///
/// Every optimizer meets the same problem instances, initial θ and minibatches (common random
/// numbers): run r of a problem draws them from generators seeded by (seed, problem, r) only.
/// Each baseline's learning rate is the grid value with the lowest mean final loss over separate
/// tuning runs. MNIST problems train on the test split, which meta-training never saw.
public struct EvaluationRun {
    public var configuration: PipelineConfiguration
    public var runFolder: String
    public var mnistPath: String

    public init(configuration: PipelineConfiguration, runFolder: String, mnistPath: String) {
        self.configuration = configuration
        self.runFolder = runFolder
        self.mnistPath = mnistPath
    }

    public var trainPath: String { TrainFile.path(inRun: runFolder) }
    public var path: String { URL(fileURLWithPath: runFolder).appendingPathComponent("eval.h5").path }

    /// One optimizer's results on one problem.
    struct Result {
        let name: String
        let learningRate: Float?
        let losses: [[Float]]  // runs × (horizon + 1)
        let tuning: [(learningRate: Float, score: Double)]
    }

    public func run() throws {
        let (phi, source) = try loadPhi()
        let experiment = try Experiment(configuration: configuration, mnistPath: mnistPath, splits: [.test])
        let folder = URL(fileURLWithPath: runFolder)
        let temporary = folder.appendingPathComponent(".eval.h5.partial-\(getpid())").path
        do {
            let file = try File.create(temporary, mode: .truncate)
            try Provenance.record(on: file, configuration: configuration, tool: "l2l-eval", mnistPath: experiment.mnistPath)
            try file.setAttribute("format", "l2l-eval")
            try file.setAttribute("format_version", Int32(1))
            try file.setAttribute("phi_source", source)
            try file.setAttribute("horizon", Int64(configuration.horizon))
            for problem in configuration.evaluationProblems {
                note("evaluating on \(problem.name)")
                let results: [Result]
                switch AnyProblem(problem.optimizee, data: experiment.data(.test)) {
                case let .quadratic(quadratic): results = evaluate(problem: quadratic, name: problem.name, phi: phi)
                case let .mlp(mlp): results = evaluate(problem: mlp, name: problem.name, phi: phi)
                }
                try write(results, problem: problem.name, to: file)
            }
            try file.close()
            guard rename(temporary, path) == 0 else {
                throw PipelineError(file: path, key: "", reason: "cannot rename \(temporary) into place: \(String(cString: strerror(errno)))")
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        note("wrote \(path)")
    }

    // MARK: Implementation

    /// `/phi/best` of the training run (or `/phi/latest` when no validation has run yet).
    private func loadPhi() throws -> (Phi, String) {
        guard FileManager.default.fileExists(atPath: trainPath) else {
            throw PipelineError(file: trainPath, key: "", reason: "no training run here; run l2l-train \(configuration.path) first")
        }
        let file = try File.open(trainPath)
        let storedText = (try? file.stringAttribute("configuration")) ?? ""
        guard let stored = try? PipelineConfiguration(text: storedText, path: trainPath), configuration.trainsLike(stored) else {
            throw PipelineError(file: trainPath, key: "", reason: "was trained with other settings than \(configuration.path) now holds; train again (l2l-train --force)")
        }
        let best = try file.openGroup(TrainFile.best)
        if best.hasAttribute("epoch") {
            let epoch = try best.attribute("epoch", as: Int64.self)
            return (try TrainFile.readPhi(TrainFile.best, in: file, architecture: configuration.architecture), "/phi/best (trajectory \(epoch))")
        }
        note("warning: \(trainPath) has no validated φ yet; evaluating /phi/latest")
        return (try TrainFile.readPhi(TrainFile.latest, in: file, architecture: configuration.architecture), "/phi/latest")
    }

    private func evaluate<P: Problem>(problem: P, name: String, phi: Phi) -> [Result] {
        let learned = LearnedOptimizer(phi: phi)
        var results = [Result(name: "lstm", learningRate: nil, losses: runs(learned, problem: problem, name: name, purpose: "evaluation", count: configuration.runs), tuning: [])]
        let baselines: [(String, (Float) -> any Optimizer)] = [
            ("sgd", { SGD(learningRate: $0) }), ("nag", { NAG(learningRate: $0) }),
            ("rmsprop", { RMSprop(learningRate: $0) }), ("adam", { Adam(learningRate: $0) }),
        ]
        for (optimizerName, make) in baselines {
            var tuning: [(learningRate: Float, score: Double)] = []
            for learningRate in configuration.learningRates {
                let losses = runs(make(learningRate), problem: problem, name: name, purpose: "tuning", count: configuration.tuningRuns)
                let finals = losses.map { Double($0.last ?? .nan) }
                let score = finals.allSatisfy(\.isFinite) ? finals.reduce(0, +) / Double(finals.count) : .infinity
                tuning.append((learningRate, score))
            }
            let chosen = tuning.min { $0.score < $1.score }?.learningRate ?? configuration.learningRates[0]
            note("  \(optimizerName): learning rate \(chosen)")
            results.append(Result(name: optimizerName, learningRate: chosen,
                                  losses: runs(make(chosen), problem: problem, name: name, purpose: "evaluation", count: configuration.runs), tuning: tuning))
        }
        return results
    }

    /// `count` runs of `horizon` steps; run r draws its instance, θ₀ and minibatches from
    /// generators that depend only on (seed, problem, purpose, r).
    private func runs<P: Problem>(_ optimizer: any Optimizer, problem: P, name: String, purpose: String, count: Int) -> [[Float]] {
        (0..<count).map { r in
            Self.trajectory(optimizer, problem: problem, seed: configuration.seed, purpose: "\(purpose)/\(name)/\(r)", horizon: configuration.horizon)
        }
    }

    /// f(θ_t) for t = 0…horizon (NaN from the step where the optimizer failed).
    static func trajectory<P: Problem, O: Optimizer>(_ optimizer: O, problem: P, seed: UInt64, purpose: String, horizon: Int) -> [Float] {
        var problems = Generator(seed: seed, purpose: purpose + "/problem")
        var batches = Generator(seed: seed, purpose: purpose + "/batches")
        var instance = problem.makeInstance(using: &problems)
        var theta = instance.initialTheta(using: &problems)
        var state = optimizer.makeState(parameterCount: theta.count)
        var gradient = [Float](repeating: 0, count: theta.count)
        var losses: [Float] = []
        losses.reserveCapacity(horizon + 1)
        for _ in 0..<horizon {
            losses.append(instance.lossAndGradient(theta, batch: instance.sampleBatch(using: &batches), gradient: &gradient))
            do {
                try optimizer.step(&theta, gradient: gradient, state: &state)
            } catch {
                return losses + [Float](repeating: .nan, count: horizon + 1 - losses.count)
            }
        }
        losses.append(instance.loss(theta, batch: instance.sampleBatch(using: &batches)))
        return losses
    }

    private func write(_ results: [Result], problem: String, to file: File) throws {
        let steps = configuration.horizon + 1
        for result in results {
            let group = "problems/\(problem)/\(result.name)"
            let losses = try file.createDataset("\(group)/loss", values: result.losses.flatMap { $0 }, shape: [result.losses.count, steps])
            try losses.setAttribute("description", "f(θ_t) for t = 0…horizon of every run (runs × steps + 1); NaN after a failure")
            var mean = [Double](repeating: 0, count: steps), standardError = [Double](repeating: 0, count: steps)
            let n = Double(result.losses.count)
            for t in 0..<steps {
                let values = result.losses.map { Double($0[t]) }
                let m = values.reduce(0, +) / n
                mean[t] = m
                standardError[t] = n > 1 ? (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / (n - 1) / n).squareRoot() : 0
            }
            try file.createDataset("\(group)/mean", values: mean, shape: [steps])
            try file.createDataset("\(group)/stderr", values: standardError, shape: [steps])
            let groupObject = try file.openGroup(group)
            if let learningRate = result.learningRate {
                try groupObject.setAttribute("learning_rate", learningRate)
                try file.createDataset("\(group)/tuning/learning_rates", values: result.tuning.map(\.learningRate), shape: [result.tuning.count])
                try file.createDataset("\(group)/tuning/scores", values: result.tuning.map(\.score), shape: [result.tuning.count])
                    .setAttribute("description", "mean f(θ_horizon) over the tuning runs; inf when a run diverged")
            }
        }
    }
}
