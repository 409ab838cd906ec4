import CHDF5

/// A group inside an HDF5 file.
public final class Group: Container {
    init(filePath: String, objectPath: String, id: hid_t) {
        super.init(filePath: filePath, objectPath: objectPath, handle: Handle(id, close: H5Gclose))
    }
}

/// What a name inside a group refers to.
public enum ObjectKind: String, Sendable {
    case group, dataset, other
}

/// An object of an HDF5 file that attributes can be attached to: a file (its root group), a
/// group or a dataset. It owns its HDF5 identifier and closes it when released.
public class Location {
    /// The path of the file this object lives in, as it was opened or created.
    public let filePath: String
    /// The object's path inside its file (`/` for the file itself).
    public let objectPath: String
    let handle: Handle
    var id: hid_t { handle.id }

    init(filePath: String, objectPath: String, handle: Handle) {
        self.filePath = filePath
        self.objectPath = objectPath
        self.handle = handle
    }

    func fail(_ name: String, _ kind: HDF5Error.Kind) -> HDF5Error {
        HDF5Error(file: filePath, object: joinPath(objectPath, name), kind: kind)
    }

    @discardableResult
    func check<Status: BinaryInteger>(_ status: @autoclosure () -> Status, _ operation: String, _ name: String = "") throws(HDF5Error) -> Status {
        try Library.check(status(), operation, file: filePath, object: joinPath(objectPath, name))
    }
}

/// A file or a group: something that holds named groups and datasets.
///
/// Names may be paths (`"phi/latest/lstm1"`); `createGroup` and `createDataset` create the missing
/// intermediate groups.
public class Container: Location {
    /// A link-creation property list that creates missing intermediate groups.
    func intermediateGroupsPropertyList(_ name: String) throws(HDF5Error) -> Handle {
        let list = Handle(try check(H5Pcreate(l2l_H5P_LINK_CREATE()), "H5Pcreate", name), close: H5Pclose)
        try check(H5Pset_create_intermediate_group(list.id, 1), "H5Pset_create_intermediate_group", name)
        return list
    }

    /// Whether `name` exists below this object (every component of a path is checked in turn).
    public func contains(_ name: String) -> Bool {
        var prefix = ""
        for component in name.split(separator: "/") {
            prefix += prefix.isEmpty ? String(component) : "/" + component
            let exists = Library.locked {
                let status = H5Lexists(id, prefix, l2l_H5P_DEFAULT())
                if status < 0 { _ = Library.drainErrorStack() }
                return status > 0
            }
            if !exists { return false }
        }
        return !prefix.isEmpty
    }

    /// The kind of object `name` refers to; throws `notFound` when it does not exist.
    public func kind(of name: String) throws(HDF5Error) -> ObjectKind {
        guard contains(name) else { throw fail(name, .notFound) }
        switch Library.locked({ l2l_object_type(id, name) }) {
        case H5O_TYPE_GROUP: return .group
        case H5O_TYPE_DATASET: return .dataset
        default:
            _ = Library.drainErrorStack()
            return .other
        }
    }

    /// The names of this group's direct children, in HDF5's name order.
    public func children() throws(HDF5Error) -> [String] {
        final class Names { var list: [String] = [] }
        let names = Names()
        let visit: H5L_iterate_t = { _, name, _, clientData in
            guard let name, let clientData else { return -1 }
            Unmanaged<Names>.fromOpaque(clientData).takeUnretainedValue().list.append(String(cString: name))
            return 0
        }
        var index: hsize_t = 0
        let box = Unmanaged.passUnretained(names).toOpaque()
        try check(withExtendedLifetime(names) { H5Literate(id, H5_INDEX_NAME, H5_ITER_INC, &index, visit, box) }, "H5Literate")
        return names.list
    }

    /// Creates a group (and any missing intermediate groups).
    @discardableResult
    public func createGroup(_ name: String) throws(HDF5Error) -> Group {
        if contains(name) { throw fail(name, .invalidArgument("cannot create a group: the name is taken")) }
        let links = try intermediateGroupsPropertyList(name)
        let groupID = try check(H5Gcreate2(id, name, links.id, l2l_H5P_DEFAULT(), l2l_H5P_DEFAULT()), "H5Gcreate2", name)
        return Group(filePath: filePath, objectPath: joinPath(objectPath, name), id: groupID)
    }

    /// Opens an existing group.
    public func openGroup(_ name: String) throws(HDF5Error) -> Group {
        let found = try kind(of: name)
        guard found == .group else { throw fail(name, .wrongKind(expected: "group", found: found.rawValue)) }
        let groupID = try check(H5Gopen2(id, name, l2l_H5P_DEFAULT()), "H5Gopen2", name)
        return Group(filePath: filePath, objectPath: joinPath(objectPath, name), id: groupID)
    }

    /// Opens an existing dataset.
    public func openDataset(_ name: String) throws(HDF5Error) -> Dataset {
        let found = try kind(of: name)
        guard found == .dataset else { throw fail(name, .wrongKind(expected: "dataset", found: found.rawValue)) }
        let datasetID = try check(H5Dopen2(id, name, l2l_H5P_DEFAULT()), "H5Dopen2", name)
        return Dataset(filePath: filePath, objectPath: joinPath(objectPath, name), id: datasetID)
    }

    /// Removes the link `name` (the space it used is reclaimed only when the file is repacked).
    public func remove(_ name: String) throws(HDF5Error) {
        guard contains(name) else { throw fail(name, .notFound) }
        try check(H5Ldelete(id, name, l2l_H5P_DEFAULT()), "H5Ldelete", name)
    }

    /// Creates a dataset of fixed `shape` (any rank; `[]` is a scalar).
    ///
    /// - Parameters:
    ///   - chunks: the chunk shape, same rank as `shape`; required for compression.
    ///   - gzipLevel: 1...9 to compress the chunks with gzip (deflate).
    @discardableResult
    public func createDataset<Element: HDF5Element>(
        _ name: String, of type: Element.Type, shape: [Int], chunks: [Int]? = nil, gzipLevel: Int? = nil
    ) throws(HDF5Error) -> Dataset {
        try makeDataset(name, type: Element.elementType, shape: shape, maxShape: shape, chunks: chunks, gzipLevel: gzipLevel)
    }

    /// Creates a dataset of `shape` and writes `values` (row-major) to it.
    @discardableResult
    public func createDataset<Element: HDF5Element>(
        _ name: String, values: [Element], shape: [Int], chunks: [Int]? = nil, gzipLevel: Int? = nil
    ) throws(HDF5Error) -> Dataset {
        let expected = shape.reduce(1, *)
        guard values.count == expected else { throw fail(name, .countMismatch(expected: expected, found: values.count)) }
        let dataset = try createDataset(name, of: Element.self, shape: shape, chunks: chunks, gzipLevel: gzipLevel)
        try dataset.write(values)
        return dataset
    }

    /// Creates an extendible dataset: shape `[0] + rowShape`, first dimension unlimited, grown
    /// with `Dataset.append(rows:)`. It is chunked by `chunkRows` rows.
    @discardableResult
    public func createExtendibleDataset<Element: HDF5Element>(
        _ name: String, of type: Element.Type, rowShape: [Int] = [], chunkRows: Int = 64, gzipLevel: Int? = nil
    ) throws(HDF5Error) -> Dataset {
        guard chunkRows > 0 else { throw fail(name, .invalidArgument("chunkRows must be positive, got \(chunkRows)")) }
        return try makeDataset(
            name, type: Element.elementType, shape: [0] + rowShape, maxShape: [nil] + rowShape.map { $0 },
            chunks: [chunkRows] + rowShape.map { max($0, 1) }, gzipLevel: gzipLevel)
    }

    private func makeDataset(
        _ name: String, type: ElementType, shape: [Int], maxShape: [Int?], chunks: [Int]?, gzipLevel: Int?
    ) throws(HDF5Error) -> Dataset {
        if contains(name) { throw fail(name, .invalidArgument("cannot create a dataset: the name is taken")) }
        if shape.contains(where: { $0 < 0 }) { throw fail(name, .invalidArgument("negative dimension in shape \(shape)")) }
        if let chunks {
            guard chunks.count == shape.count, chunks.allSatisfy({ $0 > 0 }) else {
                throw fail(name, .invalidArgument("chunk shape \(chunks) does not fit dataset shape \(shape)"))
            }
        }
        if let gzipLevel {
            guard (1...9).contains(gzipLevel) else { throw fail(name, .invalidArgument("gzip level must be in 1...9, got \(gzipLevel)")) }
            guard chunks != nil else { throw fail(name, .invalidArgument("gzip compression needs a chunk shape")) }
        }

        var dims = shape.map { hsize_t($0) }
        var maxDims = maxShape.map { $0.map { hsize_t($0) } ?? l2l_H5S_UNLIMITED() }
        let space = Handle(try check(
            shape.isEmpty ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(dims.count), &dims, &maxDims), "H5Screate_simple", name), close: H5Sclose)

        let properties = Handle(try check(H5Pcreate(l2l_H5P_DATASET_CREATE()), "H5Pcreate", name), close: H5Pclose)
        if var chunkDims = chunks.map({ $0.map { hsize_t($0) } }) {
            try check(H5Pset_chunk(properties.id, Int32(chunkDims.count), &chunkDims), "H5Pset_chunk", name)
        }
        if let gzipLevel {
            try check(H5Pset_deflate(properties.id, UInt32(gzipLevel)), "H5Pset_deflate", name)
        }
        let links = try intermediateGroupsPropertyList(name)
        let datasetID = try check(
            H5Dcreate2(id, name, type.nativeType, space.id, links.id, properties.id, l2l_H5P_DEFAULT()), "H5Dcreate2", name)
        return Dataset(filePath: filePath, objectPath: joinPath(objectPath, name), id: datasetID)
    }
}
