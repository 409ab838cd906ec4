import Foundation
import Testing
@testable import HDF5
import TestSupport

@Suite("HDF5 layer")
struct HDF5Tests {
    let folder: TemporaryDirectory
    init() throws { folder = try TemporaryDirectory() }

    /// Writes `values` of `shape` as a dataset, reopens the file and reads them back.
    func roundTrip<Element: HDF5Element & Equatable>(_ values: [Element], shape: [Int], chunks: [Int]? = nil, gzip: Int? = nil) throws {
        let path = folder.path("roundtrip-\(Element.self)-\(shape.count).h5")
        do {
            let file = try File.create(path)
            try file.createDataset("data/values", values: values, shape: shape, chunks: chunks, gzipLevel: gzip)
        }
        let file = try File.open(path)
        let dataset = try file.openDataset("data/values")
        #expect(try dataset.shape == shape)
        #expect(try dataset.elementType == Element.elementType)
        #expect(try dataset.read(Element.self, rank: shape.count) == values)
    }

    @Test("every element type round-trips at ranks 0 to 3")
    func everyTypeAndRank() throws {
        for shape in [[], [5], [2, 3], [2, 3, 4]] {
            let count = shape.reduce(1, *)
            try roundTrip((0..<count).map { Float($0) * 0.5 - 3 }, shape: shape)
            try roundTrip((0..<count).map { Double($0) * 1e-300 + .pi }, shape: shape)
            try roundTrip((0..<count).map { Int32($0) - 1_000_000_000 }, shape: shape)
            try roundTrip((0..<count).map { Int64($0) * 1_000_000_000_000 - 7 }, shape: shape)
            try roundTrip((0..<count).map { UInt8(truncatingIfNeeded: $0 * 37 + 200) }, shape: shape)
        }
    }

    @Test("special floating-point values survive")
    func specialValues() throws {
        let path = folder.path("special.h5")
        let values: [Float] = [.nan, .infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude]
        try File.create(path).createDataset("x", values: values, shape: [6])
        let read = try File.open(path).openDataset("x").read(Float.self)
        #expect(read.map(\.bitPattern) == values.map(\.bitPattern))
    }

    @Test("a chunked, gzip-compressed dataset round-trips and is smaller than its raw size")
    func chunkedGzip() throws {
        let shape = [100, 28, 28]
        let values = (0..<shape.reduce(1, *)).map { UInt8($0 % 7 == 0 ? 255 : 0) }
        try roundTrip(values, shape: shape, chunks: [10, 28, 28], gzip: 4)
        let size = try FileManager.default.attributesOfItem(atPath: folder.path("roundtrip-UInt8-3.h5"))[.size] as? Int ?? 0
        #expect(size > 0 && size < values.count / 4)
    }

    @Test("append grows an extendible dataset, across close and reopen")
    func appendAcrossReopen() throws {
        let path = folder.path("append.h5")
        do {
            let file = try File.create(path)
            let losses = try file.createExtendibleDataset("trajectory/loss", of: Float.self, rowShape: [3], chunkRows: 2)
            #expect(try losses.shape == [0, 3])
            #expect(try losses.maximumShape == [nil, 3])
            try losses.append(rows: [Float(1), 2, 3])
            try losses.append(rows: [Float(4), 5, 6, 7, 8, 9])
            let steps = try file.createExtendibleDataset("trajectory/step", of: Int64.self)
            try steps.append(rows: [Int64(10), 20])
        }
        do {
            let file = try File.open(path, mode: .readWrite)
            let losses = try file.openDataset("trajectory/loss")
            try losses.append(rows: [Float(10), 11, 12])
            try file.openDataset("trajectory/step").append(rows: [Int64(30)])
        }
        let file = try File.open(path)
        let losses = try file.openDataset("trajectory/loss")
        #expect(try losses.shape == [4, 3])
        #expect(try losses.read(Float.self, rank: 2) == (1...12).map(Float.init))
        #expect(try losses.readRows(1..<3, as: Float.self) == [4, 5, 6, 7, 8, 9])
        #expect(try file.openDataset("trajectory/step").read(Int64.self) == [10, 20, 30])
    }

    @Test("append refuses rows of another element type, partial rows and fixed-size datasets")
    func appendErrors() throws {
        let file = try File.create(folder.path("append-errors.h5"))
        let rows = try file.createExtendibleDataset("rows", of: Float.self, rowShape: [3])
        #expect(throws: HDF5Error.self) { try rows.append(rows: [Float(1), 2]) }
        let wrongType = #expect(throws: HDF5Error.self) { try rows.append(rows: [1.0, 2.0, 3.0]) }
        #expect(wrongType?.kind == .typeMismatch(expected: "Double", found: "Float"))
        #expect(try rows.shape == [0, 3])
        let fixed = try file.createDataset("fixed", values: [Float(1), 2], shape: [2])
        let error = #expect(throws: HDF5Error.self) { try fixed.append(rows: [Float(3)]) }
        #expect(error?.description.contains("unlimited") == true)
        #expect(try fixed.read(Float.self) == [1, 2])
    }

    @Test("attributes of every kind round-trip on the file, a group and a dataset")
    func attributes() throws {
        let path = folder.path("attributes.h5")
        do {
            let file = try File.create(path)
            try file.setAttribute("source", "../shared/mnist — ünïcode")
            try file.setAttribute("seed", Int64(42))
            try file.setAttribute("rate", 0.001)
            let group = try file.createGroup("phi")
            try group.setAttribute("epoch", Int32(7))
            try group.setAttribute("empty", "")
            let dataset = try group.createDataset("w", values: [Float(1)], shape: [1])
            try dataset.setAttribute("gates", [UInt8(1), 2, 3, 4])
            try dataset.setAttribute("scale", Float(0.1))
            try file.setAttribute("seed", Int64(43))  // replaces
        }
        let file = try File.open(path)
        #expect(try file.stringAttribute("source") == "../shared/mnist — ünïcode")
        #expect(try file.attribute("seed", as: Int64.self) == 43)
        #expect(try file.attribute("rate", as: Double.self) == 0.001)
        #expect(try file.attributeNames() == ["rate", "seed", "source"])
        let group = try file.openGroup("phi")
        #expect(try group.attribute("epoch", as: Int32.self) == 7)
        #expect(try group.stringAttribute("empty") == "")
        let dataset = try group.openDataset("w")
        #expect(try dataset.arrayAttribute("gates", as: UInt8.self) == [1, 2, 3, 4])
        #expect(try dataset.attribute("scale", as: Float.self) == 0.1)
        #expect(dataset.hasAttribute("scale"))
        #expect(!dataset.hasAttribute("missing"))
    }

    @Test("reading an attribute as the wrong type or a missing one names the attribute")
    func attributeErrors() throws {
        let path = folder.path("attribute-errors.h5")
        let file = try File.create(path)
        try file.setAttribute("seed", Int64(1))
        try file.setAttribute("name", "x")
        let wrongType = #expect(throws: HDF5Error.self) { try file.attribute("seed", as: Float.self) }
        #expect(wrongType?.kind == .typeMismatch(expected: "Float", found: "Int64"))
        #expect(wrongType?.object == "/@seed")
        let notString = #expect(throws: HDF5Error.self) { try file.stringAttribute("seed") }
        #expect(notString?.kind == .typeMismatch(expected: "String", found: "Int64"))
        let notNumber = #expect(throws: HDF5Error.self) { try file.attribute("name", as: Int64.self) }
        #expect(notNumber?.kind == .typeMismatch(expected: "Int64", found: "strings"))
        let missing = #expect(throws: HDF5Error.self) { try file.stringAttribute("nope") }
        #expect(missing?.kind == .notFound)
        #expect(missing?.file == path)
    }

    @Test("a read of the wrong element type or rank is refused with a clear error")
    func typeAndRankMismatch() throws {
        let path = folder.path("mismatch.h5")
        let file = try File.create(path)
        try file.createDataset("train/images", values: [UInt8](repeating: 1, count: 24), shape: [2, 3, 4])
        let images = try file.openDataset("train/images")
        let wrongType = #expect(throws: HDF5Error.self) { try images.read(Float.self) }
        #expect(wrongType?.kind == .typeMismatch(expected: "Float", found: "UInt8"))
        #expect(wrongType?.description.contains(path) == true)
        #expect(wrongType?.description.contains("/train/images") == true)
        let wrongRank = #expect(throws: HDF5Error.self) { try images.read(UInt8.self, rank: 2) }
        #expect(wrongRank?.kind == .rankMismatch(expected: 2, found: 3))
        let wrongCount = #expect(throws: HDF5Error.self) { try images.write([UInt8](repeating: 0, count: 23)) }
        #expect(wrongCount?.kind == .countMismatch(expected: 24, found: 23))
    }

    @Test("children, kinds and paths")
    func children() throws {
        let file = try File.create(folder.path("children.h5"))
        try file.createGroup("train")
        try file.createGroup("phi/latest/lstm1")
        try file.createDataset("test/labels", values: [UInt8(1)], shape: [1])
        #expect(try file.children() == ["phi", "test", "train"])
        #expect(try file.openGroup("phi").children() == ["latest"])
        #expect(try file.kind(of: "phi/latest") == .group)
        #expect(try file.kind(of: "test/labels") == .dataset)
        #expect(file.contains("phi/latest/lstm1"))
        #expect(!file.contains("phi/best"))
        #expect(!file.contains("nope/deeper"))
        let group = try file.openGroup("phi/latest")
        #expect(group.objectPath == "/phi/latest")
        let missing = #expect(throws: HDF5Error.self) { try file.openDataset("phi/best/w") }
        #expect(missing?.kind == .notFound)
        #expect(missing?.object == "/phi/best/w")
        let wrongKind = #expect(throws: HDF5Error.self) { try file.openDataset("train") }
        #expect(wrongKind?.kind == .wrongKind(expected: "dataset", found: "group"))
        #expect(throws: HDF5Error.self) { try file.createGroup("train") }
        try file.remove("train")
        #expect(try file.children() == ["phi", "test"])
    }

    @Test("library failures carry the file, the object and HDF5's error stack")
    func libraryErrors() throws {
        let missing = folder.path("does-not-exist.h5")
        let error = #expect(throws: HDF5Error.self) { try File.open(missing) }
        #expect(error?.file == missing)
        guard case let .library(operation, stack) = error?.kind else {
            Issue.record("expected a library error, got \(String(describing: error))")
            return
        }
        #expect(operation == "H5Fopen")
        #expect(!stack.isEmpty)

        let notHDF5 = folder.path("not-hdf5.h5")
        try Data("just text".utf8).write(to: URL(fileURLWithPath: notHDF5))
        #expect(!File.isHDF5(notHDF5))
        #expect(throws: HDF5Error.self) { try File.open(notHDF5) }

        let existing = folder.path("existing.h5")
        _ = try File.create(existing)
        #expect(throws: HDF5Error.self) { try File.create(existing, mode: .exclusive) }
    }

    @Test("invalid dataset descriptions are refused before reaching HDF5")
    func invalidArguments() throws {
        let file = try File.create(folder.path("invalid.h5"))
        #expect(throws: HDF5Error.self) { try file.createDataset("a", of: Float.self, shape: [2], gzipLevel: 4) }
        #expect(throws: HDF5Error.self) { try file.createDataset("b", of: Float.self, shape: [2], chunks: [1], gzipLevel: 10) }
        #expect(throws: HDF5Error.self) { try file.createDataset("c", of: Float.self, shape: [2, 2], chunks: [1]) }
        #expect(throws: HDF5Error.self) { try file.createDataset("d", values: [Float(1)], shape: [2]) }
        #expect(try file.children().isEmpty)
    }
}

/// In-memory files and their atomic saves: the file on disk is either the old one or the new one,
/// whatever fails in between, a full disk included.
@Suite("HDF5 in-memory files and durable saves")
struct DurableSaveTests {
    static func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map(Array.init) }

    static func temporaries(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.contains(".partial-") }
    }

    @Test("nothing reaches the disk before save(); save() replaces the file whole; other readers open it meanwhile")
    func saveReplaces() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path("run.h5")
        do {
            let file = try File.create(path)
            try file.createDataset("values", values: [Float](repeating: 1, count: 10), shape: [10])
        }
        let before = Self.bytes(path)
        do {
            let created = try File.createInMemory(path)
            try created.createDataset("other", values: [Int64(7)], shape: [1])
        }
        #expect(Self.bytes(path) == before, "createInMemory changed the file on disk")

        let file = try File.openInMemory(path)
        try file.openDataset("values").write([Float](repeating: 2, count: 10))
        try file.setAttribute("note", "changed")
        #expect(Self.bytes(path) == before, "a write reached the disk before save()")
        // A reader (h5py, h5dump, another stage) may open the file while it is held in memory.
        #expect(try File.open(path).openDataset("values").read(Float.self) == [Float](repeating: 1, count: 10))
        try file.save()
        #expect(try File.open(path).openDataset("values").read(Float.self) == [Float](repeating: 2, count: 10))
        #expect(try File.open(path).stringAttribute("note") == "changed")
        // The file in memory goes on after a save.
        try file.openDataset("values").write([Float](repeating: 3, count: 10))
        try file.save()
        #expect(try File.open(path).openDataset("values").read(Float.self) == [Float](repeating: 3, count: 10))
        #expect(Self.temporaries(in: folder.url.path).isEmpty)
        // The replaced file is not held open (its space would stay taken until the process ends).
        let open = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [])
            .compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
        #expect(!open.contains { $0.hasPrefix(folder.url.path) }, "open: \(open.filter { $0.hasPrefix(folder.url.path) })")
    }

    @Test("a full disk: save() throws ENOSPC naming the file, the old file stays byte for byte, no temporary file remains; after space is freed the same file saves", .enabled(if: SmallDisk.available))
    func fullDisk() throws {
        let disk = try SmallDisk(megabytes: 2)
        let path = disk.path("run.h5")
        let file = try File.createInMemory(path)
        try file.createDataset("small", values: [Float](repeating: 1, count: 100), shape: [100])
        try file.save()
        let before = Self.bytes(path)
        // 1.5 MB that do not fit beside the filler.
        try file.createDataset("large", values: (0..<400_000).map { Float($0) }, shape: [400_000])
        let filler = disk.fill()
        #expect {
            try file.save()
        } throws: { error in
            guard let error = error as? HDF5Error, case let .system(_, number) = error.kind else { return false }
            return number == ENOSPC && error.file == path && error.description.contains("ENOSPC")
        }
        #expect(Self.bytes(path) == before, "the failed save changed the file on disk")
        #expect(Self.temporaries(in: disk.url.path).isEmpty)
        #expect(try File.open(path).openDataset("small").read(Float.self).count == 100)
        disk.free(filler)
        try file.save()
        #expect(try File.open(path).openDataset("large").read(Float.self).last == 399_999)
    }

    @Test("a temporary file whose process is gone is removed at the next start; one of a live process is kept")
    func staleTemporaries() throws {
        let folder = try TemporaryDirectory()
        let path = folder.path("eval.h5")
        let dead = try deadProcessID()
        let stale = folder.path(".eval.h5.partial-\(dead)")
        let live = folder.path(".eval.h5.partial-1")  // init: always running
        for name in [stale, live] { FileManager.default.createFile(atPath: name, contents: Data([1, 2, 3])) }
        #expect(DurableWrite.removeStaleTemporaries(of: path) == [stale])
        #expect(!FileManager.default.fileExists(atPath: stale))
        #expect(FileManager.default.fileExists(atPath: live))
    }
}
