import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline
import L2L

/// `l2l-eval --phi`: which φ of a run is evaluated, read from `/phi/history` exactly as stored.
@Suite("evaluating another φ than /phi/best")
struct PhiSelectionTests {
    /// A tiny run that validates and snapshots φ at the same trajectories (4, 8, …, 20).
    static func run() throws -> (folder: TemporaryDirectory, pipeline: String, out: String) {
        try trainedRun(tinyQuadraticPipeline(epochs: 20).replacingOccurrences(of: "history_period: 5", with: "history_period: 4"))
    }

    static func history(_ out: String) throws -> (epochs: [Int64], rows: [[Float]]) {
        let file = try File.open(out + "/train.h5")
        let epochs = try file.openDataset("phi/history/epoch").read(Int64.self)
        let values = try file.openDataset("phi/history/values").read(Float.self, rank: 2)
        let size = values.count / epochs.count
        return (epochs, epochs.indices.map { Array(values[$0 * size..<($0 + 1) * size]) })
    }

    @Test("the --phi forms parse and print back; anything else is refused, saying what is accepted")
    func parsing() throws {
        for text in ["best", "latest", "validation-minimum", "trajectory:900", "average:800-1000"] {
            #expect(try PhiSelection(parsing: text).description == text)
        }
        #expect(try PhiSelection(parsing: "average:800-1000") == .average(from: 800, to: 1000))
        #expect(PhiSelection.average(from: 800, to: 1000).fileSuffix == "-phi-average-800-1000" && PhiSelection.best.fileSuffix == "")
        for bad in ["", "bestest", "trajectory", "trajectory:x", "trajectory:-1", "average:10-5", "average:5", "average:a-b", "latest:3"] {
            #expect(throws: PhiSelectionError.self, "\(bad)") { try PhiSelection(parsing: bad) }
        }
        let error = try #require(throws: PhiSelectionError.self) { try PhiSelection(parsing: "bestest") }
        #expect(error.description.contains("--phi bestest") && error.description.contains("average:A-B"))
    }

    @Test("trajectory:N is that snapshot, average:A-B the mean of the snapshots in the range, validation-minimum the snapshot at the lowest validation score (= /phi/best without top-k), latest /phi/latest")
    func selections() throws {
        let (folder, pipeline, out) = try Self.run()
        defer { withExtendedLifetime(folder) {} }
        let configuration = try PipelineConfiguration(contentsOf: pipeline)
        let load = { (phi: PhiSelection) in try EvaluationRun(configuration: configuration, runFolder: out, data: DataFiles(), phi: phi).loadPhi() }
        let (epochs, rows) = try Self.history(out)
        #expect(epochs == [4, 8, 12, 16, 20])

        let eight = try load(.trajectory(8))
        #expect(eight.phi.values == rows[1] && eight.epoch == 8)
        let mean = try load(.average(from: 5, to: 16))
        let expected = rows[0].indices.map { i in Float((Double(rows[1][i]) + Double(rows[2][i]) + Double(rows[3][i])) / 3) }
        #expect(mean.phi.values == expected && mean.epoch == 16 && mean.group.contains("mean of 3 snapshots"), "\(mean.group)")
        #expect(mean.phi.values != rows[1] && mean.phi.values != rows[3])

        let file = try File.open(out + "/train.h5")
        let scores = try file.openDataset("validation/loss").read(Double.self)
        let lowest = try file.openDataset("validation/epoch").read(Int64.self)[try #require(scores.indices.min { scores[$0] < scores[$1] })]
        let minimum = try load(.validationMinimum), best = try load(.best)
        #expect(minimum.epoch == lowest && best.epoch == lowest)
        #expect(minimum.phi.values == best.phi.values && best.group == "/phi/best")
        #expect(try load(.latest).phi.values == rows[4])
    }

    @Test("a snapshot that is not there: refused, naming the file, /phi/history/epoch and what it holds")
    func missingSnapshot() throws {
        let (folder, pipeline, out) = try Self.run()
        defer { withExtendedLifetime(folder) {} }
        for phi in ["trajectory:7", "average:21-30"] {
            let result = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--phi", phi])
            #expect(result.status == 1, "\(result.standardError)")
            #expect(result.standardError.contains("train.h5") && result.standardError.contains("/phi/history/epoch")
                    && result.standardError.contains("trajectories 4, 8, …, 20"), "\(result.standardError)")
        }
        let bad = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--phi", "median"])
        #expect(bad.status != 0 && bad.standardError.contains("--phi median"), "\(bad.standardError)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("eval") }.isEmpty)
    }

    @Test("on a sweep: --phi writes a file of its own with the /phi/best evaluation's baselines, recording the selection; eval.h5 is unchanged")
    func sweep() throws {
        let section = "sweep:\n  seeds: [1, 2]\n"
        let (folder, pipeline, out) = try SweepEvaluationTests.trainedSweep(section, epochs: 10)
        defer { withExtendedLifetime(folder) {} }
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        let before = try everything(in: out + "/eval.h5")
        let averaged = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--phi", "average:4-10"])
        #expect(averaged.status == 0, "\(averaged.standardError)")
        #expect(averaged.standardError.contains("the baselines of the earlier \(out)/eval.h5"), "\(averaged.standardError)")
        #expect(try everything(in: out + "/eval.h5") == before)

        let file = try File.open(out + "/eval-phi-average-4-10.h5")
        #expect(try file.stringAttribute("phi_selection") == "average:4-10")
        let member = try file.openGroup("problems/quadratic/lstm/members/seed=1")
        #expect(try member.stringAttribute("phi_source").contains("mean of 2 snapshots"))
        #expect(try member.attribute("phi_epoch", as: Int64.self) == 10)
        // The baselines are the /phi/best evaluation's, bit for bit; the learned optimizer's are another φ's.
        let best = try File.open(out + "/eval.h5")
        for name in ["adam", "lstm/members/seed=1"] {
            let a = try best.openDataset("problems/quadratic/\(name)/loss").read(Float.self)
            let b = try file.openDataset("problems/quadratic/\(name)/loss").read(Float.self)
            #expect((a == b) == (name == "adam"), "\(name)")
        }
    }
}
