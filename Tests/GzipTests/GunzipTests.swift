import Foundation
import Testing
@testable import Gzip
import TestSupport

@Suite("gunzip")
struct GunzipTests {
    @Test("a valid stream decompresses to the original bytes", arguments: [0, 1, 1000, 3_000_000])
    func valid(count: Int) throws {
        let original = sampleBytes(count)
        let compressed = try systemGzip(original)
        #expect(try Gunzip.decompress(compressed, source: "sample.gz") == original)
    }

    @Test("feeding one byte at a time gives the same result as one call")
    func byteByByte() throws {
        let original = sampleBytes(5000)
        let compressed = [UInt8](try systemGzip(original))
        let decompressor = try GzipDecompressor(source: "sample.gz")
        var result: [UInt8] = []
        for byte in compressed {
            try [byte].withUnsafeBytes { try decompressor.feed($0) { result.append(contentsOf: $0) } }
        }
        try decompressor.finish()
        #expect(result == original)
    }

    @Test("concatenated members decompress one after the other, as gunzip does")
    func concatenated() throws {
        let first = sampleBytes(100), second = sampleBytes(300)
        let compressed = try systemGzip(first) + systemGzip(second)
        #expect(try Gunzip.decompress(compressed, source: "two.gz") == first + second)
    }

    @Test("a truncated stream is reported as truncated, wherever it is cut")
    func truncated() throws {
        let compressed = try systemGzip(sampleBytes(100_000))
        for length in [1, 10, compressed.count / 2, compressed.count - 4, compressed.count - 1] {
            let error = #expect(throws: GzipError.self) {
                try Gunzip.decompress(compressed.prefix(length), source: "cut.gz")
            }
            #expect(error?.kind == .truncated, "cut at \(length) of \(compressed.count)")
            #expect(error?.description.contains("cut.gz") == true)
        }
        let empty = #expect(throws: GzipError.self) { try Gunzip.decompress(Data(), source: "empty.gz") }
        #expect(empty?.kind == .truncated)
    }

    @Test("corrupt streams are reported as corrupt with zlib's reason")
    func corrupt() throws {
        let compressed = try systemGzip(sampleBytes(100_000))
        // Not gzip at all (an IDX header).
        let notGzip = #expect(throws: GzipError.self) {
            try Gunzip.decompress(Data([0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28]), source: "raw.idx")
        }
        guard case .corrupt = notGzip?.kind else { Issue.record("expected corrupt, got \(String(describing: notGzip))"); return }
        // A flipped byte in the CRC-32 of the trailer.
        var badCRC = compressed
        badCRC[badCRC.count - 6] ^= 0xFF
        let crc = #expect(throws: GzipError.self) { try Gunzip.decompress(badCRC, source: "crc.gz") }
        #expect(crc?.kind == .corrupt(reason: "incorrect data check"))
        // Garbage in the middle of the deflate data.
        var garbled = compressed
        for index in 40..<200 { garbled[index] = 0xFF }
        let garbage = #expect(throws: GzipError.self) { try Gunzip.decompress(garbled, source: "garbled.gz") }
        guard case .corrupt = garbage?.kind else { Issue.record("expected corrupt, got \(String(describing: garbage))"); return }
        #expect(garbage?.description.contains("garbled.gz") == true)
    }

    @Test("a file is decompressed in chunks")
    func file() throws {
        let original = sampleBytes(2_500_000)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("l2l-gunzip-\(UUID().uuidString).gz")
        try systemGzip(original).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        #expect(try Gunzip.decompressFile(atPath: path.path) == original)
    }
}
