import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// A meta-training run whose learned optimizer stopped training the optimizee is detected,
/// shown and recorded, from the logged losses alone.
@Suite("collapse detection")
struct CollapseTests {
    @Test("collapsed once most of the last 20 trajectories made no progress; not undone by one lucky trajectory; recovered when most make progress again; a replay of the logs agrees")
    func detector() {
        var detector = CollapseDetector()
        var initials: [Float] = [], finals: [Float] = []
        func add(_ initial: Float, _ final: Float) {
            initials.append(initial)
            finals.append(final)
            detector.record(initial: initial, final: final, trajectory: finals.count)
        }
        for _ in 0..<30 { add(2.3, 0.4) }
        #expect(!detector.isCollapsed && detector.since == 0)
        for _ in 0..<10 { add(2.3, 2.3) }
        #expect(!detector.isCollapsed, "half the window still made progress")
        add(2.3, 2.301)
        #expect(detector.isCollapsed && detector.since == 41, "11 of the last 20 made none: the median is ≥ 0.98")
        add(2.3, 0.3)
        #expect(detector.since == 41, "one lucky trajectory is no recovery")
        for _ in 0..<5 { add(2.3, 2.3) }
        #expect(detector.since == 41, "the collapse is dated from its detection")
        #expect(CollapseDetector(initialLosses: initials, finalLosses: finals) == detector)
        for _ in 0..<11 { add(2.3, 0.3) }
        #expect(!detector.isCollapsed, "most of the window made progress again")
        #expect(CollapseDetector(initialLosses: initials, finalLosses: finals) == detector)
    }

    @Test("a run whose updates are ~0 is recorded as collapsed in train.h5 and on the progress line, and a resumed run records the same")
    func recorded() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline(epochs: 30).replacingOccurrences(of: "output_scale: 0.5", with: "output_scale: 0.000001")
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run")])
        #expect(result.status == 0, "\(result.standardError)")
        #expect(result.standardError.contains("collapsed at trajectory 20") && result.standardError.contains("COLLAPSED since trajectory 20"), "\(result.standardError)")
        let trajectory = try File.open(folder.path("run/train.h5")).openGroup("trajectory")
        #expect(try trajectory.attribute("collapsed", as: Int64.self) == 1)
        #expect(try trajectory.attribute("collapsed_since", as: Int64.self) == 20)

        // Stopped at trajectory 25, then resumed: the same attributes, from the replayed logs.
        let out = folder.path("resumed")
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--epochs", "25"]).status == 0)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"]).status == 0)
        let resumed = try File.open(out + "/train.h5").openGroup("trajectory")
        #expect(try resumed.attribute("collapsed_since", as: Int64.self) == 20)

        // A run that trains its optimizee is not.
        try tinyQuadraticPipeline(epochs: 30).write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("healthy")]).status == 0)
        #expect(try File.open(folder.path("healthy/train.h5")).openGroup("trajectory").attribute("collapsed", as: Int64.self) == 0)
    }
}
