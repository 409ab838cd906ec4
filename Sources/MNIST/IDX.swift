/// Why the bytes of an IDX file could not be parsed. `file` names the file they came from.
public struct IDXError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// Fewer bytes than the header needs.
        case truncatedHeader(expected: Int, found: Int)
        /// The first four bytes are not the magic number of the expected kind of IDX file.
        case wrongMagic(expected: UInt32, found: UInt32)
        /// The body is not exactly `count × rows × columns` (or `count`) bytes.
        case sizeMismatch(dimensions: [Int], expectedBytes: Int, foundBytes: Int)
    }

    public let file: String
    public let kind: Kind

    public var description: String {
        switch kind {
        case let .truncatedHeader(expected, found):
            return "IDX file '\(file)' is truncated: its header needs \(expected) bytes, the file has \(found)"
        case let .wrongMagic(expected, found):
            return "IDX file '\(file)' has magic number \(hex(found)), expected \(hex(expected)) (\(IDX.describe(magic: expected)))"
        case let .sizeMismatch(dimensions, expectedBytes, foundBytes):
            let shape = dimensions.map(String.init).joined(separator: "×")
            return "IDX file '\(file)' declares dimensions \(shape), which need \(expectedBytes) bytes of data after the header; it holds \(foundBytes)"
        }
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }
}

/// Images of an IDX file: `count` images of `rows × columns` unsigned bytes, row-major.
public struct IDXImages: Sendable, Equatable {
    public var count: Int
    public var rows: Int
    public var columns: Int
    /// `count × rows × columns` pixel intensities in 0...255.
    public var pixels: [UInt8]

    public init(count: Int, rows: Int, columns: Int, pixels: [UInt8]) {
        self.count = count
        self.rows = rows
        self.columns = columns
        self.pixels = pixels
    }
}

/// The IDX format of the MNIST database (LeCun et al.): a big-endian magic number whose third
/// byte is the element type (0x08: unsigned byte) and fourth the number of dimensions, then one
/// big-endian UInt32 per dimension, then the elements, row-major.
public enum IDX {
    /// Magic number of a file of unsigned-byte images: 3 dimensions (count, rows, columns).
    public static let imagesMagic: UInt32 = 0x0000_0803
    /// Magic number of a file of unsigned-byte labels: 1 dimension (count).
    public static let labelsMagic: UInt32 = 0x0000_0801

    /// Parses an images file; every byte is accounted for (no more, no fewer than declared).
    public static func parseImages(_ bytes: [UInt8], file: String) throws(IDXError) -> IDXImages {
        let dimensions = try header(bytes, file: file, magic: imagesMagic, rank: 3)
        let body = try body(bytes, file: file, dimensions: dimensions)
        return IDXImages(count: dimensions[0], rows: dimensions[1], columns: dimensions[2], pixels: body)
    }

    /// Parses a labels file; every byte is accounted for (no more, no fewer than declared).
    public static func parseLabels(_ bytes: [UInt8], file: String) throws(IDXError) -> [UInt8] {
        let dimensions = try header(bytes, file: file, magic: labelsMagic, rank: 1)
        return try body(bytes, file: file, dimensions: dimensions)
    }

    /// The IDX encoding of `images` (the inverse of `parseImages`).
    public static func encode(_ images: IDXImages) -> [UInt8] {
        encode(magic: imagesMagic, dimensions: [images.count, images.rows, images.columns], body: images.pixels)
    }

    /// The IDX encoding of `labels` (the inverse of `parseLabels`).
    public static func encode(labels: [UInt8]) -> [UInt8] {
        encode(magic: labelsMagic, dimensions: [labels.count], body: labels)
    }

    static func describe(magic: UInt32) -> String {
        switch magic {
        case imagesMagic: return "unsigned-byte images with 3 dimensions"
        case labelsMagic: return "unsigned-byte labels with 1 dimension"
        default: return "unknown"
        }
    }

    // MARK: Implementation

    private static func encode(magic: UInt32, dimensions: [Int], body: [UInt8]) -> [UInt8] {
        var bytes = bigEndianBytes(magic)
        for dimension in dimensions { bytes += bigEndianBytes(UInt32(dimension)) }
        return bytes + body
    }

    private static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    private static func readUInt32(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        bytes[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Checks the magic number and returns the dimensions.
    private static func header(_ bytes: [UInt8], file: String, magic: UInt32, rank: Int) throws(IDXError) -> [Int] {
        guard bytes.count >= 4 else {
            throw IDXError(file: file, kind: .truncatedHeader(expected: 4 + 4 * rank, found: bytes.count))
        }
        let found = readUInt32(bytes, at: 0)
        guard found == magic else { throw IDXError(file: file, kind: .wrongMagic(expected: magic, found: found)) }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw IDXError(file: file, kind: .truncatedHeader(expected: headerSize, found: bytes.count))
        }
        return (0..<rank).map { Int(readUInt32(bytes, at: 4 + 4 * $0)) }
    }

    private static func body(_ bytes: [UInt8], file: String, dimensions: [Int]) throws(IDXError) -> [UInt8] {
        let headerSize = 4 + 4 * dimensions.count
        // Dimensions are UInt32 each, so their product fits Int64 only with overflow checks.
        var expected = 1
        for dimension in dimensions {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            expected = overflow ? Int.max : product
        }
        let found = bytes.count - headerSize
        guard expected == found else {
            throw IDXError(file: file, kind: .sizeMismatch(dimensions: dimensions, expectedBytes: expected, foundBytes: found))
        }
        return Array(bytes[headerSize...])
    }
}
