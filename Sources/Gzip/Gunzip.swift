import CZlib
import Foundation

/// Why a gzip stream could not be decompressed. `source` names the file or URL it came from.
public struct GzipError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The bytes are not a valid gzip stream (bad header, bad block, CRC or length mismatch).
        case corrupt(reason: String)
        /// The stream ended before its gzip trailer: the file was cut short.
        case truncated
        /// zlib itself failed (out of memory, or a version mismatch).
        case zlib(code: Int32, reason: String)
    }

    public let source: String
    public let kind: Kind
    /// How many compressed bytes had been read when the problem was found.
    public let compressedOffset: Int

    public var description: String {
        switch kind {
        case let .corrupt(reason):
            return "corrupt gzip stream in '\(source)' at compressed byte \(compressedOffset): \(reason)"
        case .truncated:
            return "truncated gzip stream in '\(source)': it ends after \(compressedOffset) compressed bytes, before the gzip trailer (expected a complete .gz file)"
        case let .zlib(code, reason):
            return "zlib failed on '\(source)' (code \(code)): \(reason)"
        }
    }
}

/// A streaming gzip (RFC 1952) decompressor over zlib: feed compressed chunks as they arrive,
/// receive decompressed chunks, then `finish()` to confirm the stream was complete.
///
/// Concatenated gzip members (what `cat a.gz b.gz` makes) are decompressed one after the other,
/// as `gunzip` does.
public final class GzipDecompressor {
    public let source: String
    private let stream: UnsafeMutablePointer<z_stream>
    private var output = [UInt8](repeating: 0, count: 1 << 18)
    /// Whether the last member's trailer has been read and no byte followed it yet.
    private var atMemberEnd = false
    private var sawInput = false

    /// - Parameter source: the file name or URL the stream comes from, for error messages.
    public init(source: String) throws(GzipError) {
        self.source = source
        // zlib keeps a pointer back to the z_stream, so it must live at a fixed address.
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let status = l2l_inflateInit2(stream, 16 + l2l_MAX_WBITS())
        if status != Z_OK {
            let reason = stream.pointee.msg.map { String(cString: $0) } ?? "inflateInit2 failed"
            stream.deinitialize(count: 1)
            stream.deallocate()
            throw GzipError(source: source, kind: .zlib(code: status, reason: reason), compressedOffset: 0)
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Decompresses `chunk`, handing every decompressed piece to `sink` in order.
    public func feed(_ chunk: UnsafeRawBufferPointer, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let base = chunk.baseAddress, chunk.count > 0 else { return }
        sawInput = true
        stream.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(chunk.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while stream.pointee.avail_in > 0 {
            if atMemberEnd {
                // More bytes after a complete member: the next member of a concatenated stream.
                inflateReset(stream)
                atMemberEnd = false
            }
            let (status, produced) = output.withUnsafeMutableBytes { buffer in
                stream.pointee.next_out = buffer.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(buffer.count)
                let status = inflate(stream, Z_NO_FLUSH)
                return (status, buffer.count - Int(stream.pointee.avail_out))
            }
            if produced > 0 {
                try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[..<produced])) }
            }
            switch status {
            case Z_OK:
                continue
            case Z_STREAM_END:
                atMemberEnd = true
            case Z_BUF_ERROR:
                // No progress possible: zlib needs more input than this chunk holds.
                if produced == 0 { return }
            case Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR:
                throw error(.corrupt(reason: zlibMessage(default: "invalid gzip data")))
            default:
                throw error(.zlib(code: status, reason: zlibMessage(default: "inflate failed")))
            }
        }
    }

    /// Confirms the stream ended with a complete gzip trailer; throws `truncated` otherwise.
    public func finish() throws(GzipError) {
        guard sawInput, atMemberEnd else { throw error(.truncated) }
    }

    private func zlibMessage(default fallback: String) -> String {
        stream.pointee.msg.map { String(cString: $0) } ?? fallback
    }

    private func error(_ kind: GzipError.Kind) -> GzipError {
        GzipError(source: source, kind: kind, compressedOffset: Int(stream.pointee.total_in))
    }
}

/// One-call gunzip of bytes in memory or of a file read in chunks.
public enum Gunzip {
    /// Decompresses a complete gzip stream held in memory.
    public static func decompress(_ compressed: Data, source: String) throws -> [UInt8] {
        let decompressor = try GzipDecompressor(source: source)
        var result: [UInt8] = []
        try compressed.withUnsafeBytes { chunk in
            try decompressor.feed(chunk) { result.append(contentsOf: $0) }
        }
        try decompressor.finish()
        return result
    }

    /// Decompresses the gzip file at `path`, reading it 1 MiB at a time.
    public static func decompressFile(atPath path: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        let decompressor = try GzipDecompressor(source: path)
        var result: [UInt8] = []
        while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            try chunk.withUnsafeBytes { bytes in
                try decompressor.feed(bytes) { result.append(contentsOf: $0) }
            }
        }
        try decompressor.finish()
        return result
    }
}
