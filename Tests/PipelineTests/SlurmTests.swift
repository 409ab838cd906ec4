import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// `l2l-sweep --slurm`: the job array's batch scripts, and the train script's handling of a
/// signal from Slurm, run with bash and a stand-in `scontrol` (the real cluster is
/// `make slurm-test`).
@Suite("Slurm job arrays")
struct SlurmTests {
    static let sweepText = tinyQuadraticPipeline(epochs: 200, name: "probe") + "\nsweep:\n  seeds: [1, 2, 3]\n"

    /// A project folder with `pipelines/probe.yaml`, where `l2l-sweep --slurm` ran with `arguments`.
    static func project(_ arguments: [String] = []) throws -> (folder: TemporaryDirectory, result: ProcessResult) {
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.path("pipelines"), withIntermediateDirectories: true)
        try sweepText.write(toFile: folder.path("pipelines/probe.yaml"), atomically: true, encoding: .utf8)
        let result = try runProcess(executable("l2l-sweep"), ["pipelines/probe.yaml", "--slurm"] + arguments, in: folder.url.path)
        return (folder, result)
    }

    @Test("--slurm writes a job array over the members and an evaluation job, and prints the sbatch lines")
    func scripts() throws {
        let (folder, result) = try Self.project(["--partition", "cpu", "--time", "2:00:00", "--cpus-per-task", "2", "--throttle", "2"])
        #expect(result.status == 0, "\(result.standardError)")
        let slurm = folder.path("runs/probe/slurm")
        let train = try String(contentsOfFile: slurm + "/train.sbatch", encoding: .utf8)
        let eval = try String(contentsOfFile: slurm + "/eval.sbatch", encoding: .utf8)
        for line in ["#SBATCH --array=0-2%2", "#SBATCH --cpus-per-task=2", "#SBATCH --partition=cpu", "#SBATCH --time=2:00:00",
                     "#SBATCH --requeue", "#SBATCH --signal=B:TERM@120", "#SBATCH --chdir=\(folder.url.path)",
                     "#SBATCH --output=\(slurm)/train-%A_%a.out",
                     "pipelines/probe.yaml --out \(folder.url.path)/runs/probe --data data",
                     "--member \"$SLURM_ARRAY_TASK_ID\" --resume --threads 2", "scontrol requeue \"$SLURM_JOB_ID\""] {
            #expect(train.contains(line), "train.sbatch lacks \(line)")
        }
        for line in ["#SBATCH --cpus-per-task=2", "#SBATCH --partition=cpu", "l2l-eval\" pipelines/probe.yaml --out \(folder.url.path)/runs/probe"] {
            #expect(eval.contains(line), "eval.sbatch lacks \(line)")
        }
        #expect(!eval.contains("--array"))
        #expect(result.standardOutput == "array=$(sbatch --parsable \(slurm)/train.sbatch)\nsbatch --dependency=afterok:${array%%;*} \(slurm)/eval.sbatch\n")
        // The binaries are this build's.
        let binaries = URL(fileURLWithPath: executable("l2l-train")).deletingLastPathComponent().resolvingSymlinksInPath().path
        #expect(train.contains("L2L_BIN=\(binaries)\n"), "\(train)")
        // Without options: no partition, time or throttle lines; one CPU.
        let plain = try Self.project()
        let plainTrain = try String(contentsOfFile: plain.folder.path("runs/probe/slurm/train.sbatch"), encoding: .utf8)
        #expect(plainTrain.contains("#SBATCH --array=0-2\n") && plainTrain.contains("--threads 1"))
        #expect(!plainTrain.contains("--partition") && !plainTrain.contains("--time"))
    }

    @Test("Slurm's options without --slurm, and bad counts, are refused")
    func refusals() throws {
        let folder = try TemporaryDirectory()
        try Self.sweepText.write(toFile: folder.path("probe.yaml"), atomically: true, encoding: .utf8)
        for (arguments, message) in [(["--submit"], "go with --slurm"), (["--throttle", "2"], "go with --slurm"),
                                     (["--slurm", "--cpus-per-task", "0"], "--cpus-per-task must be at least 1"),
                                     (["--slurm", "--throttle", "0"], "--throttle must be at least 1"),
                                     (["--slurm", "--json"], "exclude each other")] {
            let result = try runProcess(executable("l2l-sweep"), [folder.path("probe.yaml")] + arguments)
            #expect(result.status != 0)
            #expect(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
    }

    /// Runs the train script of task `task` as Slurm would, with `scontrol` a script that records
    /// its arguments in `folder/scontrol.log` and exits `scontrolStatus`.
    static func task(_ folder: TemporaryDirectory, _ task: Int, scontrolStatus: Int = 0) throws -> BackgroundProcess {
        let bin = folder.path("fake-bin")
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try "#!/bin/sh\necho \"$@\" >> \(folder.path("scontrol.log"))\nexit \(scontrolStatus)\n"
            .write(toFile: bin + "/scontrol", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin + "/scontrol")
        // The test runner's threads block most signals and its child processes inherit the mask;
        // slurmstepd starts a task with none blocked, so unblock them (perl-base is essential in Debian).
        let unblocked = ["-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new) or die; exec @ARGV or die", "/bin/bash"]
        return try BackgroundProcess("/usr/bin/perl", unblocked + [folder.path("runs/probe/slurm/train.sbatch")], environment: [
            "SLURM_ARRAY_TASK_ID": "\(task)", "SLURM_JOB_ID": "77\(task)",
            "PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")])
    }

    @Test("a task signalled by Slurm checkpoints, asks to be requeued and ends with status 0; the requeued task resumes bit for bit")
    func requeue() throws {
        let (folder, listed) = try Self.project()
        #expect(listed.status == 0, "\(listed.standardError)")
        // A script runs in its --chdir; here the test's project folder.
        let script = folder.path("runs/probe/slurm/train.sbatch")
        try String(contentsOfFile: script, encoding: .utf8).replacingOccurrences(of: "set -u\n", with: "set -u\ncd \(folder.url.path)\n")
            .write(toFile: script, atomically: true, encoding: .utf8)

        let stopped = try Self.task(folder, 1)
        while stopped.process.isRunning && stopped.trajectoriesDone < 20 { usleep(2_000) }
        stopped.signal(SIGTERM)
        #expect(stopped.finish() == 0, "\(stopped.standardError)")
        #expect(stopped.standardError.contains("the checkpoint is written"), "\(stopped.standardError)")
        #expect(try String(contentsOfFile: folder.path("scontrol.log"), encoding: .utf8) == "requeue 771\n")
        let checkpoint = try Checkpoint.read(from: File.open(folder.path("runs/probe/seed=2/train.h5")),
                                             architecture: PipelineConfiguration(text: tinyQuadraticPipeline(), path: "t.yaml").architecture)
        #expect(checkpoint.trajectoriesDone < 200)

        let requeued = try Self.task(folder, 1)
        #expect(requeued.finish() == 0, "\(requeued.standardError)")
        #expect(requeued.standardError.contains("resuming"))
        let reference = try runProcess(executable("l2l-train"), ["pipelines/probe.yaml", "--out", "reference", "--member", "1"], in: folder.url.path)
        #expect(reference.status == 0, "\(reference.standardError)")
        try expectIdentical(folder.path("reference/seed=2/train.h5"), folder.path("runs/probe/seed=2/train.h5"), "after a requeue")

        // When the requeue is refused, the task fails with l2l-train's status, so the
        // evaluation does not run on a member that did not finish.
        let refused = try Self.task(folder, 0, scontrolStatus: 1)
        while refused.process.isRunning && refused.trajectoriesDone < 20 { usleep(2_000) }
        refused.signal(SIGTERM)
        #expect(refused.finish() == 143, "\(refused.standardError)")
        #expect(refused.standardError.contains("scontrol requeue failed"))
    }

    @Test("a task whose member cannot train fails with l2l-train's status, and nothing is requeued")
    func failingTask() throws {
        let (folder, _) = try Self.project()
        let script = folder.path("runs/probe/slurm/train.sbatch")
        try String(contentsOfFile: script, encoding: .utf8).replacingOccurrences(of: "set -u\n", with: "set -u\ncd \(folder.url.path)\n")
            .write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: folder.path("runs/probe/seed=3"), withIntermediateDirectories: true)
        try "not HDF5".write(toFile: folder.path("runs/probe/seed=3/train.h5"), atomically: true, encoding: .utf8)
        let task = try Self.task(folder, 2)
        #expect(task.finish() == 1)
        #expect(task.standardError.contains("seed=3/train.h5: is not an HDF5 file"), "\(task.standardError)")
        #expect(!FileManager.default.fileExists(atPath: folder.path("scontrol.log")))
    }
}
