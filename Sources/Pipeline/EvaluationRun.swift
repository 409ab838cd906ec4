import Foundation
import HDF5
import L2L

/// The evaluation stage (`l2l-eval`): the learned optimizer of a training run (its `/phi/best`)
/// against SGD, NAG, RMSprop and Adam on every evaluation problem of the experiment.
///
/// Every optimizer meets the same problem instances, initial θ and minibatches (common random
/// numbers): run r of a problem draws them from generators seeded by (seed, problem, r) only.
/// Each baseline's learning rate is the grid value with the lowest mean final loss over separate
/// tuning runs. MNIST problems train on the test split, which meta-training never saw, or on the
/// validation split (`EvaluationSplit`), where recipes are chosen.
public struct EvaluationRun {
    public var configuration: PipelineConfiguration
    public var runFolder: String
    /// Where the data sets are read (`--data`).
    public var data: DataFiles
    public var split: EvaluationSplit
    /// Which φ of the run (`--phi`); another than `/phi/best` goes to a file of its own.
    public var phi: PhiSelection

    public init(configuration: PipelineConfiguration, runFolder: String, data: DataFiles, split: EvaluationSplit = .test,
                phi: PhiSelection = .best) {
        self.configuration = configuration
        self.runFolder = runFolder
        self.data = data
        self.split = split
        self.phi = phi
    }

    var folder: RunFolder { RunFolder(path: runFolder) }
    public var trainPath: String { folder.trainPath }
    public var path: String { folder.evalPath(split, phi: phi, name: configuration.evaluationName) }

    /// One optimizer's results on one problem.
    struct Result {
        let name: String
        let learningRate: Float?
        let losses: [[Float]]  // runs × (horizon + 1)
        let tuning: [(learningRate: Float, score: Double)]
    }

    /// The φ evaluated and where it came from, recorded in `eval.h5`.
    struct Source {
        let phi: Phi
        /// `/phi/best`, `/phi/latest`, or the snapshots of `/phi/history` (`PhiSelection`).
        let group: String
        /// Trajectories done when that φ was taken.
        let epoch: Int64
        /// `train.h5`'s `run_id` (format 2 files have none: their creation time stands in).
        let runID: String
    }

    public func run() throws {
        // The file is built in memory and saved at the end; a signal during that save removes
        // the temporary file before the process ends.
        TemporaryFiles.removeOnSignal()
        try folder.prepare(create: false)
        guard FileManager.default.fileExists(atPath: trainPath) else {
            throw RunError(file: trainPath, "no training run here; run l2l-train \(configuration.trainingPipeline) first")
        }
        let lock = try folder.lock(stage: "l2l-eval")
        defer { withExtendedLifetime(lock) {} }
        let source = try loadPhi()
        let experiment = try Experiment.evaluation(configuration, data: data, split: split.mnistSplit)
        let file = try File.createInMemory(path)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-eval", data: experiment.dataPaths)
        try file.setAttribute("format", "l2l-eval")
        try file.setAttribute("format_version", Int32(2))
        try file.setAttribute("split", split.rawValue)
        try file.setAttribute("phi_source", "\(source.group) (trajectory \(source.epoch))")
        try file.setAttribute("phi_selection", phi.description)
        try file.setAttribute("phi_epoch", source.epoch)
        try file.setAttribute("train_run_id", source.runID)
        try file.setAttribute("horizon", Int64(configuration.horizon))
        try configuration.optimizee.record(on: file, prefix: "optimizee_")
        for problem in configuration.evaluationProblems {
            note("evaluating on \(problem.name)")
            let results = evaluate(problem: try experiment.problem(problem.optimizee, split: split.mnistSplit), name: problem.name, phi: source.phi)
            try write(results, problem: problem.name, to: file)
            try problem.optimizee.record(on: file.openGroup("problems/\(problem.name)"))
        }
        try file.save()
        note("wrote \(path)")
    }

    // MARK: Implementation

    /// The φ `phi` selects from the training run (for `/phi/best`: `/phi/latest` when no
    /// validation has run yet), checked: the run's layout and settings must be this pipeline's,
    /// and φ finite and of this architecture's shapes.
    func loadPhi() throws -> Source {
        guard File.isHDF5(trainPath) else { throw RunError(file: trainPath, "is not an HDF5 file (truncated or overwritten?)") }
        let file = try File.open(trainPath)
        let version = try file.attribute("format_version", as: Int32.self)
        guard TrainFile.readableVersions.contains(version) else {
            throw RunError(file: trainPath, object: "/@format_version", "is \(version); this l2l-eval reads \(TrainFile.readableVersions)")
        }
        let stored = try TrainFile.storedConfiguration(in: file, stage: "l2l-eval").configuration
        let differences = configuration.trainingDifferences(from: stored)
        guard differences.isEmpty else {
            throw RunError(file: trainPath, "was trained with other settings than \(configuration.path) now holds (\(differences.joined(separator: "; "))); train again (make train, or l2l-train --set-aside)", reason: .settingsChanged)
        }
        let runID = file.hasAttribute("run_id") ? try file.stringAttribute("run_id") : "format-\(version) created \(try file.stringAttribute("created"))"
        var selection = phi
        if selection == .best, !(try file.openGroup(TrainFile.best).hasAttribute("epoch")) {
            note("warning: \(trainPath) has no validated φ yet; evaluating /phi/latest")
            selection = .latest
        }
        let selected = try selection.phi(in: file, architecture: configuration.architecture)
        return Source(phi: selected.phi, group: selected.source, epoch: selected.epoch, runID: runID)
    }

    private func evaluate<P: Problem>(problem: P, name: String, phi: Phi) -> [Result] {
        [learned(problem: problem, name: name, phi: phi, as: "lstm")] + baselines(problem: problem, name: name)
    }

    /// The learned optimizer with `phi` on `problem`, reported under `resultName`.
    func learned<P: Problem>(problem: P, name: String, phi: Phi, as resultName: String) -> Result {
        Result(name: resultName, learningRate: nil, losses: runs(LearnedOptimizer(phi: phi), problem: problem, name: name, purpose: "evaluation", count: configuration.runs), tuning: [])
    }

    /// The hand-crafted optimizers compared with the learned one, by their names in `eval.h5`,
    /// each made for a learning rate.
    static let baselineOptimizers: [(name: String, make: @Sendable (Float) -> any Optimizer)] = [
        ("sgd", { SGD(learningRate: $0) }), ("nag", { NAG(learningRate: $0) }),
        ("rmsprop", { RMSprop(learningRate: $0) }), ("adam", { Adam(learningRate: $0) }),
    ]

    /// SGD, NAG, RMSprop and Adam on `problem`, each at the grid's best learning rate.
    func baselines<P: Problem>(problem: P, name: String) -> [Result] {
        var results: [Result] = []
        for (optimizerName, make) in Self.baselineOptimizers {
            var tuning: [(learningRate: Float, score: Double)] = []
            for learningRate in configuration.learningRates {
                let losses = runs(make(learningRate), problem: problem, name: name, purpose: "tuning", count: configuration.tuningRuns)
                let finals = losses.map { Double($0.last ?? .nan) }
                let score = finals.allSatisfy(\.isFinite) ? finals.reduce(0, +) / Double(finals.count) : .infinity
                tuning.append((learningRate, score))
            }
            let chosen = tuning.min { $0.score < $1.score }?.learningRate ?? configuration.learningRates[0]
            let edge = GridEdge(chosen: chosen, grid: tuning.map(\.learningRate))  // as write(_:) records it
            note("  \(optimizerName): learning rate \(chosen)" + (edge.warning.map { " (\($0))" } ?? ""))
            results.append(Result(name: optimizerName, learningRate: chosen,
                                  losses: runs(make(chosen), problem: problem, name: name, purpose: "evaluation", count: configuration.runs), tuning: tuning))
        }
        return results
    }

    /// `count` runs of `horizon` steps; run r draws its instance, θ₀ and minibatches from
    /// generators that depend only on (seed, problem, purpose, r).
    private func runs<P: Problem>(_ optimizer: any Optimizer, problem: P, name: String, purpose: String, count: Int) -> [[Float]] {
        (0..<count).map { r in
            Self.trajectory(optimizer, problem: problem, seed: configuration.seed, purpose: "\(split.purposePrefix)\(purpose)/\(name)/\(r)", horizon: configuration.horizon)
        }
    }

    /// f(θ_t) for t = 0…horizon (NaN from the step where the optimizer failed). `afterStep`, when
    /// given, sees the gradient of each step the optimizer took and its state after it (the
    /// reference trace of `TraceExport` records them from this very loop).
    static func trajectory<P: Problem, O: Optimizer>(_ optimizer: O, problem: P, seed: UInt64, purpose: String, horizon: Int,
                                                     afterStep: ((_ gradient: [Float], _ state: O.State) -> Void)? = nil) -> [Float] {
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
            afterStep?(gradient, state)
        }
        losses.append(instance.loss(theta, batch: instance.sampleBatch(using: &batches)))
        return losses
    }

    func write(_ results: [Result], problem: String, to file: File) throws {
        let steps = configuration.horizon + 1
        for result in results {
            let group = "problems/\(problem)/\(result.name)"
            let losses = try file.createDataset("\(group)/loss", values: result.losses.flatMap { $0 }, shape: [result.losses.count, steps])
            try losses.setAttribute("description", "f(θ_t) for t = 0…horizon of every run (runs × steps + 1); NaN after a failure")
            let divergence = Divergence(runs: result.losses)
            let (mean, standardError) = Self.meanAndStandardError(divergence.held, steps: steps)
            try file.createDataset("\(group)/mean", values: mean, shape: [steps])
                .setAttribute("description", "mean over the runs; a diverged run held at its last finite loss")
            try file.createDataset("\(group)/stderr", values: standardError, shape: [steps])
            try file.createDataset("\(group)/diverged", values: divergence.fraction, shape: [steps])
                .setAttribute("description", "fraction of the runs whose loss was not finite at or before each step")
            let groupObject = try file.openGroup(group)
            try groupObject.setAttribute("diverged_runs", Int64(divergence.count))
            if divergence.count > 0 {
                note("  \(result.name) on \(problem): \(divergence.count) of \(result.losses.count) runs diverged (held at their last finite loss in mean and stderr)")
            }
            if let learningRate = result.learningRate {
                try groupObject.setAttribute("learning_rate", learningRate)
                try groupObject.setAttribute("learning_rate_at_grid_edge", GridEdge(chosen: learningRate, grid: result.tuning.map(\.learningRate)).rawValue)
                try file.createDataset("\(group)/tuning/learning_rates", values: result.tuning.map(\.learningRate), shape: [result.tuning.count])
                try file.createDataset("\(group)/tuning/scores", values: result.tuning.map(\.score), shape: [result.tuning.count])
                    .setAttribute("description", "mean f(θ_horizon) over the tuning runs; inf when a run diverged")
            }
        }
    }

    /// Where a baseline's chosen learning rate lies in its grid. A rate at the grid's edge may
    /// be cut short by the grid (the best rate lies beyond it), so the tuned baseline could be
    /// stronger than reported: the evaluation says so, and records it, rather than stay silent.
    enum GridEdge: String {
        case interior = "none", smallest, largest, only = "only rate"

        init(chosen: Float, grid: [Float]) {
            guard let low = grid.min(), let high = grid.max(), low < high else { self = .only; return }
            self = chosen >= high ? .largest : chosen <= low ? .smallest : .interior
        }

        /// The note printed beside the chosen rate, nil inside the grid.
        var warning: String? {
            switch self {
            case .interior: nil
            case .smallest: "warning: the grid's smallest rate; a smaller one was not tried"
            case .largest: "warning: the grid's largest rate; a larger one was not tried"
            case .only: "the grid's only rate"
            }
        }
    }

    /// The runs of one optimizer on one problem that diverged (a loss that is not finite, or the
    /// NaNs after a failed step), so that one such run neither turns the mean into inf or NaN
    /// nor hides: `held` is every run with each non-finite loss replaced by the run's last finite
    /// one (its initial loss when none), `fraction` the share of runs diverged by each step.
    struct Divergence {
        let held: [[Double]]
        let fraction: [Double]
        let count: Int

        init(runs: [[Float]]) {
            var held: [[Double]] = [], firstFailures: [Int] = []
            for run in runs {
                var row = run.map(Double.init), last = row.first(where: \.isFinite) ?? .nan
                var failure: Int?
                for t in row.indices {
                    if row[t].isFinite { last = row[t] } else { failure = failure ?? t; row[t] = last }
                }
                held.append(row)
                if let failure { firstFailures.append(failure) }
            }
            let steps = runs.first?.count ?? 0
            self.held = held
            self.count = firstFailures.count
            self.fraction = (0..<steps).map { t in runs.isEmpty ? 0 : Double(firstFailures.filter { $0 <= t }.count) / Double(runs.count) }
        }
    }

    /// The mean of `rows` at every step and its standard error (sample standard deviation over
    /// √n; 0 for one row).
    static func meanAndStandardError(_ rows: [[Double]], steps: Int) -> (mean: [Double], standardError: [Double]) {
        var mean = [Double](repeating: 0, count: steps), standardError = [Double](repeating: 0, count: steps)
        let n = Double(rows.count)
        for t in 0..<steps {
            let values = rows.map { $0[t] }
            let m = values.reduce(0, +) / n
            mean[t] = m
            standardError[t] = n > 1 ? (values.map { ($0 - m) * ($0 - m) }.reduce(0, +) / (n - 1) / n).squareRoot() : 0
        }
        return (mean, standardError)
    }
}

extension OptimizeeSpecification {
    /// Records what the optimizee is on `location` as attributes named `<prefix>kind`, and
    /// `hidden`, `activation`, … for an MLP, so that a figure reads a problem's architecture
    /// from the file instead of its name (Figure 6 plots the loss against `hidden`).
    func record(on location: Location, prefix: String = "") throws {
        switch self {
        case let .quadratic(problems, dimensions, distribution):
            try location.setAttribute(prefix + "kind", "quadratic")
            try location.setAttribute(prefix + "problems", Int64(problems))
            try location.setAttribute(prefix + "dimensions", Int64(dimensions))
            try location.setAttribute(prefix + "distribution", distribution.rawValue)
        case let .mnist(hidden, activation, batchSize, initialisation, dataset):
            try location.setAttribute(prefix + "kind", "mnist")
            try location.setAttribute(prefix + "hidden", hidden.map { Int64($0) })
            try location.setAttribute(prefix + "activation", activation.rawValue)
            try location.setAttribute(prefix + "batch_size", Int64(batchSize))
            try location.setAttribute(prefix + "init", "\(initialisation)")
            try location.setAttribute(prefix + "dataset", dataset.rawValue)
        case let .mixture(components):
            try location.setAttribute(prefix + "kind", "mixture")
            try location.setAttribute(prefix + "components", components.map { "weight \($0.weight): \($0.optimizee)" }.joined(separator: "\n"))
        }
    }
}
