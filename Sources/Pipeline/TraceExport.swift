import Foundation
import HDF5
import L2L

/// `l2l-eval --trace FILE`: one evaluation run of the learned optimizer on one problem, step by
/// step, as a reference for other implementations of the optimizer (the Python package checks
/// its updates against it with the gradients forced to these; issue 14).
///
/// The run is the evaluation's run 0 of that problem (the same instance, θ₀ and minibatches as
/// `eval.h5`'s `lstm/loss` row 0), for its first `steps` steps. The file holds, per step t, the
/// gradient ∇f(θ_t) the optimizer was given and the update g_t it returned (θ_{t+1} = θ_t + g_t),
/// with θ₀, f(θ_t), and which φ of which run produced them; `docs/hdf5-layout.md` describes it.
public struct TraceExport {
    public var evaluation: EvaluationRun
    /// The evaluation problem traced, by name (nil: the first).
    public var problem: String?
    public var steps: Int
    public var output: String

    public static let formatName = "l2l-trace"
    public static let formatVersion: Int32 = 1

    public init(evaluation: EvaluationRun, problem: String?, steps: Int, output: String) {
        self.evaluation = evaluation
        self.problem = problem
        self.steps = steps
        self.output = output
    }

    public func run() throws {
        let configuration = evaluation.configuration
        guard let chosen = problem.map({ name in configuration.evaluationProblems.first { $0.name == name } }) ?? configuration.evaluationProblems.first else {
            throw RunError(file: configuration.path, object: "evaluation.problems",
                           "has no problem '\(problem ?? "")' (it has \(configuration.evaluationProblems.map(\.name).joined(separator: ", ")))")
        }
        TemporaryFiles.removeOnSignal()
        let source = try evaluation.loadPhi()
        let experiment = try Experiment(configuration: configuration, data: evaluation.data, splits: [evaluation.split.mnistSplit],
                                        datasets: chosen.optimizee.datasets)
        let trace = Self.trace(problem: try experiment.problem(chosen.optimizee, split: evaluation.split.mnistSplit), phi: source.phi,
                               seed: configuration.seed, purpose: "\(evaluation.split.purposePrefix)evaluation/\(chosen.name)/0", steps: steps)
        let file = try File.createInMemory(output)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-eval --trace", data: experiment.dataPaths)
        try file.setAttribute("format", Self.formatName)
        try file.setAttribute("format_version", Self.formatVersion)
        try file.setAttribute("problem", chosen.name)
        try chosen.optimizee.record(on: file, prefix: "problem_")
        try file.setAttribute("split", evaluation.split.rawValue)
        try file.setAttribute("run", Int64(0))
        try file.setAttribute("train_path", evaluation.trainPath)
        try file.setAttribute("train_run_id", source.runID)
        try file.setAttribute("phi_source", "\(source.group) (trajectory \(source.epoch))")
        try file.setAttribute("phi_epoch", source.epoch)
        try file.setAttribute("preprocessing", source.phi.architecture.preprocessing.description)
        try file.setAttribute("output_scale", source.phi.architecture.outputScale)
        try file.setAttribute("steps", Int64(trace.updates.count))
        let n = trace.theta0.count, t = trace.updates.count
        try file.createDataset("theta0", values: trace.theta0, shape: [n]).setAttribute("description", "θ₀ of the run")
        let chunks = [1, max(n, 1)]
        try file.createDataset("gradient", values: trace.gradients.flatMap { $0 }, shape: [t, n], chunks: chunks, gzipLevel: 4)
            .setAttribute("description", "∇f(θ_t) on step t's minibatch, as the learned optimizer received it (steps × coordinates)")
        try file.createDataset("update", values: trace.updates.flatMap { $0 }, shape: [t, n], chunks: chunks, gzipLevel: 4)
            .setAttribute("description", "g_t, the update the learned optimizer returned at step t: θ_{t+1} = θ_t + g_t (float32 addition)")
        try file.createDataset("loss", values: trace.losses, shape: [trace.losses.count])
            .setAttribute("description", "f(θ_t) on step t's minibatch, t = 0…steps−1 (eval.h5's lstm/loss row 0, its first values)")
        try file.save()
        note("wrote \(output): \(t) steps of run 0 of \(chosen.name), \(n) coordinates")
    }

    struct Trace {
        var theta0: [Float] = []
        var gradients: [[Float]] = []
        var updates: [[Float]] = []
        var losses: [Float] = []
    }

    /// The first `steps` steps of the evaluation's own loop (`EvaluationRun.trajectory`) for the
    /// learned optimizer, recorded; where the optimizer fails, the trace ends at the step before.
    static func trace<P: Problem>(problem: P, phi: Phi, seed: UInt64, purpose: String, steps: Int) -> Trace {
        let optimizer = LearnedOptimizer(phi: phi)
        var problems = Generator(seed: seed, purpose: purpose + "/problem")
        var trace = Trace(theta0: problem.makeInstance(using: &problems).initialTheta(using: &problems))
        let losses = EvaluationRun.trajectory(optimizer, problem: problem, seed: seed, purpose: purpose, horizon: steps) { gradient, state in
            trace.gradients.append(gradient)
            trace.updates.append(state.lastUpdate)
        }
        // f(θ_t) up to the last step taken, and the failing step's, as the loop met them.
        trace.losses = Array(losses.prefix(min(steps, trace.updates.count + 1)))
        return trace
    }
}
