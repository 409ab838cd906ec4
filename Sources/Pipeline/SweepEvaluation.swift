import Foundation
import HDF5
import L2L

/// The evaluation of a whole sweep (`l2l-eval` on a sweep file): every member's `/phi/best` and
/// the four baselines on every evaluation problem, all drawing the same problem instances, θ₀ and
/// minibatches (common random numbers, from the sweep's `evaluationSeed`). The baselines do not
/// depend on φ, so they are tuned and run once per problem, not once per member.
///
/// Writes `runs/<name>/eval.h5`: the baselines as for one run, every member's learned-optimizer
/// runs in `/problems/<p>/lstm/members/<id>/`, and per grid point the aggregate over its seeds in
/// `/problems/<p>/lstm/<grid point>/across_seeds/` (`mean` of the members' mean curves, `stderr`
/// the standard error across seeds, attribute `seeds`). With one grid point,
/// `/problems/<p>/lstm/mean` and `stderr` are that aggregate, so the figures draw across-seed bands.
/// Each aggregate names its members (attribute `members`), so that readers need not match ids.
///
/// With `trainedOnly`, members without a `train.h5` are left out (recorded in
/// `sweep_members_missing`, and per grid point in its aggregate's `members_missing`) instead of refused: an interim table while a long sweep trains.
/// `baselinesFrom` names another evaluation (say, another study's) whose baselines are copied
/// when they were computed under the same key and data; otherwise it is refused.
public struct SweepEvaluation {
    public var sweep: Sweep
    public var folder: String
    /// Where the data sets are read (`--data`).
    public var data: DataFiles

    public var split: EvaluationSplit
    public var trainedOnly: Bool
    public var baselinesFrom: String?
    /// Which φ of every member (`--phi`); another than `/phi/best` goes to a file of its own,
    /// whose baselines come from the `/phi/best` evaluation's when it has them.
    public var phi: PhiSelection

    public init(sweep: Sweep, folder: String, data: DataFiles, split: EvaluationSplit = .test,
                trainedOnly: Bool = false, baselinesFrom: String? = nil, phi: PhiSelection = .best) {
        self.sweep = sweep
        self.folder = folder
        self.data = data
        self.split = split
        self.trainedOnly = trainedOnly
        self.baselinesFrom = baselinesFrom
        self.phi = phi
    }

    public var path: String { RunFolder(path: folder).evalPath(split, phi: phi, name: sweep.members.first?.configuration.evaluationName) }

    public func run() throws {
        TemporaryFiles.removeOnSignal()
        let root = RunFolder(path: folder)
        try root.setAsidePlainRun(sweep: sweep.path)
        let lock = try root.lock(stage: "l2l-eval (sweep)")
        defer { withExtendedLifetime(lock) {} }

        guard var configuration = sweep.members.first?.configuration else { return }
        configuration.seed = sweep.evaluationSeed
        // Every member's φ, checked, before any work.
        let memberFolder = { (member: SweepMember) in "\(folder)/\(member.id)" }
        let trainPath = { (member: SweepMember) in RunFolder(path: memberFolder(member)).trainPath }
        let isTrained = { (member: SweepMember) in FileManager.default.fileExists(atPath: trainPath(member)) }
        let trained = sweep.members.filter(isTrained), untrained = sweep.members.filter { !isTrained($0) }
        if let first = untrained.first, !trainedOnly {
            throw RunError(file: trainPath(first),
                           "member \(first.id) is not trained yet (\(untrained.count) of \(sweep.members.count) members are not); "
                           + "run l2l-train \(sweep.trainingPipeline) --member \(first.index), or evaluate the trained ones with --trained-only")
        }
        guard !trained.isEmpty else {
            throw RunError(file: folder, "no member of the sweep \(sweep.path) is trained yet; run l2l-train \(sweep.trainingPipeline)")
        }
        if !untrained.isEmpty { note("leaving out \(untrained.count) members not trained yet: \(untrained.map(\.id).joined(separator: " "))") }
        let sources = try trained.map { member -> EvaluationRun.Source in
            try EvaluationRun(configuration: member.configuration, runFolder: memberFolder(member), data: data, phi: phi).loadPhi()
        }
        let evaluation = EvaluationRun(configuration: configuration, runFolder: folder, data: data, split: split)
        let experiment = try Experiment.evaluation(configuration, data: data, split: split.mnistSplit)
        let file = try File.createInMemory(path)
        try Provenance.record(on: file, configuration: configuration, tool: "l2l-eval", data: experiment.dataPaths)
        try file.setAttribute("configuration", try String(contentsOfFile: sweep.path, encoding: .utf8))
        if let evaluated = sweep.members.first?.configuration.evaluatedPipeline {
            // An evaluation file: the pipeline whose runs it evaluates, as it reads now.
            try file.setAttribute("evaluated_pipeline", evaluated)
            try file.setAttribute("evaluated_pipeline_configuration", try String(contentsOfFile: evaluated, encoding: .utf8))
        }
        try file.setAttribute("format", "l2l-eval")
        try file.setAttribute("format_version", Int32(2))
        try file.setAttribute("split", split.rawValue)
        try file.setAttribute("sweep_members", trained.map(\.id).joined(separator: "\n"))
        if !untrained.isEmpty { try file.setAttribute("sweep_members_missing", untrained.map(\.id).joined(separator: "\n")) }
        try file.setAttribute("phi_selection", phi.description)
        try file.setAttribute("phi_source", "\(phi == .best ? "/phi/best" : "--phi \(phi)") of each of the \(trained.count) members"
                              + (untrained.isEmpty ? "" : " trained (\(untrained.count) of the sweep's \(sweep.members.count) not yet)"))
        try file.setAttribute("horizon", Int64(configuration.horizon))
        // What the members were meta-trained on, when they share it (a grid may vary it).
        if sweep.members.allSatisfy({ $0.configuration.optimizee == configuration.optimizee }) {
            try configuration.optimizee.record(on: file, prefix: "optimizee_")
        }
        let baselinesKey = Self.baselinesKey(configuration: configuration, split: split)
        try file.setAttribute("baselines_key", baselinesKey)
        // The baselines do not depend on φ: this file's earlier ones serve, or the /phi/best evaluation's.
        var earlier = try baselinesFrom.map { try givenBaselines($0, key: baselinesKey, provenance: file) }
        var source = baselinesFrom ?? path
        for candidate in [path] + (phi == .best ? [] : [RunFolder(path: folder).evalPath(split)]) where earlier == nil {
            earlier = try earlierBaselines(at: candidate, key: baselinesKey, provenance: file)
            if earlier != nil { source = candidate }
        }

        let points = Dictionary(grouping: trained, by: Sweep.gridPoint(of:))
        let missingByPoint = Dictionary(grouping: untrained, by: Sweep.gridPoint(of:))
        let onePoint = Set(sweep.members.map(Sweep.gridPoint(of:))).count == 1
        let steps = configuration.horizon + 1
        for problem in configuration.evaluationProblems {
            let reused = try earlier.map { try Self.baselines(of: problem.name, in: $0) }
            note("evaluating on \(problem.name): \(reused == nil ? "the baselines" : "the baselines of \(baselinesFrom == nil ? "the earlier " : "")\(source) (nothing they depend on changed)"), then \(trained.count) members")
            /// The baselines once, then every member's learned optimizer.
            func evaluate<P: Problem>(_ optimizee: P) -> [EvaluationRun.Result] {
                (reused ?? evaluation.baselines(problem: optimizee, name: problem.name))
                    + zip(trained, sources).map { evaluation.learned(problem: optimizee, name: problem.name, phi: $1.phi, as: "lstm/members/\($0.id)") }
            }
            let results = evaluate(try experiment.problem(problem.optimizee, split: split.mnistSplit))
            try evaluation.write(results, problem: problem.name, to: file)
            try problem.optimizee.record(on: file.openGroup("problems/\(problem.name)"))
            for (member, source) in zip(trained, sources) {
                let group = try file.openGroup("problems/\(problem.name)/lstm/members/\(member.id)")
                try group.setAttribute("train_run_id", source.runID)
                try group.setAttribute("phi_epoch", source.epoch)
                try group.setAttribute("phi_source", source.group)
            }
            for (point, members) in points {
                let curves = try members.map { try file.openDataset("problems/\(problem.name)/lstm/members/\($0.id)/mean").read(Double.self, rank: 1) }
                let (mean, standardError) = EvaluationRun.meanAndStandardError(curves, steps: steps)
                let group = "problems/\(problem.name)/lstm/\(point)/across_seeds"
                try file.createDataset("\(group)/mean", values: mean, shape: [steps])
                    .setAttribute("description", "mean over the seeds of the members' mean curves")
                try file.createDataset("\(group)/stderr", values: standardError, shape: [steps])
                    .setAttribute("description", "standard error of that mean across seeds (sample standard deviation of the seeds' mean curves over √seeds)")
                try file.openGroup(group).setAttribute("seeds", Int64(members.count))
                try file.openGroup(group).setAttribute("members", members.map(\.id).joined(separator: "\n"))
                // Per point, so that a table counts a point's untrained seeds without parsing ids.
                if !untrained.isEmpty {
                    try file.openGroup(group).setAttribute("members_missing", (missingByPoint[point] ?? []).map(\.id).joined(separator: "\n"))
                }
                // The point's values by key, so that readers need not parse its name.
                let grid = members[0].overrides.filter { $0.key != "seed" }
                try file.openGroup(group).setAttribute("grid_keys", grid.map(\.key).joined(separator: "\n"))
                try file.openGroup(group).setAttribute("grid_values", grid.map(\.value).joined(separator: "\n"))
                if onePoint {
                    try file.createDataset("problems/\(problem.name)/lstm/mean", values: mean, shape: [steps])
                    try file.createDataset("problems/\(problem.name)/lstm/stderr", values: standardError, shape: [steps])
                    try file.openGroup("problems/\(problem.name)/lstm").setAttribute("band", "standard error across \(members.count) seeds")
                }
            }
        }
        try file.save()
        note("wrote \(path)")
    }

    // MARK: Reusing the baselines

    /// What the baselines' results depend on besides the data: the evaluation section, the seed
    /// of the draws, the split and the code.
    static func baselinesKey(configuration: PipelineConfiguration, split: EvaluationSplit) -> String {
        "problems \(configuration.evaluationProblems); horizon \(configuration.horizon); runs \(configuration.runs); "
            + "tuning runs \(configuration.tuningRuns); learning rates \(configuration.learningRates); seed \(configuration.seed); "
            + "split \(split.rawValue); code \(Provenance.codeVersion)"
    }

    /// The existing evaluation file, when its baselines were computed under the same key and on
    /// the same data (the MNIST checksums `provenance` records); nil otherwise.
    private func earlierBaselines(at path: String, key: String, provenance: File) throws -> File? {
        guard File.isHDF5(path), let earlier = try? File.open(path),
              (try? earlier.stringAttribute("baselines_key")) == key else { return nil }
        return try Self.differentData(earlier, provenance) == nil ? earlier : nil
    }

    /// The evaluation at `path` the user named for its baselines: refused, naming what differs,
    /// unless they were computed under `key` on the same data.
    private func givenBaselines(_ path: String, key: String, provenance: File) throws -> File {
        guard File.isHDF5(path) else { throw RunError(file: path, "--baselines-from: not an HDF5 file (expected an eval.h5 of l2l-eval)") }
        let given = try File.open(path)
        guard let givenKey = try? given.stringAttribute("baselines_key") else {
            throw RunError(file: path, "--baselines-from: no baselines_key attribute (not a sweep's evaluation, or an older l2l-eval)")
        }
        guard givenKey == key else {
            throw RunError(file: path, "--baselines-from: its baselines were computed under another key, so they would differ from this evaluation's: it has \"\(givenKey)\", this evaluation needs \"\(key)\"")
        }
        if let name = try Self.differentData(given, provenance) {
            throw RunError(file: path, "--baselines-from: attribute \(name) differs from this evaluation's data")
        }
        return given
    }

    /// The first data checksum attribute that `other` and `provenance` record differently (one
    /// reading a data set the other does not counts; where the files lay does not).
    private static func differentData(_ other: File, _ provenance: File) throws -> String? {
        Provenance.checksumAttributes.first { (try? other.stringAttribute($0)) != (try? provenance.stringAttribute($0)) }
    }

    /// The baselines' results on `problem` as `file` holds them.
    static func baselines(of problem: String, in file: File) throws -> [EvaluationRun.Result] {
        try EvaluationRun.baselineOptimizers.map(\.name).map { name in
            let group = try file.openGroup("problems/\(problem)/\(name)")
            let loss = try group.openDataset("loss")
            let shape = try loss.shape
            let values = try loss.read(Float.self, rank: 2)
            let losses = (0..<shape[0]).map { Array(values[$0 * shape[1]..<($0 + 1) * shape[1]]) }
            let rates = try group.openDataset("tuning/learning_rates").read(Float.self)
            let scores = try group.openDataset("tuning/scores").read(Double.self)
            return EvaluationRun.Result(name: name, learningRate: try group.attribute("learning_rate", as: Float.self),
                                        losses: losses, tuning: Array(zip(rates, scores)).map { (learningRate: $0.0, score: $0.1) })
        }
    }
}
