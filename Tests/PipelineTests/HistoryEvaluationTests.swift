import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// `l2l-eval --history`: the learning curve of meta-training, from the snapshots of /phi/history
/// on the validation split.
@Suite("history evaluation")
struct HistoryEvaluationTests {
    @Test("every N-th snapshot and the last, on the validation draws of eval-validation.h5; the snapshot of /phi/best reproduces its curves; a rerun continues")
    func history() throws {
        // Validation and snapshots every 5 trajectories, so that /phi/best is one of the snapshots.
        let (folder, pipeline, out) = try trainedRun(tinyQuadraticPipeline(epochs: 20).replacingOccurrences(of: "validation_period: 4", with: "validation_period: 5"))
        defer { withExtendedLifetime(folder) {} }

        var result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--history", "--every", "3"])
        #expect(result.status == 0, "\(result.standardError)")
        var history = try File.open(out + "/history.h5")
        #expect(try history.openDataset("epoch").read(Int64.self) == [15, 20], "snapshots 5, 10, 15, 20: every 3rd and the last")
        #expect(try history.stringAttribute("split") == "validation")

        result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--history"])
        #expect(result.status == 0, "\(result.standardError)")
        history = try File.open(out + "/history.h5")
        #expect(try history.openDataset("epoch").read(Int64.self) == [5, 10, 15, 20], "other options: evaluated anew")
        let loss = try history.openDataset("problems/quadratic/loss")
        #expect(try loss.shape == [4, 4, 21])
        let values = try loss.read(Float.self, rank: 3)
        let finals = try history.openDataset("problems/quadratic/final_mean").read(Double.self)
        for snapshot in 0..<4 {
            let mean = (0..<4).map { Double(values[snapshot * 84 + $0 * 21 + 20]) }.reduce(0, +) / 4
            #expect(abs(finals[snapshot] - mean) <= 1e-12 * max(1, abs(mean)))
        }

        // The snapshot that is /phi/best, on the same draws as l2l-eval --split validation.
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--split", "validation"]).status == 0)
        let validation = try File.open(out + "/eval-validation.h5")
        let bestEpoch = try File.open(out + "/train.h5").openGroup("phi/best").attribute("epoch", as: Int64.self)
        let index = try #require([5, 10, 15, 20].firstIndex(of: bestEpoch))
        let best = try validation.openDataset("problems/quadratic/lstm/loss").read(Float.self, rank: 2)
        #expect(Array(values[index * 84..<(index + 1) * 84]) == best)

        // The same command again: nothing left to do.
        result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--history"])
        #expect(result.status == 0 && result.standardError.contains("4 of 4 snapshots done"), "\(result.standardError)")

        let refused = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--history", "--problems", "nope"])
        #expect(refused.status == 1 && refused.standardError.contains("no problem 'nope'"), "\(refused.standardError)")
        let misused = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--every", "2"])
        #expect(misused.status != 0 && misused.standardError.contains("go with --history"))
    }

    @Test("on a sweep, every member's history meets the draws of the sweep's eval-validation.h5, not its own seed's: each member's /phi/best snapshot reproduces its curves there")
    func sweepHistory() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        let pipeline = folder.path("sweep.yaml"), out = folder.path("runs")
        let text = tinyQuadraticPipeline(epochs: 10).replacingOccurrences(of: "validation_period: 4", with: "validation_period: 5")
            + "\nsweep:\n  seeds: [1, 2]\n"
        try text.write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out]).status == 0)
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--split", "validation"]).status == 0)
        let result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--history"])
        #expect(result.status == 0, "\(result.standardError)")
        let validation = try File.open(out + "/eval-validation.h5")
        for member in ["seed=1", "seed=2"] {
            let history = try File.open(out + "/\(member)/history.h5")
            #expect(try history.attribute("evaluation_seed", as: Int64.self) == 3, "the sweep file's seed")
            let epochs = try history.openDataset("epoch").read(Int64.self)
            let bestEpoch = try File.open(out + "/\(member)/train.h5").openGroup("phi/best").attribute("epoch", as: Int64.self)
            let index = try #require(epochs.firstIndex(of: bestEpoch), "\(epochs) \(bestEpoch)")
            let values = try history.openDataset("problems/quadratic/loss").read(Float.self, rank: 3)
            let best = try validation.openDataset("problems/quadratic/lstm/members/\(member)/loss").read(Float.self, rank: 2)
            #expect(Array(values[index * 84..<(index + 1) * 84]) == best, "\(member)")
        }
    }
}
