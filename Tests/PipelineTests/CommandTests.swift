import Foundation
import Testing
import TestSupport

/// `--help` of every stage is complete: its options, an example, and what it writes.
@Suite("the commands' help")
struct CommandTests {
    @Test("l2l-train, l2l-eval, l2l-sweep, l2l-bench and l2l-probe document every option and give examples", arguments: [
        ("l2l-train", ["--out", "--epochs", "--data", "--resume", "--set-aside", "--force", "--checkpoint-interval", "--member", "--threads", "Examples:", "train.h5", "SIGTERM", "Exit status", "set-aside/"]),
        ("l2l-eval", ["--out", "--data", "--member", "--threads", "--split", "--phi", "--history", "--every", "--problems", "Examples:", "eval.h5", "history.h5", "eval-validation.h5", "learning rate", "Exit status", "train_run_id"]),
        ("l2l-sweep", ["--json", "--runs", "Examples:", "seeds innermost", "one line per member", "--slurm", "--partition", "--time", "--cpus-per-task", "--throttle", "--submit", "--data", "train.sbatch", "afterok", "requeued"]),
        ("l2l-bench", ["--repetitions", "--data", "--out", "Examples:", "latest.json", "sgemm", "multiply-add peak"]),
        ("l2l-probe gradient-scale", ["--init", "--samples", "--out", "--data", "Examples:", "released", "fan_in", "e^-k", "weights_median", "validation split"]),
        ("l2l-probe meta-gradient", ["--unrolls", "--member", "--data", "Examples:", "before clipping", "meta_gradient_clip", "quartiles"]),
    ])
    func help(command: String, expected: [String]) throws {
        let words = command.split(separator: " ").map(String.init)
        let result = try runProcess(executable(words[0]), Array(words.dropFirst()) + ["--help"])
        #expect(result.status == 0)
        for text in expected { #expect(result.standardOutput.contains(text), "\(command) --help lacks \(text)") }
    }

    @Test("a pipeline file with a mistake stops the stage with the file, the key and the reason")
    func badPipeline() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("bad.yaml")
        try tinyQuadraticPipeline().replacingOccurrences(of: "horizon: 20", with: "horizon: -1").write(toFile: pipeline, atomically: true, encoding: .utf8)
        for command in ["l2l-train", "l2l-eval"] {
            let result = try runProcess(executable(command), [pipeline, "--out", folder.path("run")])
            #expect(result.status != 0)
            #expect(result.standardError.contains("bad.yaml:") && result.standardError.contains("'evaluation.horizon'") && result.standardError.contains("outside"))
            #expect(!result.standardError.contains("Fatal error"))
        }
    }

    @Test("--epochs outside the file's range and an --out that is a file are refused before any work")
    func badArguments() throws {
        let folder = try TemporaryDirectory()
        let pipeline = folder.path("tiny.yaml")
        try tinyQuadraticPipeline().write(toFile: pipeline, atomically: true, encoding: .utf8)
        for count in ["0", "20000000"] {
            let result = try runProcess(executable("l2l-train"), [pipeline, "--out", folder.path("run"), "--epochs", count])
            #expect(result.status != 0 && result.standardError.contains("--epochs must be in 1...10000000"))
        }
        let file = folder.path("a-file")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        for command in ["l2l-train", "l2l-eval"] {
            let result = try runProcess(executable(command), [pipeline, "--out", file])
            #expect(result.status == 1, "\(command): \(result.standardError)")
            #expect(result.standardError.contains("must be a folder"), "\(command): \(result.standardError)")
        }
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    }
}
