import Foundation
import HDF5
import Testing
import TestSupport
@testable import Pipeline

/// `l2l-eval --split validation`: recipes are chosen on draws of their own, and the test split's
/// file stays what it was.
@Suite("evaluation splits")
struct EvaluationSplitTests {
    @Test("--split validation writes eval-validation.h5 from draws independent of the test ones; eval.h5 is unchanged by it")
    func validationSplit() throws {
        let (folder, pipeline, out) = try trainedRun(tinyQuadraticPipeline(epochs: 4))
        defer { withExtendedLifetime(folder) {} }
        let test = try runProcess(executable("l2l-eval"), [pipeline, "--out", out])
        #expect(test.status == 0, "\(test.standardError)")
        let before = try everything(in: out + "/eval.h5")
        let validation = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--split", "validation"])
        #expect(validation.status == 0, "\(validation.standardError)")
        #expect(validation.standardError.contains("eval-validation.h5"))
        #expect(try everything(in: out + "/eval.h5") == before)

        let testFile = try File.open(out + "/eval.h5"), validationFile = try File.open(out + "/eval-validation.h5")
        #expect(try testFile.stringAttribute("split") == "test")
        #expect(try validationFile.stringAttribute("split") == "validation")
        // Other instances and θ₀: the first loss of every run differs between the splits.
        let first = { (file: File) throws -> [Float] in
            let losses = try file.openDataset("problems/quadratic/adam/loss").read(Float.self)
            return (0..<4).map { losses[$0 * 21] }
        }
        let testStarts = try first(testFile), validationStarts = try first(validationFile)
        #expect(zip(testStarts, validationStarts).allSatisfy { $0 != $1 }, "\(testStarts) \(validationStarts)")
        #expect(EvaluationSplit.validation.mnistSplit == .validation && EvaluationSplit.test.mnistSplit == .test)

        let bad = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--split", "train"])
        #expect(bad.status != 0 && bad.standardError.contains("--split"), "\(bad.standardError)")
    }

    @Test("every evaluation of a run is one of its files: set-aside moves train.h5, history.h5 and every eval*.h5 (of any split or --phi), and nothing else")
    func evaluationFilesBelongToTheRun() throws {
        let folder = try TemporaryDirectory()
        defer { withExtendedLifetime(folder) {} }
        let run = RunFolder(path: folder.path("run"))
        try run.prepare(create: true)
        let files = ["train.h5", "history.h5", "eval.h5", "eval-validation.h5", "eval-validation-phi-average-4-8.h5"]
        for name in files + ["notes.txt"] { try Data("x".utf8).write(to: URL(fileURLWithPath: run.file(name))) }
        #expect(Set(run.runFiles).isSuperset(of: files) && !run.runFiles.contains("notes.txt"))

        let aside = try run.setAside(label: "test", reason: "a test", pipelineText: "name: t\n")
        for name in files {
            #expect(FileManager.default.fileExists(atPath: aside + "/" + name) && !FileManager.default.fileExists(atPath: run.file(name)), "\(name)")
        }
        #expect(FileManager.default.fileExists(atPath: run.file("notes.txt")))
    }
}
