import Foundation
import HDF5
import Testing
import TestSupport
@testable import MNIST

/// The real database, from the shared offline mirror beside the checkout (skipped elsewhere).
@Suite("MNIST from the shared mirror", .enabled(if: sharedMNISTMirror != nil, "needs ../shared/mnist"))
struct SharedMirrorTests {
    @Test("the fetch stage stores the real database with the pinned label counts and the paper's splits")
    func fetchAndSplit() throws {
        let folder = try TemporaryDirectory()
        let output = folder.path("mnist.h5")
        let fetch = MNISTFetch(mirrors: [Mirror(parsing: sharedMNISTMirror ?? "")], output: output, toolVersion: "test")
        #expect(try fetch.run() == .written)

        let file = try File.open(output)
        let trainLabels = try file.openDataset("train/labels").read(UInt8.self, rank: 1)
        let testLabels = try file.openDataset("test/labels").read(UInt8.self, rank: 1)
        #expect(Array(trainLabels.prefix(10)) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
        #expect(trainLabels.filter { $0 == 0 }.count == 5923)
        #expect(testLabels.filter { $0 == 1 }.count == 1135)
        #expect(try file.openDataset("train/images").shape == [60000, 28, 28])
        #expect(try file.openDataset("test/images").shape == [10000, 28, 28])
        #expect(try file.stringAttribute("dataset") == "mnist")
        #expect(try file.openDataset("train/labels").stringAttribute("description") == "digit labels 0...9, one per image")
        #expect(try MNISTStore.recordedChecksums(output) == ImageDataset.mnist.pinnedChecksums)

        let train = try MNIST.load(.train, from: output)
        let validation = try MNIST.load(.validation, from: output)
        let test = try MNIST.load(.test, from: output)
        #expect((train.count, validation.count, test.count) == (55_000, 5_000, 10_000))
        #expect(train.images.count == 55_000 * 784)
        #expect(Array(validation.labels.prefix(4)) == [5, 0, 4, 1])
        #expect(train.labels[0] == trainLabels[5_000])
        #expect(train.images.min() == 0 && train.images.max() == 1)
        // Pixel 0 of image 5,000 of the training file, scaled.
        let raw = try file.openDataset("train/images").readRows(5_000..<5_001, as: UInt8.self)
        #expect(train.images[0..<784].elementsEqual(raw.map { Float($0) / 255 }))
    }
}
