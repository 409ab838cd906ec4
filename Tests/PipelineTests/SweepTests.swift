import Foundation
import HDF5
import Yams
import Testing
import TestSupport
@testable import Pipeline

/// Sweeps: the members of a `sweep` section, their order, ids and resolved pipelines, the
/// refusals, `l2l-sweep`'s listing, and a member trained alone or within its sweep.
@Suite("sweeps")
struct SweepTests {
    static func sweepFile(_ section: String, epochs: Int = 3) -> String {
        tinyQuadraticPipeline(epochs: epochs) + "\n" + section
    }

    static let grid = """
        sweep:
          seeds: [1, 2]
          grid:
            training.meta_learning_rate: [0.001, 0.003]
            optimizer.output_scale: [0.5, 0.25]
        """

    @Test("members: the grid in file order (first key slowest), seeds innermost; readable ids; fully resolved pipelines")
    func expansion() throws {
        let sweep = try #require(try Sweep(text: Self.sweepFile(Self.grid), path: "s.yaml"))
        #expect(sweep.members.count == 8)
        #expect(sweep.members.map(\.index) == Array(0..<8))
        #expect(sweep.members[0].id == "meta_learning_rate=0.001,output_scale=0.5,seed=1")
        #expect(sweep.members[1].id == "meta_learning_rate=0.001,output_scale=0.5,seed=2")
        #expect(sweep.members[2].id == "meta_learning_rate=0.001,output_scale=0.25,seed=1")
        #expect(sweep.members[7].id == "meta_learning_rate=0.003,output_scale=0.25,seed=2")
        let last = sweep.members[7]
        #expect(last.overrides == [.init(key: "training.meta_learning_rate", value: "0.003"), .init(key: "optimizer.output_scale", value: "0.25"), .init(key: "seed", value: "2")])
        #expect(last.configuration.metaLearningRate == 0.003 && last.configuration.architecture.outputScale == 0.25 && last.configuration.seed == 2)
        #expect(last.folder() == "runs/tiny/\(last.id)")
        // The resolved text stands alone: it parses as an ordinary pipeline, with no sweep section.
        let reparsed = try PipelineConfiguration(text: last.configuration.text, path: "member.yaml")
        #expect(reparsed.trainsLike(last.configuration) && !last.configuration.text.contains("sweep:\n"))
        // A seeds-only sweep lists the seeds in order; a file without a sweep is no sweep.
        let seeds = try #require(try Sweep(text: Self.sweepFile("sweep:\n  seeds: [5, 3, 4]\n"), path: "s.yaml"))
        #expect(seeds.members.map(\.id) == ["seed=5", "seed=3", "seed=4"])
        #expect(try Sweep(text: tinyQuadraticPipeline(), path: "p.yaml") == nil)
        #expect(try seeds.member("1").id == "seed=3" && seeds.member("seed=4").index == 2)
        #expect(throws: PipelineError.self) { try seeds.member("seed=9") }
    }

    static func refusal(_ section: String) -> PipelineError? {
        do {
            _ = try Sweep(text: sweepFile(section), path: "s.yaml")
            Issue.record("accepted: \(section)")
        } catch {
            return error
        }
        return nil
    }

    @Test("a grid key that does not exist, a wrong value, a repeat, an empty list or an evaluation key is refused with the line, the key and the reason")
    func refusals() throws {
        let unknown = Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    training.meta_lr: [0.1]\n")
        #expect(unknown?.key == "sweep.grid.training.meta_lr" && unknown?.reason.contains("no such key") == true && unknown?.line != nil)
        let type = Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    training.meta_learning_rate: [fast]\n")
        #expect(type?.key == "sweep.grid.training.meta_learning_rate" && type?.reason.contains("expected a number") == true)
        #expect(type?.description.contains("s.yaml:") == true)
        let range = Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    training.steps: [20, 0]\n")
        #expect(range?.reason.contains("member steps=0,seed=1") == true && range?.reason.contains("outside") == true)
        #expect(Self.refusal("sweep:\n  seeds: [1, 1]\n")?.reason.contains("listed twice") == true)
        #expect(Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    training.steps: [20, 20]\n")?.reason.contains("listed twice") == true)
        #expect(Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    training.steps: []\n")?.reason.contains("non-empty") == true)
        #expect(Self.refusal("sweep:\n  seeds: []\n")?.key == "sweep.seeds")
        #expect(Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    evaluation.runs: [2, 3]\n")?.reason.contains("evaluation stage owns") == true)
        #expect(Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    seed: [2, 3]\n")?.reason.contains("sweep.seeds") == true)
        #expect(Self.refusal("sweep:\n  seeds: [1]\n  grids: {}\n")?.reason.contains("unknown key") == true)
        let repeated = Self.refusal("sweep:\n  seeds: [1]\n  grid:\n    training.steps: [20]\n    training.steps: [30]\n")
        #expect(repeated?.reason.contains("duplicate key") == true || repeated?.reason.contains("listed twice") == true)
        // A grid over optimizee.init would evaluate the members on different problems (theirs
        // inherit it) against one set of baselines: refused; with every problem's own init, fine.
        let mnist = """
            name: init
            seed: 1
            optimizee: {kind: mnist, hidden: [20], activation: sigmoid, batch_size: 128, init: {kind: fan_in_uniform}}
            optimizer: {layers: [20, 20], preprocessing: {kind: log_and_sign, k: 10}, output_scale: 0.1}
            training: {epochs: 3, steps: 20, unroll: 5, meta_learning_rate: 0.001, loss_weights: uniform, validation_period: 1, validation_size: 1, history_period: 1}
            evaluation:
              horizon: 20
              runs: 2
              tuning_runs: 2
              learning_rates: {log10_from: -2, log10_to: 0, log10_step: 1}
              problems:
                - {name: base, kind: mnist, hidden: [20], activation: sigmoid, batch_size: 128PROBLEM_INIT}
            sweep:
              seeds: [1]
              grid:
                optimizee.init: [{kind: fan_in_uniform}, {kind: gaussian, weights: 0.001, biases: 0}]

            """
        let inherited: PipelineError?
        do { _ = try Sweep(text: mnist.replacingOccurrences(of: "PROBLEM_INIT", with: ""), path: "s.yaml"); inherited = nil } catch { inherited = error }
        #expect(inherited?.key == "sweep.grid.optimizee.init" && inherited?.reason.contains("different problems") == true, "\(String(describing: inherited))")
        let own = try Sweep(text: mnist.replacingOccurrences(of: "PROBLEM_INIT", with: ", init: {kind: fan_in_uniform}"), path: "s.yaml")
        // Mapping values make ids without ',', ':' or brackets (make targets, id splitting).
        #expect(own?.members.map(\.id) == ["init=kind-fan_in_uniform,seed=1", "init=kind-gaussian_weights-0.001_biases-0,seed=1"])
        #expect(own?.members[1].overrides.first?.value == "{kind: gaussian, weights: 0.001, biases: 0}")
        #expect(Sweep.folderSafe(Sweep.text(try #require(try Yams.compose(yaml: "[20, 20]")))) == "20_20")

        // A sweep file read as one pipeline says what to do.
        #expect {
            try PipelineConfiguration(text: Self.sweepFile(Self.grid), path: "s.yaml")
        } throws: { error in
            (error as? PipelineError)?.reason.contains("--member") == true
        }
    }

    @Test("l2l-sweep prints exactly one line per member (index, id, folder, overrides), or JSON")
    func listing() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("sweep.yaml")
        try Self.sweepFile(Self.grid).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-sweep"), [pipeline])
        #expect(result.status == 0, "\(result.standardError)")
        let lines = result.standardOutput.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(lines.count == 8)
        #expect(lines[3] == ["3", "meta_learning_rate=0.001,output_scale=0.25,seed=2", "runs/tiny/meta_learning_rate=0.001,output_scale=0.25,seed=2",
                             "training.meta_learning_rate=0.001 optimizer.output_scale=0.25 seed=2"])
        let json = try runProcess(executable("l2l-sweep"), [pipeline, "--json", "--runs", "elsewhere"])
        let decoded = try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [[String: Any]]
        #expect(decoded?.count == 8 && decoded?[7]["folder"] as? String == "elsewhere/tiny/meta_learning_rate=0.003,output_scale=0.25,seed=2")
        // A bad grid is refused before anything is listed.
        try Self.sweepFile("sweep:\n  seeds: [1]\n  grid:\n    training.meta_lr: [0.1]\n").write(toFile: pipeline, atomically: true, encoding: .utf8)
        let refused = try runProcess(executable("l2l-sweep"), [pipeline])
        #expect(refused.status != 0 && refused.standardOutput.isEmpty && refused.standardError.contains("sweep.grid.training.meta_lr"))
    }

    @Test("a member trained alone (--member) is bit-identical to the same member trained within its sweep, and to the same run written as a plain pipeline")
    func memberAloneAndInSweep() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("sweep.yaml")
        try Self.sweepFile("sweep:\n  seeds: [1, 2]\n  grid:\n    training.meta_learning_rate: [0.001, 0.003]\n", epochs: 4).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let whole = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("whole")])
        #expect(whole.status == 0, "\(whole.standardError)")
        let id = "meta_learning_rate=0.003,seed=1"
        let alone = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("alone"), "--member", "2", "--threads", "1"])
        #expect(alone.status == 0, "\(alone.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path("alone")) == [id])
        try expectIdentical(folder.path("whole/\(id)/train.h5"), folder.path("alone/\(id)/train.h5"), "member 2 alone (one thread) and in its sweep (two)")

        let plain = folder.path("plain.yaml")
        try tinyQuadraticPipeline(epochs: 4).replacingOccurrences(of: "seed: 3", with: "seed: 1")
            .replacingOccurrences(of: "meta_learning_rate: 0.001", with: "meta_learning_rate: 0.003").write(toFile: plain, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [plain, "--out", folder.path("plain")]).status == 0)
        let a = try everything(in: folder.path("plain/train.h5"), ignoring: ["created", "run_id", "resumed_by", "configuration", "pipeline"])
        let b = try everything(in: folder.path("whole/\(id)/train.h5"), ignoring: ["created", "run_id", "resumed_by", "configuration", "pipeline"])
        #expect(a.keys.sorted() == b.keys.sorted())
        #expect(a.keys.filter { a[$0] != b[$0] }.isEmpty)
        // The sweep resumes member by member: nothing to do now.
        let again = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("whole")])
        #expect(again.status == 0 && again.standardError.components(separatedBy: "nothing to do").count == 5)
    }
}

extension SweepTests {
    @Test("a plain run in the folder of a pipeline that became a sweep is set aside, not overwritten")
    func plainRunBecomesSweep() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("p.yaml"), out = folder.path("run")
        try tinyQuadraticPipeline(epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out]).status == 0)
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        let original = try File.open(out + "/train.h5").stringAttribute("run_id")
        try Self.sweepFile("sweep:\n  seeds: [1, 2]\n", epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-train"), [pipeline, "--out", out])
        #expect(result.status == 0, "\(result.standardError)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: out + "/set-aside")
        #expect(aside.count == 1 && aside[0].hasSuffix("-became-a-sweep"))
        #expect(try File.open(out + "/set-aside/\(aside[0])/train.h5").stringAttribute("run_id") == original)
        #expect(FileManager.default.fileExists(atPath: out + "/set-aside/\(aside[0])/eval.h5"))
        #expect(!FileManager.default.fileExists(atPath: out + "/train.h5") && !FileManager.default.fileExists(atPath: out + "/eval.h5"))
        #expect(FileManager.default.fileExists(atPath: out + "/seed=2/train.h5"))
    }
}

extension SweepTests {
    @Test("a member folder holding another member's train.h5 (copied by hand) is refused on resume, naming the setting that differs")
    func copiedMemberRefused() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("s.yaml"), out = folder.path("runs")
        try Self.sweepFile("sweep:\n  seeds: [1, 2]\n", epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--member", "0"]).status == 0)
        try FileManager.default.createDirectory(atPath: out + "/seed=2", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: out + "/seed=1/train.h5", toPath: out + "/seed=2/train.h5")
        let before = FileManager.default.contents(atPath: out + "/seed=2/train.h5")
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--member", "seed=2", "--resume"])
        #expect(resumed.status == 3, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("seed: 1 → 2"))
        #expect(FileManager.default.contents(atPath: out + "/seed=2/train.h5") == before)
    }
}

/// The evaluation of a whole sweep: baselines once, every member on the same draws, the
/// aggregate across seeds against a hand computation.
@Suite("sweep evaluation")
struct SweepEvaluationTests {
    /// A trained tiny sweep (the quadratic pipeline with `section`): its folder, pipeline file and
    /// the folder of its members.
    static func trainedSweep(_ section: String, epochs: Int) throws -> (folder: TemporaryDirectory, pipeline: String, out: String) {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("sweep.yaml"), out = folder.path("runs")
        try SweepTests.sweepFile(section, epochs: epochs).write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out]).status == 0)
        return (folder, pipeline, out)
    }

    @Test("l2l-eval on a sweep: one eval.h5, the baselines once, every member on the same draws, across_seeds = the mean and standard error of the members' curves")
    func aggregate() throws {
        let (folder, pipeline, out) = try Self.trainedSweep("sweep:\n  seeds: [1, 2, 3]\n", epochs: 4)
        defer { withExtendedLifetime(folder) {} }
        let evaluation = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(evaluation.status == 0, "\(evaluation.standardError)")
        let file = try File.open(out + "/eval.h5")
        let problem = try file.openGroup("problems/quadratic")
        #expect(try problem.children().sorted() == ["adam", "lstm", "nag", "rmsprop", "sgd"])
        let ids = ["seed=1", "seed=2", "seed=3"]
        #expect(try problem.openGroup("lstm/members").children().sorted() == ids)
        let curves = try ids.map { try problem.openDataset("lstm/members/\($0)/mean").read(Double.self) }
        let steps = curves[0].count
        let mean = (0..<steps).map { t in curves.map { $0[t] }.reduce(0, +) / 3 }
        let standardError = (0..<steps).map { t in (curves.map { ($0[t] - mean[t]) * ($0[t] - mean[t]) }.reduce(0, +) / 2).squareRoot() / 3.0.squareRoot() }
        let across = try problem.openDataset("lstm/all-seeds/across_seeds/mean").read(Double.self)
        let acrossError = try problem.openDataset("lstm/all-seeds/across_seeds/stderr").read(Double.self)
        #expect(zip(across, mean).allSatisfy { abs($0 - $1) <= 1e-12 * max(abs($1), 1) })
        #expect(zip(acrossError, standardError).allSatisfy { abs($0 - $1) <= 1e-12 * max(abs($1), 1) })
        #expect(standardError.contains { $0 > 0 }, "the seeds' curves do not differ")
        #expect(try problem.openGroup("lstm/all-seeds/across_seeds").attribute("seeds", as: Int64.self) == 3)
        #expect(try problem.openGroup("lstm/all-seeds/across_seeds").stringAttribute("members") == ids.joined(separator: "\n"))
        #expect(try problem.openDataset("lstm/mean").read(Double.self) == across)
        // Common random numbers: every optimizer starts from the same instances and θ₀.
        let runs = 4, columns = steps
        let first = { (name: String) throws -> [Float] in
            let losses = try problem.openDataset("\(name)/loss").read(Float.self)
            return (0..<runs).map { losses[$0 * columns] }
        }
        for id in ids { #expect(try first("lstm/members/\(id)") == first("adam")) }
        // Each member's curves name the run they came from.
        for id in ids {
            #expect(try problem.openGroup("lstm/members/\(id)").stringAttribute("train_run_id") == File.open(out + "/\(id)/train.h5").stringAttribute("run_id"))
        }
    }

    @Test("a member not trained yet: refused, naming it and --trained-only; with --trained-only the trained members are evaluated, the others recorded as missing")
    func untrainedMembers() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        let pipeline = folder.path("sweep.yaml"), out = folder.path("runs")
        try SweepTests.sweepFile("sweep:\n  seeds: [1, 2, 3]\n", epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        for member in ["0", "2"] {
            #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--member", member]).status == 0)
        }
        let refused = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(refused.status == 1)
        #expect(refused.standardError.contains("seed=2/train.h5") && refused.standardError.contains("--trained-only")
                && refused.standardError.contains("1 of 3"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out + "/eval.h5"))

        let partial = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--trained-only"])
        #expect(partial.status == 0, "\(partial.standardError)")
        let file = try File.open(out + "/eval.h5")
        #expect(try file.stringAttribute("sweep_members") == "seed=1\nseed=3")
        #expect(try file.stringAttribute("sweep_members_missing") == "seed=2")
        let problem = try file.openGroup("problems/quadratic/lstm")
        #expect(try problem.openGroup("members").children().sorted() == ["seed=1", "seed=3"])
        #expect(try problem.openGroup("all-seeds/across_seeds").attribute("seeds", as: Int64.self) == 2)
        #expect(try problem.openGroup("all-seeds/across_seeds").stringAttribute("members") == "seed=1\nseed=3")

        // Once every member is trained, a plain evaluation has them all and no missing list.
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--member", "1"]).status == 0)
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        let complete = try File.open(out + "/eval.h5")
        #expect(try complete.stringAttribute("sweep_members") == "seed=1\nseed=2\nseed=3")
        #expect(!(try complete.attributeNames().contains("sweep_members_missing")))
    }

    @Test("--trained-only on a grid: each point's aggregate names its own members left out, empty for a complete point")
    func untrainedMembersPerPoint() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        let pipeline = folder.path("sweep.yaml"), out = folder.path("runs")
        let section = "sweep:\n  seeds: [1, 2]\n  grid:\n    training.meta_learning_rate: [0.001, 0.003]\n"
        try SweepTests.sweepFile(section, epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        // Members: 0.001 × {1, 2}, then 0.003 × {1, 2}; the last is left untrained.
        for member in ["0", "1", "2"] {
            #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--member", member]).status == 0)
        }
        let partial = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--trained-only"])
        #expect(partial.status == 0, "\(partial.standardError)")
        let lstm = try File.open(out + "/eval.h5").openGroup("problems/quadratic/lstm")
        #expect(try lstm.openGroup("meta_learning_rate=0.003/across_seeds").stringAttribute("members_missing") == "meta_learning_rate=0.003,seed=2")
        #expect(try lstm.openGroup("meta_learning_rate=0.001/across_seeds").stringAttribute("members_missing") == "")

        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--member", "3"]).status == 0)
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        let complete = try File.open(out + "/eval.h5").openGroup("problems/quadratic/lstm/meta_learning_rate=0.003/across_seeds")
        #expect(!(try complete.attributeNames().contains("members_missing")))
    }

    @Test("a grid: one across_seeds aggregate per grid point over its seeds, naming the point's keys and values; no single lstm curve")
    func gridAggregate() throws {
        let (folder, pipeline, out) = try Self.trainedSweep(SweepTests.grid, epochs: 2)
        defer { withExtendedLifetime(folder) {} }
        let evaluation = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(evaluation.status == 0, "\(evaluation.standardError)")
        let lstm = try File.open(out + "/eval.h5").openGroup("problems/quadratic/lstm")
        let points = ["meta_learning_rate=0.001,output_scale=0.25", "meta_learning_rate=0.001,output_scale=0.5",
                      "meta_learning_rate=0.003,output_scale=0.25", "meta_learning_rate=0.003,output_scale=0.5"]
        #expect(try lstm.children().sorted() == ["members"] + points)
        let point = try lstm.openGroup("meta_learning_rate=0.003,output_scale=0.25/across_seeds")
        #expect(try point.attribute("seeds", as: Int64.self) == 2)
        #expect(try point.stringAttribute("grid_keys") == "training.meta_learning_rate\noptimizer.output_scale")
        #expect(try point.stringAttribute("grid_values") == "0.003\n0.25")
        let curves = try ["seed=1", "seed=2"].map {
            try lstm.openDataset("members/meta_learning_rate=0.003,output_scale=0.25,\($0)/mean").read(Double.self)
        }
        let mean = try point.openDataset("mean").read(Double.self)
        #expect(zip(mean, zip(curves[0], curves[1])).allSatisfy { abs($0 - ($1.0 + $1.1) / 2) <= 1e-12 * max(abs($0), 1) })
    }

    @Test("a second evaluation of a sweep reuses the baselines when nothing they depend on changed, with the same file as a fresh one; another evaluation section recomputes them")
    func reusedBaselines() throws {
        let (folder, pipeline, out) = try Self.trainedSweep("sweep:\n  seeds: [1, 2]\n", epochs: 3)
        defer { withExtendedLifetime(folder) {} }
        let first = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(first.status == 0 && first.standardError.contains("adam: learning rate"), "\(first.standardError)")
        let fresh = try everything(in: out + "/eval.h5")

        let second = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(second.status == 0, "\(second.standardError)")
        #expect(second.standardError.contains("the baselines of the earlier") && !second.standardError.contains("adam: learning rate"), "\(second.standardError)")
        #expect(try everything(in: out + "/eval.h5") == fresh, "reused baselines give another file than computed ones")

        // More runs per optimizer: the baselines depend on it, so they are computed again.
        try SweepTests.sweepFile("sweep:\n  seeds: [1, 2]\n", epochs: 3).replacingOccurrences(of: "  runs: 4\n", with: "  runs: 5\n")
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let third = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(third.status == 0 && third.standardError.contains("adam: learning rate") && !third.standardError.contains("the baselines of the earlier"), "\(third.standardError)")
        #expect(try File.open(out + "/eval.h5").openDataset("problems/quadratic/adam/loss").shape == [5, 21])
    }

    @Test("--baselines-from another sweep's evaluation: its baselines copied when computed under the same key (the same numbers as computing them), refused naming the key otherwise, nothing written")
    func baselinesFromAnotherSweep() throws {
        let (folder, pipeline, out) = try Self.trainedSweep("sweep:\n  seeds: [1, 2]\n", epochs: 2)
        defer { withExtendedLifetime(folder) {} }
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        // A second study: other members, the same evaluation section and seed.
        let other = folder.path("other.yaml"), otherOut = folder.path("other")
        try SweepTests.sweepFile("sweep:\n  seeds: [3]\n", epochs: 2).write(toFile: other, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [other, "--out", otherOut]).status == 0)
        let copied = try runProcess(executable("l2l-eval"), [other, "--out", otherOut, "--baselines-from", out + "/eval.h5"])
        #expect(copied.status == 0 && copied.standardError.contains("the baselines of \(out)/eval.h5")
                && !copied.standardError.contains("adam: learning rate"), "\(copied.standardError)")
        let baselines = { (path: String) throws -> [[Float]] in
            let file = try File.open(path)
            return try ["sgd", "nag", "rmsprop", "adam"].map { try file.openDataset("problems/quadratic/\($0)/loss").read(Float.self) }
        }
        #expect(try baselines(otherOut + "/eval.h5") == baselines(out + "/eval.h5"))
        try FileManager.default.removeItem(atPath: otherOut + "/eval.h5")
        #expect(try runProcess(executable("l2l-eval"), [other, "--out", otherOut]).status == 0)
        #expect(try baselines(otherOut + "/eval.h5") == baselines(out + "/eval.h5"), "copied baselines differ from computed ones")

        // Another evaluation section: the baselines would differ, so they are refused.
        try FileManager.default.removeItem(atPath: otherOut + "/eval.h5")
        try SweepTests.sweepFile("sweep:\n  seeds: [3]\n", epochs: 2).replacingOccurrences(of: "  runs: 4\n", with: "  runs: 5\n")
            .write(toFile: other, atomically: true, encoding: .utf8)
        let refused = try runProcess(executable("l2l-eval"), [other, "--out", otherOut, "--baselines-from", out + "/eval.h5"])
        #expect(refused.status == 1 && refused.standardError.contains("\(out)/eval.h5") && refused.standardError.contains("another key")
                && refused.standardError.contains("runs 5"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: otherOut + "/eval.h5"))
        let notHDF5 = try runProcess(executable("l2l-eval"), [other, "--out", otherOut, "--baselines-from", pipeline])
        #expect(notHDF5.status == 1 && notHDF5.standardError.contains("not an HDF5 file"), "\(notHDF5.standardError)")
    }
}
