import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// The checkpoints survive a real `kill -9` and SIGTERM, and a resumed run ends bit-identical to
/// one that never stopped: every dataset and every attribute of `train.h5` (but `created`,
/// `run_id` and `resumed_by`, which say when and how the run was made).
@Suite("training checkpoints and resume")
struct ResumeTests {
    static let architecture = try! PipelineConfiguration(text: tinyQuadraticPipeline(), path: "tiny.yaml").architecture

    /// Starts l2l-train and stops it with `signal` once its progress reaches `trajectories`.
    static func interrupt(pipeline: String, out: String, signal: Int32, after trajectories: Int) throws -> Int32 {
        let process = try BackgroundProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume", "--checkpoint-interval", "0"])
        while process.process.isRunning && process.trajectoriesDone < trajectories { usleep(2_000) }
        process.signal(signal)
        return process.finish()
    }

    @Test("kill -9 at several points, then --resume: bit-identical to an uninterrupted run")
    func killAndResume() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline(epochs: 120).write(toFile: pipeline, atomically: true, encoding: .utf8)

        let reference = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("reference")])
        #expect(reference.status == 0, "\(reference.standardError)")

        let out = folder.path("killed")
        for point in [10, 45, 80] {
            _ = try Self.interrupt(pipeline: pipeline, out: out, signal: SIGKILL, after: point)
            // The file is readable right after the kill, at a checkpoint no earlier than one
            // trajectory before the progress line's.
            let state = try Checkpoint.read(from: File.open(out + "/train.h5"), architecture: Self.architecture)
            #expect(state.trajectoriesDone >= point - 1 && state.trajectoriesDone < 120)
        }
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("resuming"))
        try expectIdentical(folder.path("reference/train.h5"), out + "/train.h5", "after kill -9 and resume")
    }

    @Test("with training.random_scaling, kill -9 and --resume stay bit-identical, and the scaling changes the run")
    func randomScalingResume() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml"), plain = folder.path("plain.yaml")
        try tinyQuadraticPipeline(epochs: 60).write(toFile: plain, atomically: true, encoding: .utf8)
        try tinyQuadraticPipeline(epochs: 60).replacingOccurrences(of: "  loss_weights: uniform\n", with: "  loss_weights: uniform\n  random_scaling: {log_range: 3}\n")
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        for (file, out) in [(pipeline, "reference"), (plain, "plain")] {
            let result = try runProcess(executable("l2l-train"), [file, "--out", folder.path(out)])
            #expect(result.status == 0, "\(result.standardError)")
        }
        let out = folder.path("killed")
        _ = try Self.interrupt(pipeline: pipeline, out: out, signal: SIGKILL, after: 25)
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        try expectIdentical(folder.path("reference/train.h5"), out + "/train.h5", "random scaling, after kill -9 and resume")
        let scaledLoss = try File.open(folder.path("reference/train.h5")).openDataset("trajectory/meta_loss").read(Double.self, rank: 2)
        let plainLoss = try File.open(folder.path("plain/train.h5")).openDataset("trajectory/meta_loss").read(Double.self, rank: 2)
        #expect(scaledLoss.count == plainLoss.count && scaledLoss != plainLoss)
    }

    @Test("SIGTERM finishes the unroll in progress, checkpoints mid-trajectory and exits 143; --resume then completes identically")
    func terminate() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        // Fifty unrolls per trajectory on 640 coordinates, so that the unrolls, not the writing of
        // the checkpoint at the end of a trajectory, take most of the time, and stops fall inside.
        let text = tinyQuadraticPipeline(epochs: 40)
            .replacingOccurrences(of: "optimizee: {kind: quadratic, problems: 4, dimensions: 5", with: "optimizee: {kind: quadratic, problems: 64, dimensions: 10")
            .replacingOccurrences(of: "steps: 20", with: "steps: 100").replacingOccurrences(of: "unroll: 5", with: "unroll: 2")
        try text.write(toFile: pipeline, atomically: true, encoding: .utf8)
        _ = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("reference")])
        let out = folder.path("stopped")
        let architecture = try PipelineConfiguration(text: text, path: pipeline).architecture
        // A stop can also fall between trajectories (during validation and the checkpoint), so
        // try up to twelve points for two inside.
        var insideTrajectory = 0
        for point in stride(from: 4, through: 37, by: 3) where insideTrajectory < 2 {
            let status = try Self.interrupt(pipeline: pipeline, out: out, signal: SIGTERM, after: point)
            #expect(status == 143)
            let state = try Checkpoint.read(from: File.open(out + "/train.h5"), architecture: architecture)
            if let trajectory = state.trainer.trajectory {
                insideTrajectory += 1
                #expect(trajectory.step % 2 == 0 && state.pendingLosses.count == trajectory.step)
                #expect(state.pendingMetaLosses.count == trajectory.step / 2)
            }
        }
        #expect(insideTrajectory == 2, "no SIGTERM stopped inside a trajectory")
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        try expectIdentical(folder.path("reference/train.h5"), out + "/train.h5", "after SIGTERM and resume")
    }

    @Test("starting over an existing run needs --resume, --set-aside or --force; a changed pipeline cannot be resumed")
    func refusals() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline(epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run")]).status == 0)
        let again = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run")])
        #expect(again.status == 1)
        #expect(again.standardError.contains("--resume") && again.standardError.contains("--force"))
        try tinyQuadraticPipeline(epochs: 2).replacingOccurrences(of: "seed: 3", with: "seed: 4").write(toFile: pipeline, atomically: true, encoding: .utf8)
        let changed = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--resume"])
        #expect(changed.status == 3)
        #expect(changed.standardError.contains("other settings") && changed.standardError.contains("seed: 3 → 4"))
        // More epochs is a longer run of the same experiment: it continues.
        try tinyQuadraticPipeline(epochs: 3).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let longer = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--resume"])
        #expect(longer.status == 0, "\(longer.standardError)")
        #expect(try File.open(folder.path("run/train.h5")).openDataset("trajectory/loss").shape[0] == 3)
        // A run an older l2l-train wrote (another checkpoint layout) is not resumed either.
        try File.open(folder.path("run/train.h5"), mode: .readWrite).setAttribute("format_version", Int32(2))
        let old = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--resume"])
        #expect(old.status == 3)
        #expect(old.standardError.contains("@format_version: is 2"))
        // ... but its φ can still be evaluated.
        let evaluated = try runProcess(executable("l2l-eval"), [pipeline, "--out", folder.path("run")])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
        // --force deletes the run and its evaluation, and starts over.
        let forced = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--force"])
        #expect(forced.status == 0, "\(forced.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("run/eval.h5")), "an eval.h5 of the deleted run stayed beside the new one")
        #expect(try File.open(folder.path("run/train.h5")).attribute("format_version", as: Int32.self) == 3)
    }
}
