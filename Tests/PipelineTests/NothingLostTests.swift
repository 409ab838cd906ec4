import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// No command deletes a run the user did not ask to delete, and a full disk, a second process,
/// a corrupt φ or a signal never corrupt one: each test runs the real executables on real files.
@Suite("nothing lost")
struct NothingLostTests {
    static func write(_ text: String, to path: String) throws { try text.write(toFile: path, atomically: true, encoding: .utf8) }
    static func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }
    static func runID(_ path: String) throws -> String { try File.open(path).stringAttribute("run_id") }

    /// A project of its own in `folder`: the Makefile, `pipelines/probe.yaml` holding `text`, and a
    /// stand-in for data/mnist.h5 (the quadratics read none); `make` runs the test build's stages
    /// (SWIFT=true skips the build).
    static func makeProject(in folder: TemporaryDirectory, pipeline text: String) throws -> (String...) throws -> ProcessResult {
        try FileManager.default.createDirectory(atPath: folder.path("pipelines"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: folder.path("data"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: packageRoot.appendingPathComponent("Makefile").path, toPath: folder.path("Makefile"))
        #expect(FileManager.default.createFile(atPath: folder.path("data/mnist.h5"), contents: Data()))
        try write(text, to: folder.path("pipelines/probe.yaml"))
        let binaries = URL(fileURLWithPath: executable("l2l-train")).deletingLastPathComponent().path
        return { arguments in
            try runProcess("/usr/bin/make", ["-C", folder.url.path] + arguments + ["EXPERIMENTS=probe", "SWIFT=true", "RELEASE=\(binaries)"])
        }
    }

    @Test("make keeps the old run when the pipeline changes, and brings it back when the change is undone")
    func makeKeepsRuns() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("pipelines/probe.yaml")
        let make = try Self.makeProject(in: folder, pipeline: tinyQuadraticPipeline(epochs: 3, name: "probe"))

        var result = try make("eval")
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(!result.standardOutput.contains("--force"))
        let run = folder.path("runs/probe")
        let original = try Self.runID(run + "/train.h5")
        #expect(try File.open(run + "/eval.h5").stringAttribute("train_run_id") == original)

        // Another meta learning rate: the old run and its evaluation are set aside, a new run starts.
        try Self.write(tinyQuadraticPipeline(epochs: 3, name: "probe").replacingOccurrences(of: "meta_learning_rate: 0.001", with: "meta_learning_rate: 0.003"), to: pipeline)
        result = try make("eval")
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        let aside = try FileManager.default.contentsOfDirectory(atPath: run + "/set-aside")
        #expect(aside.count == 1 && aside[0].hasSuffix("-settings-changed"))
        let kept = run + "/set-aside/" + (aside.first ?? "")
        #expect(try Self.runID(kept + "/train.h5") == original)
        #expect(FileManager.default.fileExists(atPath: kept + "/eval.h5"))
        #expect(try String(contentsOfFile: kept + "/reason.txt", encoding: .utf8).contains("metaLearningRate: 0.001 → 0.003"))
        #expect(try String(contentsOfFile: kept + "/pipeline.yaml", encoding: .utf8).contains("meta_learning_rate: 0.001"))
        let replacement = try Self.runID(run + "/train.h5")
        #expect(replacement != original)
        #expect(try File.open(run + "/eval.h5").stringAttribute("train_run_id") == replacement, "make did not evaluate the new run")

        // The set-aside run can be evaluated where it is, with the pipeline it was trained with.
        let evaluated = try runProcess(executable("l2l-eval"), [kept + "/pipeline.yaml", "--out", kept])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")

        // The change undone: the original run comes back, the second is set aside in turn.
        try Self.write(tinyQuadraticPipeline(epochs: 3, name: "probe"), to: pipeline)
        result = try make("eval")
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(try Self.runID(run + "/train.h5") == original)
        #expect(try File.open(run + "/eval.h5").stringAttribute("train_run_id") == original)
        let after = try FileManager.default.contentsOfDirectory(atPath: run + "/set-aside")
        #expect(after.count == 1)
        #expect(try Self.runID(run + "/set-aside/" + (after.first ?? "") + "/train.h5") == replacement)
    }

    @Test("make trains a sweep's members as file targets, two at a time and a left-over one last with both threads; a failed member leaves the others trained and is named; the next make trains only it")
    func makeTrainsSweeps() throws {
        let folder = try TemporaryDirectory()
        let make = try Self.makeProject(in: folder, pipeline: tinyQuadraticPipeline(epochs: 3, name: "probe") + "\nsweep:\n  seeds: [1, 2, 3]\n")
        // Member seed=2 cannot be written: its run folder's name is taken by a file.
        try FileManager.default.createDirectory(atPath: folder.path("runs/probe"), withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder.path("runs/probe/seed=2"), contents: Data("in the way".utf8)))
        var result = try make("train")
        #expect(result.status != 0)
        #expect(result.standardError.contains("seed=2") && result.standardError.contains("must be a folder"), "\(result.standardError)")
        #expect(result.standardError.contains("members not trained: seed=2 "), "\(result.standardError)")
        // Three members on two slots: seeds 1 and 2 side by side with one thread each, then seed 3 alone with two.
        #expect(result.standardOutput.contains("--member seed=1 --threads 1"), "\(result.standardOutput)")
        #expect(result.standardOutput.contains("--member seed=3 --threads 2"), "\(result.standardOutput)")
        for seed in [1, 3] {
            #expect(FileManager.default.fileExists(atPath: folder.path("runs/probe/seed=\(seed)/train.h5")))
            #expect(FileManager.default.fileExists(atPath: folder.path("runs/probe/seed=\(seed)/train.done")))
        }
        #expect(!FileManager.default.fileExists(atPath: folder.path("runs/probe/train.done")))
        try FileManager.default.removeItem(atPath: folder.path("runs/probe/seed=2"))
        result = try make("-j2", "train")
        #expect(result.status == 0, "\(result.standardOutput)\(result.standardError)")
        #expect(result.standardOutput.contains("--member seed=2 --threads 1"), "\(result.standardOutput)")
        #expect(!result.standardOutput.contains("--member seed=1") && !result.standardOutput.contains("--member seed=3"), "\(result.standardOutput)")
        #expect(FileManager.default.fileExists(atPath: folder.path("runs/probe/seed=2/train.h5")))
        #expect(FileManager.default.fileExists(atPath: folder.path("runs/probe/train.done")))
        // Up to date: nothing runs.
        result = try make("train")
        #expect(result.status == 0 && !result.standardOutput.contains("l2l-train"), "\(result.standardOutput)")
    }

    @Test("a stored configuration that does not parse is reported as such (status 1), never as a change, and the file is left untouched")
    func unparsableStoredConfiguration() throws {
        let (folder, pipeline, _) = try trainedRun(tinyQuadraticPipeline(epochs: 2))
        let path = folder.path("run/train.h5")
        // As if a later version had written a key this one does not know.
        try File.open(path, mode: .readWrite).setAttribute("configuration", tinyQuadraticPipeline(epochs: 2) + "\nfuture_key: 1\n")
        let before = Self.bytes(path)
        for mode in ["--resume", "--set-aside"] {
            let result = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), mode])
            #expect(result.status == 1, "\(mode): \(result.standardError)")
            #expect(result.standardError.contains("/@configuration") && result.standardError.contains("does not parse") && result.standardError.contains("future_key"))
            #expect(!result.standardError.contains("other settings"))
        }
        let evaluation = try runProcess(executable("l2l-eval"), [pipeline, "--out", folder.path("run")])
        #expect(evaluation.status == 1)
        #expect(evaluation.standardError.contains("/@configuration"))
        #expect(Self.bytes(path) == before, "the file changed")
        #expect(!FileManager.default.fileExists(atPath: folder.path("run/set-aside")))
    }

    @Test("a full disk: training, resume and evaluation stop with ENOSPC (status 1, no crash), the checkpoint survives, and a resume after freeing space is bit-identical", .enabled(if: SmallDisk.available))
    func fullDisk() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try Self.write(tinyQuadraticPipeline(epochs: 300), to: pipeline)
        let reference = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("reference")])
        #expect(reference.status == 0, "\(reference.standardError)")

        let disk = try SmallDisk(megabytes: 4)
        let filler = try disk.take(bytes: 2_300_000)
        let out = disk.path("run")
        let train = ["--out", out, "--resume", "--checkpoint-interval", "0"]
        let stopped = try runProcess(executable("l2l-train"), [pipeline] + train)
        #expect(stopped.status == 1, "\(stopped.standardError)")
        #expect(stopped.standardError.contains("No space left on device (ENOSPC)") && stopped.standardError.contains(out + "/train.h5"))
        #expect(temporaryFiles(in: out).isEmpty)
        let state = try Checkpoint.read(from: File.open(out + "/train.h5"), architecture: ResumeTests.architecture)
        #expect(state.trajectoriesDone > 0 && state.trajectoriesDone < 300)
        #expect(try File.open(out + "/train.h5").openDataset("trajectory/loss").shape[0] == state.trajectoriesDone)

        // Still full: the resume fails the same way and leaves the file as it was.
        let full = disk.fill()
        let before = Self.bytes(out + "/train.h5")
        let again = try runProcess(executable("l2l-train"), [pipeline] + train)
        #expect(again.status == 1 && again.standardError.contains("ENOSPC"), "\(again.standardError)")
        #expect(Self.bytes(out + "/train.h5") == before)
        #expect(temporaryFiles(in: out).isEmpty)

        disk.free(full)
        disk.free(filler)
        let resumed = try runProcess(executable("l2l-train"), [pipeline] + train)
        #expect(resumed.status == 0, "\(resumed.standardError)")
        try expectIdentical(folder.path("reference/train.h5"), out + "/train.h5", "after a full disk and resume")

        // Evaluation: a full disk keeps the previous eval.h5 and leaves no temporary file.
        #expect(try runProcess(executable("l2l-eval"), [pipeline, "--out", out]).status == 0)
        let evaluation = Self.bytes(out + "/eval.h5")
        try Self.write(tinyQuadraticPipeline(epochs: 300).replacingOccurrences(of: "runs: 4", with: "runs: 6"), to: pipeline)
        let filled = disk.fill()
        let failed = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(failed.status == 1 && failed.standardError.contains("ENOSPC") && failed.standardError.contains(out + "/eval.h5"), "\(failed.standardError)")
        #expect(Self.bytes(out + "/eval.h5") == evaluation)
        #expect(temporaryFiles(in: out).isEmpty)
        disk.free(filled)
    }

    @Test("a second process on a running run is refused at once, with any flag, naming the first")
    func secondProcess() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try Self.write(tinyQuadraticPipeline(epochs: 1_000_000), to: pipeline)
        let out = folder.path("run")
        let first = try BackgroundProcess(executable("l2l-train"), [pipeline, "--out", out])
        #expect(first.wait(for: "] 1/"), "\(first.standardError)")
        for arguments in [["--force"], ["--resume"], ["--set-aside"], []] {
            let second = try runProcess(executable("l2l-train"), [pipeline, "--out", out] + arguments)
            #expect(second.status == 4, "l2l-train \(arguments): \(second.standardError)")
            #expect(second.standardError.contains("another process") && second.standardError.contains("pid \(first.process.processIdentifier)"))
        }
        let evaluation = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(evaluation.status == 4, "\(evaluation.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out + "/eval.h5"))
        first.signal(SIGTERM)
        #expect(first.finish() == 143)
        #expect(first.standardError.contains("the checkpoint is written"))
        // The first one's work is there, and the lock is free again.
        #expect(try Checkpoint.read(from: File.open(out + "/train.h5"), architecture: ResumeTests.architecture).trajectoriesDone >= 1)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume", "--epochs", "3"]).status == 0)
    }

    @Test("a non-finite φ is refused, naming the tensor: by l2l-eval in /phi/best, by --resume in the checkpoint")
    func nonFinitePhi() throws {
        let (folder, pipeline, out) = try trainedRun(tinyQuadraticPipeline(epochs: 4))
        defer { withExtendedLifetime(folder) {} }
        do {
            let file = try File.open(out + "/train.h5", mode: .readWrite)
            let tensor = try file.openDataset("phi/best/lstm1/w")
            var values = try tensor.read(Float.self)
            values[17] = .nan
            try tensor.write(values)
            let phi = try file.openDataset("checkpoint/phi")
            var flat = try phi.read(Float.self)
            flat[3] = .infinity
            try phi.write(flat)
        }
        let evaluation = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(evaluation.status == 1)
        #expect(evaluation.standardError.contains("/phi/best/lstm1/w") && evaluation.standardError.contains("non-finite"), "\(evaluation.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out + "/eval.h5"))
        let resumed = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--resume", "--epochs", "6"])
        #expect(resumed.status == 1)
        #expect(resumed.standardError.contains("/checkpoint/phi") && resumed.standardError.contains("non-finite"), "\(resumed.standardError)")
    }

    @Test("no temporary file survives SIGTERM during evaluation; one left by a killed process is removed at the next start")
    func temporaryFilesAndSignals() throws {
        let (folder, pipeline, out) = try trainedRun(tinyQuadraticPipeline(epochs: 4).replacingOccurrences(of: "runs: 4", with: "runs: 40"))
        defer { withExtendedLifetime(folder) {} }
        for delay in [0.05, 0.2, 0.5, 1.0] {
            let evaluation = try BackgroundProcess(executable("l2l-eval"), [pipeline, "--out", out])
            usleep(UInt32(delay * 1e6))
            evaluation.signal(SIGTERM)
            _ = evaluation.finish()
            #expect(temporaryFiles(in: out).isEmpty, "after SIGTERM at \(delay) s")
            if FileManager.default.fileExists(atPath: out + "/eval.h5") {
                #expect(try File.open(out + "/eval.h5").stringAttribute("format") == "l2l-eval")
            }
        }
        // kill -9 cannot clean up: the next stage on the run removes what a dead process left.
        let dead = try deadProcessID()
        let stale = out + "/.eval.h5.partial-\(dead)"
        #expect(FileManager.default.createFile(atPath: stale, contents: Data(count: 1000)))
        let evaluation = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(evaluation.status == 0, "\(evaluation.standardError)")
        #expect(evaluation.standardError.contains("removed \(stale)"))
        #expect(temporaryFiles(in: out).isEmpty)
    }

    @Test("the file comparison of the resume tests sees a difference (negative control)")
    func comparisonCanFail() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try Self.write(tinyQuadraticPipeline(epochs: 3), to: pipeline)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("a")]).status == 0)
        try Self.write(tinyQuadraticPipeline(epochs: 3).replacingOccurrences(of: "seed: 3", with: "seed: 4"), to: pipeline)
        #expect(try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("b")]).status == 0)
        let a = try everything(in: folder.path("a/train.h5")), b = try everything(in: folder.path("b/train.h5"))
        #expect(Set(a.keys) == Set(b.keys))
        let differing = a.keys.filter { a[$0] != b[$0] }
        #expect(differing.contains("/checkpoint/generators/problems") && differing.contains("/trajectory/loss") && differing.contains("/@seed"))
    }
}
