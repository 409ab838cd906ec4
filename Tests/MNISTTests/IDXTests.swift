import Testing
@testable import MNIST

@Suite("IDX parsing")
struct IDXTests {
    let fixture = Fixture(trainCount: 3, testCount: 2)

    @Test("images and labels round-trip through their encoding")
    func roundTrip() throws {
        let bytes = IDX.encode(fixture.trainImages)
        #expect(bytes.count == 16 + 3 * 784)
        #expect(Array(bytes[0..<16]) == [0, 0, 8, 3, 0, 0, 0, 3, 0, 0, 0, 28, 0, 0, 0, 28])
        #expect(try IDX.parseImages(bytes, file: "f") == fixture.trainImages)
        let labels = IDX.encode(labels: fixture.trainLabels)
        #expect(Array(labels[0..<8]) == [0, 0, 8, 1, 0, 0, 0, 3])
        #expect(try IDX.parseLabels(labels, file: "f") == fixture.trainLabels)
    }

    @Test("big-endian dimensions above 255 are read correctly")
    func bigEndian() throws {
        let labels = [UInt8](repeating: 7, count: 0x0102)
        let bytes: [UInt8] = [0, 0, 8, 1, 0, 0, 1, 2] + labels
        #expect(try IDX.parseLabels(bytes, file: "f").count == 258)
    }

    @Test("a wrong magic number is named, with the expected one")
    func wrongMagic() throws {
        let labels = IDX.encode(labels: fixture.trainLabels)
        let error = #expect(throws: IDXError.self) { try IDX.parseImages(labels, file: "train-images-idx3-ubyte") }
        #expect(error?.kind == .wrongMagic(expected: 0x803, found: 0x801))
        #expect(error?.description == "IDX file 'train-images-idx3-ubyte' has magic number 0x00000801, expected 0x00000803 (unsigned-byte images with 3 dimensions)")
        var gzipped = labels
        gzipped[0] = 0x1F
        gzipped[1] = 0x8B
        #expect(throws: IDXError.self) { try IDX.parseLabels(gzipped, file: "x") }
    }

    @Test("a header cut short is reported as truncated", arguments: [0, 3, 4, 15])
    func truncatedHeader(length: Int) throws {
        let bytes = Array(IDX.encode(fixture.trainImages).prefix(length))
        let error = #expect(throws: IDXError.self) { try IDX.parseImages(bytes, file: "f") }
        #expect(error?.kind == .truncatedHeader(expected: 16, found: length))
    }

    @Test("a body of the wrong size is refused: cut short or with extra bytes")
    func sizeMismatch() throws {
        let bytes = IDX.encode(fixture.trainImages)
        let short = #expect(throws: IDXError.self) { try IDX.parseImages(Array(bytes.dropLast()), file: "f") }
        #expect(short?.kind == .sizeMismatch(dimensions: [3, 28, 28], expectedBytes: 2352, foundBytes: 2351))
        let long = #expect(throws: IDXError.self) { try IDX.parseImages(bytes + [0], file: "f") }
        #expect(long?.kind == .sizeMismatch(dimensions: [3, 28, 28], expectedBytes: 2352, foundBytes: 2353))
        // Dimensions whose product overflows are a mismatch, not a crash.
        let huge: [UInt8] = [0, 0, 8, 3, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1]
        #expect(throws: IDXError.self) { try IDX.parseImages(huge, file: "f") }
    }
}

@Suite("MNIST archive checks")
struct MNISTArchiveTests {
    let fixture = Fixture(trainCount: 5, testCount: 3)

    func archive(_ change: (inout Fixture) -> Void) throws -> MNISTArchive {
        var copy = fixture
        change(&copy)
        return try MNISTArchive(trainImages: copy.trainImages, trainLabels: copy.trainLabels, testImages: copy.testImages, testLabels: copy.testLabels)
    }

    @Test("labels outside 0...9 are refused, naming the index and value")
    func labelOutOfRange() throws {
        let error = #expect(throws: MNISTError.self) { try archive { $0.testLabels[2] = 10 } }
        #expect(error?.kind == .labelOutOfRange(index: 2, value: 10))
        #expect(error?.file == "t10k-labels-idx1-ubyte")
    }

    @Test("image and label counts that differ are refused")
    func countMismatch() throws {
        let error = #expect(throws: MNISTError.self) { try archive { $0.trainLabels.removeLast() } }
        #expect(error?.kind == .countMismatch(images: 5, labels: 4, labelsFile: "train-labels-idx1-ubyte"))
    }

    @Test("images that are not 28 × 28 are refused")
    func wrongImageSize() throws {
        let error = #expect(throws: MNISTError.self) {
            try archive { $0.testImages = IDXImages(count: 3, rows: 28, columns: 27, pixels: [UInt8](repeating: 0, count: 3 * 28 * 27)) }
        }
        #expect(error?.kind == .wrongImageSize(rows: 28, columns: 27))
    }

    @Test("a valid archive passes")
    func valid() throws {
        #expect(try archive { _ in }.trainImages.count == 5)
    }
}
