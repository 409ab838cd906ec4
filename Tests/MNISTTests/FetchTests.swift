import Foundation
import Gzip
import HDF5
import Testing
import TestSupport
@testable import MNIST

@Suite("the fetch stage")
struct FetchTests {
    let folder: TemporaryDirectory
    let fixture = Fixture()
    init() throws { folder = try TemporaryDirectory() }

    var outputFolder: String { folder.path("data") }
    var output: String { folder.path("data/mnist.h5") }

    func fetch(_ mirrors: [Mirror], force: Bool = false, checksums: [MNISTPart: String]? = nil) -> MNISTFetch {
        MNISTFetch(mirrors: mirrors, output: output, force: force, timeout: 5, expectedChecksums: checksums ?? fixture.checksums, toolVersion: "test 1")
    }

    @Test("from a local mirror folder: the layout, the data and the provenance")
    func localMirror() throws {
        let mirror = try fixture.writeMirror(in: folder)
        #expect(try fetch([.directory(mirror)]).run() == .written)

        let file = try File.open(output)
        #expect(try file.openDataset("train/images").shape == [12, 28, 28])
        #expect(try file.openDataset("train/images").read(UInt8.self, rank: 3) == fixture.trainImages.pixels)
        #expect(try file.openDataset("train/labels").read(UInt8.self, rank: 1) == fixture.trainLabels)
        #expect(try file.openDataset("test/images").shape == [4, 28, 28])
        #expect(try file.openDataset("test/labels").read(UInt8.self, rank: 1) == fixture.testLabels)
        #expect(try file.stringAttribute("source") == mirror)
        #expect(try file.stringAttribute("tool_version") == "test 1")
        #expect(try file.stringAttribute("format") == "l2l-mnist")
        for part in MNISTPart.allCases {
            #expect(try file.stringAttribute("sha256 \(part.fileName)") == fixture.checksums[part])
        }
        let created = try file.stringAttribute("created")
        #expect(ISO8601DateFormatter().date(from: created).map { abs($0.timeIntervalSinceNow) < 600 } == true)
        // Only the output is left in its folder: no temporary file.
        #expect(filesIn(outputFolder) == ["mnist.h5"])
    }

    @Test("a temporary file left by a fetch killed with SIGKILL is removed by the next one")
    func staleTemporary() throws {
        let mirror = try fixture.writeMirror(in: folder)
        try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        let dead = try deadProcessID()
        #expect(FileManager.default.createFile(atPath: outputFolder + "/.mnist.h5.partial-\(dead)", contents: Data(count: 4096)))
        #expect(try fetch([.directory(mirror)]).run() == .written)
        #expect(filesIn(outputFolder) == ["mnist.h5"])
    }

    @Test("a second run leaves a valid file alone; --force rewrites it")
    func idempotent() throws {
        let mirror = try fixture.writeMirror(in: folder)
        #expect(try fetch([.directory(mirror)]).run() == .written)
        let before = try FileManager.default.attributesOfItem(atPath: output)[.modificationDate] as? Date
        let inode = try FileManager.default.attributesOfItem(atPath: output)[.systemFileNumber] as? Int
        #expect(try fetch([.directory(mirror)]).run() == .upToDate)
        #expect(try FileManager.default.attributesOfItem(atPath: output)[.modificationDate] as? Date == before)
        #expect(try fetch([.directory(mirror)], force: true).run() == .written)
        #expect(try FileManager.default.attributesOfItem(atPath: output)[.systemFileNumber] as? Int != inode)
        try MNISTStore.verify(output, expectedChecksums: fixture.checksums)
    }

    @Test("a checksum mismatch stops with both hashes and the source, and writes nothing")
    func checksumMismatch() throws {
        let mirror = try fixture.writeMirror(in: folder)
        var checksums = fixture.checksums
        checksums[.testImages] = String(repeating: "0", count: 64)
        let error = #expect(throws: FetchError.self) { try fetch([.directory(mirror)], checksums: checksums).run() }
        let message = error?.description ?? ""
        #expect(message.contains("t10k-images-idx3-ubyte"))
        #expect(message.contains(String(repeating: "0", count: 64)))
        #expect(message.contains(fixture.checksums[.testImages] ?? "?"))
        #expect(message.contains(mirror))
        #expect(filesIn(outputFolder).isEmpty)
    }

    @Test("the pinned checksums reject data that is not the original MNIST")
    func pinnedChecksums() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let run = MNISTFetch(mirrors: [.directory(mirror)], output: output, toolVersion: "test")
        let error = #expect(throws: FetchError.self) { try run.run() }
        guard case let .checksumMismatch(part, _, expected, _)? = error?.kind else {
            Issue.record("expected a checksum mismatch, got \(String(describing: error))")
            return
        }
        #expect(part == .trainImages)
        #expect(expected == ImageDataset.mnist.pinnedSHA256(.trainImages))
        #expect(filesIn(outputFolder).isEmpty)
    }

    /// Runs the fetch on a mirror whose `part` is replaced, expecting `Failure` and no output.
    func expectBadInput<Failure: Error>(
        _: Failure.Type, part: MNISTPart, idx: [UInt8]? = nil, raw: Data? = nil
    ) throws -> Failure? {
        let mirror = try fixture.writeMirror(
            in: folder, overrides: idx.map { [part: $0] } ?? [:], rawOverrides: raw.map { [part: $0] } ?? [:])
        var checksums = fixture.checksums
        if let idx { checksums[part] = MNISTStore.sha256Hex(idx) }
        let error = #expect(throws: Failure.self) { try fetch([.directory(mirror)], checksums: checksums).run() }
        #expect(filesIn(outputFolder).isEmpty, "nothing may be written after \(String(describing: error))")
        #expect("\(String(describing: error))".contains(part.fileName))
        return error
    }

    @Test("a truncated gzip file is an error naming it")
    func truncatedGzip() throws {
        let compressed = try systemGzip(fixture.idx[.trainLabels] ?? [])
        let error = try expectBadInput(GzipError.self, part: .trainLabels, raw: compressed.prefix(compressed.count - 3))
        #expect(error?.kind == .truncated)
    }

    @Test("a corrupt gzip file is an error naming it")
    func corruptGzip() throws {
        var compressed = try systemGzip(fixture.idx[.testImages] ?? [])
        compressed[compressed.count - 7] ^= 0x55
        let error = try expectBadInput(GzipError.self, part: .testImages, raw: compressed)
        #expect(error.map { if case .corrupt = $0.kind { true } else { false } } == true)
    }

    @Test("a wrong IDX magic number is an error naming the file")
    func wrongMagic() throws {
        let error = try expectBadInput(IDXError.self, part: .testLabels, idx: IDX.encode(fixture.testImages))
        #expect(error?.kind == .wrongMagic(expected: IDX.labelsMagic, found: IDX.imagesMagic))
    }

    @Test("an IDX body that does not match its dimensions is an error naming the file")
    func dimensionMismatch() throws {
        let error = try expectBadInput(IDXError.self, part: .trainImages, idx: Array(IDX.encode(fixture.trainImages).dropLast(100)))
        guard case .sizeMismatch? = error?.kind else { Issue.record("got \(String(describing: error))"); return }
    }

    @Test("labels outside 0...9 are an error naming the file")
    func labelOutOfRange() throws {
        var labels = fixture.trainLabels
        labels[4] = 200
        let error = try expectBadInput(MNISTError.self, part: .trainLabels, idx: IDX.encode(labels: labels))
        #expect(error?.kind == .labelOutOfRange(index: 4, value: 200))
    }

    @Test("image and label counts that differ are an error naming both files")
    func countMismatch() throws {
        let error = try expectBadInput(MNISTError.self, part: .testImages, idx: IDX.encode(Fixture(trainCount: 12, testCount: 5).testImages))
        #expect(error?.description.contains("t10k-labels-idx1-ubyte") == true)
    }

    @Test("unreachable mirrors are each reported, then the next mirror is used")
    func mirrorFallback() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let missing = Mirror.directory(folder.path("no-such-folder"))
        let closedPort = Mirror.web(URL(string: "http://127.0.0.1:9/mnist/")!)
        #expect(try fetch([missing, closedPort, .directory(mirror)]).run() == .written)

        try FileManager.default.removeItem(atPath: output)
        let error = #expect(throws: FetchError.self) { try fetch([missing, closedPort]).run() }
        let message = error?.description ?? ""
        #expect(message.contains("train-images-idx3-ubyte.gz"))
        #expect(message.contains(folder.path("no-such-folder/train-images-idx3-ubyte.gz") + ": no such file"))
        #expect(message.contains("http://127.0.0.1:9/mnist/train-images-idx3-ubyte.gz"))
        #expect(filesIn(outputFolder).isEmpty)
    }

    @Test("an output folder that cannot be created is an error naming it")
    func unwritableOutput() throws {
        let mirror = try fixture.writeMirror(in: folder)
        let blocker = folder.path("a-file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let run = MNISTFetch(mirrors: [.directory(mirror)], output: blocker + "/data/mnist.h5", expectedChecksums: fixture.checksums, toolVersion: "t")
        let error = #expect(throws: FetchError.self) { try run.run() }
        #expect(error?.description.contains("cannot write to the output folder '\(blocker)/data'") == true)
    }

    @Test("an existing file that is not valid is refused without --force, replaced with it")
    func existingInvalid() throws {
        let mirror = try fixture.writeMirror(in: folder)
        try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true)
        try Data("not HDF5".utf8).write(to: URL(fileURLWithPath: output))
        let error = #expect(throws: FetchError.self) { try fetch([.directory(mirror)]).run() }
        #expect(error?.description.contains("--force") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data("not HDF5".utf8))
        #expect(try fetch([.directory(mirror)], force: true).run() == .written)
        try MNISTStore.verify(output, expectedChecksums: fixture.checksums)
    }

    @Test("a failed rewrite leaves the previous file untouched and no temporary file behind")
    func atomicWrite() throws {
        let mirror = try fixture.writeMirror(in: folder)
        #expect(try fetch([.directory(mirror)]).run() == .written)
        let original = try Data(contentsOf: URL(fileURLWithPath: output))
        var checksums = fixture.checksums
        checksums[.testLabels] = String(repeating: "f", count: 64)
        #expect(throws: FetchError.self) { try fetch([.directory(mirror)], force: true, checksums: checksums).run() }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == original)
        #expect(filesIn(outputFolder) == ["mnist.h5"])
    }

    @Test("when the final rename fails, the temporary file is removed and the output left as it was")
    func failedRename() throws {
        let mirror = try fixture.writeMirror(in: folder)
        // A non-empty folder at the output path: the data are written, the rename cannot replace it.
        try FileManager.default.createDirectory(atPath: output + "/keep", withIntermediateDirectories: true)
        let error = #expect(throws: (any Error).self) { try fetch([.directory(mirror)], force: true).run() }
        #expect("\(String(describing: error))".contains("renaming"))
        #expect(filesIn(outputFolder) == ["mnist.h5"])
        #expect(filesIn(output) == ["keep"])
    }

    @Test("verify detects data that no longer matches its recorded checksum")
    func verifyDetectsTampering() throws {
        let mirror = try fixture.writeMirror(in: folder)
        #expect(try fetch([.directory(mirror)]).run() == .written)
        do {
            let file = try File.open(output, mode: .readWrite)
            var labels = fixture.testLabels
            labels[0] = (labels[0] + 1) % 10
            try file.openDataset("test/labels").write(labels)
        }
        let error = #expect(throws: MNISTError.self) { try MNISTStore.verify(output, expectedChecksums: fixture.checksums) }
        #expect(error?.description.contains("/test/labels") == true)
        #expect(throws: FetchError.self) { try fetch([.directory(mirror)]).run() }
    }

    @Test("splits need the full database; a small file is refused with the split named")
    func splitsOfSmallFile() throws {
        let mirror = try fixture.writeMirror(in: folder)
        _ = try fetch([.directory(mirror)]).run()
        let error = #expect(throws: MNISTError.self) { try MNIST.load(.train, from: output) }
        #expect(error?.description.contains("train split needs examples 5000..<60000") == true)
        let missing = #expect(throws: MNISTError.self) { try MNIST.load(.test, from: folder.path("none.h5")) }
        #expect(missing?.description.contains("make data") == true)
    }
}
