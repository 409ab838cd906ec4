import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// The checkpoints survive a real `kill -9`, and a resumed run ends bit-identical to one that
/// never stopped.
@Suite("training checkpoints and resume")
struct ResumeTests {
    static let compared = [
        "trajectory/loss", "trajectory/final_loss", "trajectory/meta_loss", "validation/epoch", "validation/loss",
        "phi/history/epoch", "phi/history/values", "phi/latest/lstm1/w", "phi/latest/lstm2/b", "phi/latest/out/w",
        "phi/best/lstm1/w", "phi/best/out/b",
    ]

    /// Every compared dataset's raw bytes.
    static func contents(_ path: String) throws -> [String: [UInt8]] {
        let file = try File.open(path)
        var result: [String: [UInt8]] = [:]
        for name in compared {
            let dataset = try file.openDataset(name)
            switch try dataset.elementType {
            case .float32: result[name] = try dataset.read(Float.self).flatMap { withUnsafeBytes(of: $0.bitPattern, Array.init) }
            case .float64: result[name] = try dataset.read(Double.self).flatMap { withUnsafeBytes(of: $0.bitPattern, Array.init) }
            case .int64: result[name] = try dataset.read(Int64.self).flatMap { withUnsafeBytes(of: $0, Array.init) }
            default: Issue.record("unexpected type in \(name)")
            }
        }
        return result
    }

    /// Starts l2l-train and kills it with `signal` once its progress reaches `trajectories`.
    static func interrupt(pipeline: String, out: String, signal: Int32, after trajectories: Int) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable("l2l-train"))
        process.arguments = [pipeline, "--out", out, "--resume"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var text = ""
        let pattern = try Regex(#"\] (\d+)/"#)
        reading: while process.isRunning {
            let chunk = errors.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
            for match in text.matches(of: pattern) {
                if let done = Int(match.output[1].substring ?? ""), done >= trajectories { break reading }
            }
        }
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
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
            // The file is readable right after the kill.
            let checkpoint = try Checkpoint.read(from: File.open(out + "/train.h5"))
            #expect(checkpoint.epochsDone >= point && checkpoint.epochsDone < 120)
        }
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        #expect(resumed.standardError.contains("resuming"))

        let expected = try Self.contents(folder.path("reference/train.h5")), actual = try Self.contents(out + "/train.h5")
        for name in Self.compared {
            let same = expected[name] == actual[name]  // a Bool, so that a failure does not print every byte
            #expect(same, "\(name) differs after kill and resume")
            #expect(!(expected[name] ?? []).isEmpty)
        }
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
        // A stop can also fall between trajectories (during validation and the checkpoint), so
        // try up to twelve points for two inside.
        var insideTrajectory = 0
        for point in stride(from: 4, through: 37, by: 3) where insideTrajectory < 2 {
            let status = try Self.interrupt(pipeline: pipeline, out: out, signal: SIGTERM, after: point)
            #expect(status == 143)
            let checkpoint = try Checkpoint.read(from: File.open(out + "/train.h5"))
            if let partial = checkpoint.partial {
                insideTrajectory += 1
                #expect(partial.snapshot.step % 2 == 0 && partial.losses.count == partial.snapshot.step)
                #expect(partial.metaLosses.count == partial.snapshot.step / 2)
            }
        }
        #expect(insideTrajectory == 2, "no SIGTERM stopped inside a trajectory")
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume"])
        #expect(resumed.status == 0, "\(resumed.standardError)")
        let expected = try Self.contents(folder.path("reference/train.h5")), actual = try Self.contents(out + "/train.h5")
        for name in Self.compared {
            let same = expected[name] == actual[name]
            #expect(same, "\(name) differs after SIGTERM and resume")
        }
    }

    @Test("starting over an existing run needs --resume or --force; a changed pipeline cannot be resumed")
    func refusals() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline(epochs: 2).write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run")]).status == 0)
        let again = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run")])
        #expect(again.status != 0)
        #expect(again.standardError.contains("--resume") && again.standardError.contains("--force"))
        try tinyQuadraticPipeline(epochs: 2).replacingOccurrences(of: "seed: 3", with: "seed: 4").write(toFile: pipeline, atomically: true, encoding: .utf8)
        let changed = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--resume"])
        #expect(changed.status == 3)
        #expect(changed.standardError.contains("other settings"))
        // More epochs is a longer run of the same experiment: it continues.
        try tinyQuadraticPipeline(epochs: 3).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let longer = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--resume"])
        #expect(longer.status == 0, "\(longer.standardError)")
        #expect(try File.open(folder.path("run/train.h5")).openDataset("trajectory/loss").shape[0] == 3)
        try tinyQuadraticPipeline(epochs: 2).replacingOccurrences(of: "seed: 3", with: "seed: 4").write(toFile: pipeline, atomically: true, encoding: .utf8)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--force"]).status == 0)
        // A run an older l2l-train wrote (another checkpoint layout) is not resumed either.
        try File.open(folder.path("run/train.h5"), mode: .readWrite).setAttribute("format_version", Int32(1))
        let old = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--resume"])
        #expect(old.status == 3)
        #expect(old.standardError.contains("format_version 1"))
    }
}
