import CHDF5

/// A dataset: an n-dimensional array of one element type, stored row-major.
///
/// Reads are typed: asking for elements of another type than the stored one, or for another
/// rank, is refused with `HDF5Error.Kind.typeMismatch` / `.rankMismatch`, never converted.
public final class Dataset: Location {
    init(filePath: String, objectPath: String, id: hid_t) {
        super.init(filePath: filePath, objectPath: objectPath, handle: Handle(id, close: H5Dclose))
    }

    /// The current extent of every dimension (`[]` for a scalar).
    public var shape: [Int] {
        get throws(HDF5Error) { try extents().current }
    }

    /// The largest extent of every dimension; `nil` where it is unlimited.
    public var maximumShape: [Int?] {
        get throws(HDF5Error) { try extents().maximum }
    }

    /// The number of elements.
    public var count: Int {
        get throws(HDF5Error) { try shape.reduce(1, *) }
    }

    /// The stored element type; throws `typeMismatch` for types the layer does not support.
    public var elementType: ElementType {
        get throws(HDF5Error) {
            let type = Handle(try check(H5Dget_type(id), "H5Dget_type"), close: H5Tclose)
            switch ElementType.classify(type.id) {
            case let .success(elementType): return elementType
            case let .failure(described):
                throw fail("", .typeMismatch(expected: ElementType.allCases.map(\.rawValue).joined(separator: ", "), found: described.text))
            }
        }
    }

    /// Reads every element, row-major.
    ///
    /// - Parameter rank: when given, the rank the caller expects; a different one is an error.
    public func read<Element: HDF5Element>(_ type: Element.Type, rank: Int? = nil) throws(HDF5Error) -> [Element] {
        try requireElementType(Element.self)
        let shape = try self.shape
        if let rank, rank != shape.count { throw fail("", .rankMismatch(expected: rank, found: shape.count)) }
        var values = [Element](repeating: .zero, count: shape.reduce(1, *))
        if values.isEmpty { return values }
        try check(values.withUnsafeMutableBytes { buffer in H5Dread(id, Element.elementType.nativeType, l2l_H5S_ALL(), l2l_H5S_ALL(), l2l_H5P_DEFAULT(), buffer.baseAddress) }, "H5Dread")
        return values
    }

    /// Reads the rows `rows` of the first dimension (each row is every element below it).
    public func readRows<Element: HDF5Element>(_ rows: Range<Int>, as type: Element.Type) throws(HDF5Error) -> [Element] {
        try requireElementType(Element.self)
        let shape = try self.shape
        guard let rowCount = shape.first else { throw fail("", .rankMismatch(expected: 1, found: 0)) }
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw fail("", .invalidArgument("rows \(rows) are outside the dataset's \(rowCount) rows"))
        }
        let rowShape = Array(shape.dropFirst())
        var values = [Element](repeating: .zero, count: rows.count * rowShape.reduce(1, *))
        if values.isEmpty { return values }
        let (fileSpace, memorySpace) = try selectRows(start: rows.lowerBound, count: rows.count, rowShape: rowShape)
        try check(values.withUnsafeMutableBytes { buffer in H5Dread(id, Element.elementType.nativeType, memorySpace.id, fileSpace.id, l2l_H5P_DEFAULT(), buffer.baseAddress) }, "H5Dread")
        return values
    }

    /// Overwrites every element with `values` (row-major; the count must match the shape).
    public func write<Element: HDF5Element>(_ values: [Element]) throws(HDF5Error) {
        try requireElementType(Element.self)
        let expected = try count
        guard values.count == expected else { throw fail("", .countMismatch(expected: expected, found: values.count)) }
        if values.isEmpty { return }
        try check(values.withUnsafeBytes { buffer in H5Dwrite(id, Element.elementType.nativeType, l2l_H5S_ALL(), l2l_H5S_ALL(), l2l_H5P_DEFAULT(), buffer.baseAddress) }, "H5Dwrite")
    }

    /// Appends rows to a dataset created with `createExtendibleDataset`: the first dimension grows
    /// by `values.count / rowSize` and the new rows are written at its end.
    ///
    /// - Parameter values: whole rows, row-major; the count must be a multiple of the row size.
    public func append<Element: HDF5Element>(rows values: [Element]) throws(HDF5Error) {
        try requireElementType(Element.self)
        let (shape, maximum) = try extents()
        guard let rowCount = shape.first, maximum.first == .some(nil) else {
            throw fail("", .invalidArgument("append needs a first dimension of unlimited size; this dataset's maximum shape is \(maximum.map { $0.map(String.init) ?? "unlimited" })"))
        }
        let rowShape = Array(shape.dropFirst())
        let rowSize = rowShape.reduce(1, *)
        guard rowSize > 0, values.count % rowSize == 0 else {
            throw fail("", .countMismatch(expected: rowSize, found: values.count))
        }
        let newRows = values.count / rowSize
        if newRows == 0 { return }
        var newExtent = ([rowCount + newRows] + rowShape).map { hsize_t($0) }
        try check(H5Dset_extent(id, &newExtent), "H5Dset_extent")
        let (fileSpace, memorySpace) = try selectRows(start: rowCount, count: newRows, rowShape: rowShape)
        try check(values.withUnsafeBytes { buffer in H5Dwrite(id, Element.elementType.nativeType, memorySpace.id, fileSpace.id, l2l_H5P_DEFAULT(), buffer.baseAddress) }, "H5Dwrite")
    }

    /// Shrinks (or grows) the first dimension of an extendible dataset to `rows` rows: a resumed
    /// run drops the rows written after its checkpoint.
    public func resize(rows: Int) throws(HDF5Error) {
        let (shape, maximum) = try extents()
        guard !shape.isEmpty, maximum.first == .some(nil), rows >= 0 else {
            throw fail("", .invalidArgument("resize needs a first dimension of unlimited size and a non-negative row count"))
        }
        var extent = ([rows] + shape.dropFirst()).map { hsize_t($0) }
        try check(H5Dset_extent(id, &extent), "H5Dset_extent")
    }

    // MARK: Implementation

    private func requireElementType<Element: HDF5Element>(_: Element.Type) throws(HDF5Error) {
        let stored = try elementType
        guard stored == Element.elementType else {
            throw fail("", .typeMismatch(expected: Element.elementType.rawValue, found: stored.rawValue))
        }
    }

    private func extents() throws(HDF5Error) -> (current: [Int], maximum: [Int?]) {
        let space = Handle(try check(H5Dget_space(id), "H5Dget_space"), close: H5Sclose)
        let rank = Int(try check(H5Sget_simple_extent_ndims(space.id), "H5Sget_simple_extent_ndims"))
        var current = [hsize_t](repeating: 0, count: rank)
        var maximum = [hsize_t](repeating: 0, count: rank)
        try check(H5Sget_simple_extent_dims(space.id, &current, &maximum), "H5Sget_simple_extent_dims")
        return (current.map { Int($0) }, maximum.map { $0 == l2l_H5S_UNLIMITED() ? nil : Int($0) })
    }

    /// The file dataspace with rows `start..<start+count` selected, and a matching memory space.
    private func selectRows(start: Int, count: Int, rowShape: [Int]) throws(HDF5Error) -> (file: Handle, memory: Handle) {
        let fileSpace = Handle(try check(H5Dget_space(id), "H5Dget_space"), close: H5Sclose)
        var offset = ([start] + rowShape.map { _ in 0 }).map { hsize_t($0) }
        var extent = ([count] + rowShape).map { hsize_t($0) }
        try check(H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, &offset, nil, &extent, nil), "H5Sselect_hyperslab")
        let memorySpace = Handle(try check(H5Screate_simple(Int32(extent.count), &extent, nil), "H5Screate_simple"), close: H5Sclose)
        return (fileSpace, memorySpace)
    }
}
