import Foundation
import HDF5
import MNIST
import Testing
import TestSupport
@testable import Pipeline

/// `optimizee.dataset` and `--data`: each stage reads the data sets its optimizees name from the
/// data folder, refuses a missing or wrong file with the command that makes the right one, and
/// records the checksums of every data set it read.
@Suite("data sets: optimizee.dataset and --data")
struct DatasetTests {
    /// A data file of the full size (the splits need 60,000 training images) with synthetic
    /// pixels: labels `(i + offset) % 10`, so the two data sets of a test differ.
    static func writeDataset(_ dataset: ImageDataset, to path: String, labelOffset: Int) throws {
        func images(_ count: Int) -> IDXImages {
            IDXImages(count: count, rows: 28, columns: 28, pixels: (0..<count * 784).map { UInt8(truncatingIfNeeded: ($0 * 31 + labelOffset) % 251) })
        }
        let archive = try MNISTArchive(
            trainImages: images(60_000), trainLabels: (0..<60_000).map { UInt8(($0 + labelOffset) % 10) },
            testImages: images(10_000), testLabels: (0..<10_000).map { UInt8(($0 + labelOffset) % 10) })
        let checksums = Dictionary(uniqueKeysWithValues: MNISTPart.allCases.map { ($0, MNISTStore.sha256Hex(archive.idxBytes($0))) })
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try MNISTStore.write(archive, provenance: .init(dataset: dataset, sources: [:], checksums: checksums, toolVersion: "test"), to: path)
    }

    /// A tiny MLP pipeline meta-trained on `dataset`, with one evaluation problem on each of
    /// `problems` (named after its data set unless `names` says otherwise).
    static func pipeline(dataset: String, problems: [String], names: [String]? = nil) -> String {
        """
        name: tiny-mlp
        seed: 5
        optimizee: {kind: mnist, hidden: [4], activation: sigmoid, batch_size: 16, dataset: \(dataset)}
        optimizer:
          layers: [4, 4]
          preprocessing: {kind: log_and_sign, k: 10}
          output_scale: 0.1
        training:
          epochs: 2
          steps: 4
          unroll: 2
          meta_learning_rate: 0.001
          loss_weights: uniform
          validation_period: 1
          validation_size: 1
          history_period: 1
        evaluation:
          horizon: 4
          runs: 2
          tuning_runs: 1
          learning_rates: {log10_from: -1, log10_to: 0, log10_step: 1}
          problems:
        \(zip(names ?? problems, problems).map { "    - {name: \($0), kind: mnist, hidden: [4], activation: sigmoid, batch_size: 16, dataset: \($1)}" }.joined(separator: "\n"))
        """
    }

    @Test("--data: a folder holds <dataset>.h5; a .h5 path is MNIST's file with the other data sets beside it")
    func dataFiles() {
        #expect(DataFiles(argument: "data").path(.mnist) == "data/mnist.h5")
        #expect(DataFiles(argument: "data/").path(.fashionMNIST) == "data/fashion-mnist.h5")
        #expect(DataFiles(argument: "/x/y/mine.h5").path(.mnist) == "/x/y/mine.h5")
        #expect(DataFiles(argument: "/x/y/mine.h5").path(.fashionMNIST) == "/x/y/fashion-mnist.h5")
        #expect(DataFiles(argument: "mnist.h5").path(.fashionMNIST) == "./fashion-mnist.h5")
    }

    @Test("meta-training reads its optimizee's data set; a missing or wrong file names the file and the command that writes it")
    func loading() throws {
        let folder = try TemporaryDirectory()
        let data = DataFiles(folder: folder.path("data"))
        let fashion = try PipelineConfiguration(text: Self.pipeline(dataset: "fashion-mnist", problems: ["fashion-mnist"]), path: "p.yaml")

        let missing = #expect(throws: MNISTError.self) { try Experiment.training(fashion, data: data) }
        #expect(missing?.description.contains(folder.path("data/fashion-mnist.h5")) == true)
        #expect(missing?.description.contains("l2l-fetch --dataset fashion-mnist --output \(folder.path("data/fashion-mnist.h5"))") == true, "\(String(describing: missing))")

        // MNIST's file where Fashion-MNIST's belongs.
        try Self.writeDataset(.mnist, to: folder.path("data/fashion-mnist.h5"), labelOffset: 0)
        let wrong = #expect(throws: MNISTError.self) { try Experiment.training(fashion, data: data) }
        #expect(wrong?.description.contains("holds MNIST, expected Fashion-MNIST") == true, "\(String(describing: wrong))")

        try Self.writeDataset(.fashionMNIST, to: folder.path("data/fashion-mnist.h5"), labelOffset: 3)
        let experiment = try Experiment.training(fashion, data: data)
        #expect(experiment.dataPaths.map(\.dataset) == [.fashionMNIST])
        let train = try experiment.data(.train, for: fashion.optimizee)
        // The train split starts at image 5,000, whose label is (5000 + 3) % 10.
        #expect(train.labels.count == 55_000 && train.labels[0] == 3)
        #expect(try experiment.data(.validation, for: fashion.optimizee).labels.count == 5_000)
        // The data of a data set that was not loaded is refused, not silently replaced.
        let mnistProblem = try #require(try PipelineConfiguration(text: Self.pipeline(dataset: "mnist", problems: ["mnist"]), path: "q.yaml").evaluationProblems.first)
        #expect(throws: RunError.self) { try experiment.data(.train, for: mnistProblem.optimizee) }
    }

    @Test("a run on Fashion-MNIST records its checksums; an evaluation on both data sets records both")
    func provenance() throws {
        let folder = try TemporaryDirectory()
        try Self.writeDataset(.fashionMNIST, to: folder.path("data/fashion-mnist.h5"), labelOffset: 3)
        let pipeline = folder.path("tiny.yaml"), out = folder.path("run")
        try Self.pipeline(dataset: "fashion-mnist", problems: ["fashion-mnist", "mnist"]).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let trained = try runProcess(executable("l2l-train"), [pipeline, "--out", out, "--data", folder.path("data")])
        #expect(trained.status == 0, "\(trained.standardError)")
        let train = try File.open(out + "/train.h5")
        #expect(try train.stringAttribute("fashion-mnist") == folder.path("data/fashion-mnist.h5"))
        let recorded = try MNISTStore.recordedChecksums(folder.path("data/fashion-mnist.h5"))
        #expect(try train.stringAttribute("fashion-mnist sha256 train-images-idx3-ubyte") == recorded[.trainImages])
        #expect(!train.hasAttribute("mnist") && !train.hasAttribute("mnist sha256 train-images-idx3-ubyte"))

        // The evaluation also needs MNIST: without its file it stops before writing anything.
        let refused = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--data", folder.path("data")])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains(folder.path("data/mnist.h5")) && refused.standardError.contains("does not exist"), "\(refused.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out + "/eval.h5"))

        try Self.writeDataset(.mnist, to: folder.path("data/mnist.h5"), labelOffset: 0)
        let evaluated = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--data", folder.path("data")])
        #expect(evaluated.status == 0, "\(evaluated.standardError)")
        let eval = try File.open(out + "/eval.h5")
        #expect(try eval.stringAttribute("mnist sha256 t10k-labels-idx1-ubyte") == MNISTStore.recordedChecksums(folder.path("data/mnist.h5"))[.testLabels])
        #expect(try eval.stringAttribute("fashion-mnist sha256 t10k-labels-idx1-ubyte") == recorded[.testLabels])
        // The problem reads its own data set: the same problem (name, so the same draws) on
        // MNIST's file gives other losses.
        let fashionLoss = try eval.openDataset("problems/fashion-mnist/sgd/loss").read(Float.self, rank: 2)
        try Self.pipeline(dataset: "fashion-mnist", problems: ["mnist"], names: ["fashion-mnist"]).write(toFile: pipeline, atomically: true, encoding: .utf8)
        let again = try runProcess(executable("l2l-eval"), [pipeline, "--out", out, "--data", folder.path("data")])
        #expect(again.status == 0, "\(again.standardError)")
        let onMNIST = try File.open(out + "/eval.h5").openDataset("problems/fashion-mnist/sgd/loss").read(Float.self, rank: 2)
        #expect(onMNIST.count == fashionLoss.count && onMNIST != fashionLoss)
    }
}
