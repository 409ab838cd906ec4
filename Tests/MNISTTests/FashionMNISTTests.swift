import Foundation
import Gzip
import HDF5
import Testing
import TestSupport
@testable import MNIST

/// Fashion-MNIST: the same fetch, layout and checks as MNIST under its own checksums, and a stored
/// file that says which data set it holds.
@Suite("Fashion-MNIST")
struct FashionMNISTTests {
    let folder: TemporaryDirectory
    let fixture = Fixture()
    init() throws { folder = try TemporaryDirectory() }

    var output: String { folder.path("data/fashion-mnist.h5") }

    @Test("the stored file records its data set and the data set's label meaning")
    func recordsDataset() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let fetch = MNISTFetch(dataset: .fashionMNIST, mirrors: [.directory(mirror)], output: output, expectedChecksums: fixture.checksums, toolVersion: "t")
        #expect(try fetch.run() == .written)
        let file = try File.open(output)
        #expect(try file.stringAttribute("dataset") == "fashion-mnist")
        #expect(try file.openDataset("train/labels").stringAttribute("description").contains("ankle boot"))
        #expect(try MNISTStore.recordedDataset(output) == .fashionMNIST)
        try MNISTStore.verify(output, dataset: .fashionMNIST, expectedChecksums: fixture.checksums)
    }

    @Test("a stage that expects one data set refuses a file of the other, naming both")
    func wrongDataset() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let mnist = folder.path("data/mnist.h5")
        _ = try MNISTFetch(mirrors: [.directory(mirror)], output: mnist, expectedChecksums: fixture.checksums, toolVersion: "t").run()
        let error = #expect(throws: MNISTError.self) { try MNISTStore.read(mnist, dataset: .fashionMNIST) }
        let message = error?.description ?? ""
        #expect(message.contains(mnist))
        #expect(message.contains("/@dataset"))
        #expect(message.contains("holds MNIST, expected Fashion-MNIST"))
        #expect(message.contains("l2l-fetch --dataset fashion-mnist"))
        // And the fetch does not accept it as an up-to-date Fashion-MNIST file.
        let fetch = MNISTFetch(dataset: .fashionMNIST, mirrors: [.directory(mirror)], output: mnist, expectedChecksums: fixture.checksums, toolVersion: "t")
        #expect(throws: FetchError.self) { try fetch.run() }
    }

    @Test("a file written before the dataset attribute holds MNIST; an unknown name is refused")
    func datasetAttribute() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let path = folder.path("old.h5")
        _ = try MNISTFetch(mirrors: [.directory(mirror)], output: path, expectedChecksums: fixture.checksums, toolVersion: "t").run()
        do {
            let file = try File.open(path, mode: .readWrite)
            try file.removeAttribute("dataset")
        }
        #expect(try MNISTStore.recordedDataset(path) == .mnist)
        _ = try MNISTStore.read(path)
        do {
            let file = try File.open(path, mode: .readWrite)
            try file.setAttribute("dataset", "cifar-10")
        }
        let error = #expect(throws: MNISTError.self) { try MNISTStore.read(path) }
        #expect(error?.description.contains("unknown data set 'cifar-10'; expected one of mnist, fashion-mnist") == true)
    }

    @Test("Fashion-MNIST's pinned checksums reject MNIST-format files that are not Fashion-MNIST")
    func pinnedChecksums() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let fetch = MNISTFetch(dataset: .fashionMNIST, mirrors: [.directory(mirror)], output: output, toolVersion: "t")
        let error = #expect(throws: FetchError.self) { try fetch.run() }
        #expect(error?.description.contains("Fashion-MNIST's train-images-idx3-ubyte") == true)
        #expect(error?.description.contains(ImageDataset.fashionMNIST.pinnedSHA256(.trainImages)) == true)
        #expect(filesIn(folder.path("data")).isEmpty)
    }
}

/// The real Fashion-MNIST, from Debian's `dataset-fashion-mnist` (installed by `make deps`).
@Suite("Fashion-MNIST from Debian's package", .enabled(if: debianFashionMNIST != nil, "needs Debian's dataset-fashion-mnist"))
struct DebianFashionMNISTTests {
    let folder: TemporaryDirectory
    init() throws { folder = try TemporaryDirectory() }

    /// A copy of Debian's folder in which `part` is replaced by `data` (compressed bytes).
    func mirror(replacing part: MNISTPart, with data: Data) throws -> String {
        let mirror = folder.path("mirror")
        try FileManager.default.createDirectory(atPath: mirror, withIntermediateDirectories: true)
        for other in MNISTPart.allCases where other != part {
            try FileManager.default.copyItem(atPath: (debianFashionMNIST ?? "") + "/" + other.compressedFileName, toPath: mirror + "/" + other.compressedFileName)
        }
        try data.write(to: URL(fileURLWithPath: mirror + "/" + part.compressedFileName))
        return mirror
    }

    @Test("the default mirror gives the real data set: pinned checksums, balanced classes, the MNIST splits")
    func fetchAndSplit() throws {
        let output = folder.path("fashion-mnist.h5")
        #expect(try MNISTFetch(dataset: .fashionMNIST, output: output, toolVersion: "t").run() == .written)
        #expect(try MNISTStore.recordedChecksums(output) == ImageDataset.fashionMNIST.pinnedChecksums)
        #expect(try MNISTStore.recordedDataset(output) == .fashionMNIST)
        let archive = try MNISTStore.verify(output, dataset: .fashionMNIST)
        #expect((archive.trainImages.count, archive.testImages.count) == (60_000, 10_000))
        // Fashion-MNIST has 6,000 training and 1,000 test images of each class.
        for label in UInt8(0)...9 {
            #expect(archive.trainLabels.filter { $0 == label }.count == 6_000)
            #expect(archive.testLabels.filter { $0 == label }.count == 1_000)
        }
        let validation = try MNIST.load(.validation, from: archive, path: output)
        #expect(validation.count == 5_000)
    }

    @Test("a wrong file in the folder stops the fetch with both checksums and the file named; nothing is written")
    func wrongFile() throws {
        // Another labels file of the right length: every label shifted by one class.
        let labels = try Gunzip.decompressFile(atPath: (debianFashionMNIST ?? "") + "/train-labels-idx1-ubyte.gz")
        let shifted = labels.enumerated().map { $0.offset < 8 ? $0.element : ($0.element + 1) % 10 }
        let mirror = try mirror(replacing: .trainLabels, with: try systemGzip(shifted))
        let output = folder.path("data/fashion-mnist.h5")
        let error = #expect(throws: FetchError.self) {
            try MNISTFetch(dataset: .fashionMNIST, mirrors: [.directory(mirror)], output: output, toolVersion: "t").run()
        }
        let message = error?.description ?? ""
        #expect(message.contains("Fashion-MNIST's train-labels-idx1-ubyte from \(mirror)/train-labels-idx1-ubyte.gz"))
        #expect(message.contains(ImageDataset.fashionMNIST.pinnedSHA256(.trainLabels)))
        #expect(message.contains(MNISTStore.sha256Hex(shifted)))
        #expect(filesIn(folder.path("data")).isEmpty)
    }

    @Test("a truncated .gz in the folder is an error naming it; nothing is written")
    func truncatedFile() throws {
        let compressed = try Data(contentsOf: URL(fileURLWithPath: (debianFashionMNIST ?? "") + "/t10k-labels-idx1-ubyte.gz"))
        let mirror = try mirror(replacing: .testLabels, with: compressed.prefix(compressed.count / 2))
        let output = folder.path("data/fashion-mnist.h5")
        let error = #expect(throws: GzipError.self) {
            try MNISTFetch(dataset: .fashionMNIST, mirrors: [.directory(mirror)], output: output, toolVersion: "t").run()
        }
        #expect(error?.description.contains("t10k-labels-idx1-ubyte.gz") == true)
        #expect(filesIn(folder.path("data")).isEmpty)
    }
}
