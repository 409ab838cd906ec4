/// A fixed-size block of `Float`s allocated once and reused: the workspaces of the hot loops,
/// which must not allocate. Accessed through its pointer, so that several buffers can be read
/// and written in one expression without Swift's exclusivity checks on arrays getting in the way.
public final class Buffer: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    public init(count: Int) {
        self.count = count
        // Cache-line aligned: the kernels' streaming stores need whole 64-byte lines.
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { pointer.deallocate() }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    public func fill(_ value: Float) { pointer.update(repeating: value, count: count) }

    public func copy(from other: Buffer) {
        precondition(other.count == count, "copying \(other.count) values into a buffer of \(count)")
        pointer.update(from: other.pointer, count: count)
    }
}
