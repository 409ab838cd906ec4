import CHDF5

/// Attributes: small named values attached to a file, group or dataset. Strings are stored as
/// variable-length UTF-8 (what `h5py` reads as `str`); numbers as scalars or 1-D arrays.
extension Location {
    /// The names of this object's attributes, in name order.
    public func attributeNames() throws(HDF5Error) -> [String] {
        final class Names { var list: [String] = [] }
        let names = Names()
        let visit: H5A_operator2_t = { _, name, _, clientData in
            guard let name, let clientData else { return -1 }
            Unmanaged<Names>.fromOpaque(clientData).takeUnretainedValue().list.append(String(cString: name))
            return 0
        }
        var index: hsize_t = 0
        let box = Unmanaged.passUnretained(names).toOpaque()
        try check(withExtendedLifetime(names) { H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, &index, visit, box) }, "H5Aiterate2")
        return names.list
    }

    /// Whether an attribute called `name` exists.
    public func hasAttribute(_ name: String) -> Bool {
        Library.locked {
            let status = H5Aexists(id, name)
            if status < 0 { _ = Library.drainErrorStack() }
            return status > 0
        }
    }

    /// Sets (or replaces) a string attribute.
    public func setAttribute(_ name: String, _ value: String) throws(HDF5Error) {
        let type = try variableLengthStringType(name)
        let space = Handle(try attributeCheck(H5Screate(H5S_SCALAR), "H5Screate", name), close: H5Sclose)
        let attribute = try createAttribute(name, type: type.id, space: space.id)
        try attributeCheck(value.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return H5Awrite(attribute.id, type.id, &pointer)
        }, "H5Awrite", name)
    }

    /// Sets (or replaces) a numeric scalar attribute.
    public func setAttribute<Element: HDF5Element>(_ name: String, _ value: Element) throws(HDF5Error) {
        let space = Handle(try attributeCheck(H5Screate(H5S_SCALAR), "H5Screate", name), close: H5Sclose)
        try writeNumeric(name, [value], space: space)
    }

    /// Sets (or replaces) a numeric 1-D array attribute.
    public func setAttribute<Element: HDF5Element>(_ name: String, _ values: [Element]) throws(HDF5Error) {
        var dims = [hsize_t(values.count)]
        let space = Handle(try attributeCheck(H5Screate_simple(1, &dims, nil), "H5Screate_simple", name), close: H5Sclose)
        try writeNumeric(name, values, space: space)
    }

    /// Reads a string attribute (variable- or fixed-length).
    public func stringAttribute(_ name: String) throws(HDF5Error) -> String {
        let attribute = try openAttribute(name)
        let type = Handle(try attributeCheck(H5Aget_type(attribute.id), "H5Aget_type", name), close: H5Tclose)
        guard Library.locked({ H5Tget_class(type.id) }) == H5T_STRING else {
            let found = (try? describeNumeric(type.id, name)) ?? "a non-string type"
            throw attributeError(name, .typeMismatch(expected: "String", found: found))
        }
        if try attributeCheck(H5Tis_variable_str(type.id), "H5Tis_variable_str", name) > 0 {
            let memoryType = try variableLengthStringType(name)
            var pointer: UnsafeMutablePointer<CChar>? = nil
            try attributeCheck(H5Aread(attribute.id, memoryType.id, &pointer), "H5Aread", name)
            defer { if let pointer { Library.locked { _ = H5free_memory(pointer) } } }
            return pointer.map { String(cString: $0) } ?? ""
        }
        let size = try attributeCheck(H5Tget_size(type.id), "H5Tget_size", name)
        var bytes = [UInt8](repeating: 0, count: size + 1)
        try attributeCheck(H5Aread(attribute.id, type.id, &bytes), "H5Aread", name)
        let end = bytes.firstIndex(of: 0) ?? size
        return String(decoding: bytes[..<end], as: UTF8.self)
    }

    /// Reads a numeric attribute holding exactly one value (a scalar or a 1-element array).
    public func attribute<Element: HDF5Element>(_ name: String, as type: Element.Type) throws(HDF5Error) -> Element {
        let values = try arrayAttribute(name, as: Element.self)
        guard values.count == 1 else { throw attributeError(name, .countMismatch(expected: 1, found: values.count)) }
        return values[0]
    }

    /// Reads a numeric attribute as a flat array of its elements.
    public func arrayAttribute<Element: HDF5Element>(_ name: String, as type: Element.Type) throws(HDF5Error) -> [Element] {
        let attribute = try openAttribute(name)
        let storedType = Handle(try attributeCheck(H5Aget_type(attribute.id), "H5Aget_type", name), close: H5Tclose)
        let found = try describeNumeric(storedType.id, name)
        guard found == Element.elementType.rawValue else {
            throw attributeError(name, .typeMismatch(expected: Element.elementType.rawValue, found: found))
        }
        let space = Handle(try attributeCheck(H5Aget_space(attribute.id), "H5Aget_space", name), close: H5Sclose)
        let count = Int(try attributeCheck(H5Sget_simple_extent_npoints(space.id), "H5Sget_simple_extent_npoints", name))
        var values = [Element](repeating: .zero, count: count)
        if count == 0 { return values }
        try attributeCheck(values.withUnsafeMutableBytes { buffer in H5Aread(attribute.id, Element.elementType.nativeType, buffer.baseAddress) }, "H5Aread", name)
        return values
    }

    /// Removes an attribute.
    public func removeAttribute(_ name: String) throws(HDF5Error) {
        guard hasAttribute(name) else { throw attributeError(name, .notFound) }
        try attributeCheck(H5Adelete(id, name), "H5Adelete", name)
    }

    // MARK: Implementation

    private func attributeError(_ name: String, _ kind: HDF5Error.Kind) -> HDF5Error {
        HDF5Error(file: filePath, object: objectPath + "@" + name, kind: kind)
    }

    @discardableResult
    private func attributeCheck<Status: BinaryInteger>(_ status: @autoclosure () -> Status, _ operation: String, _ name: String) throws(HDF5Error) -> Status {
        try Library.check(status(), operation, file: filePath, object: objectPath + "@" + name)
    }

    private func openAttribute(_ name: String) throws(HDF5Error) -> Handle {
        guard hasAttribute(name) else { throw attributeError(name, .notFound) }
        return Handle(try attributeCheck(H5Aopen(id, name, l2l_H5P_DEFAULT()), "H5Aopen", name), close: H5Aclose)
    }

    private func createAttribute(_ name: String, type: hid_t, space: hid_t) throws(HDF5Error) -> Handle {
        if hasAttribute(name) { try removeAttribute(name) }
        let attributeID = try attributeCheck(H5Acreate2(id, name, type, space, l2l_H5P_DEFAULT(), l2l_H5P_DEFAULT()), "H5Acreate2", name)
        return Handle(attributeID, close: H5Aclose)
    }

    private func writeNumeric<Element: HDF5Element>(_ name: String, _ values: [Element], space: Handle) throws(HDF5Error) {
        let attribute = try createAttribute(name, type: Element.elementType.nativeType, space: space.id)
        if values.isEmpty { return }
        try attributeCheck(values.withUnsafeBytes { buffer in H5Awrite(attribute.id, Element.elementType.nativeType, buffer.baseAddress) }, "H5Awrite", name)
    }

    private func variableLengthStringType(_ name: String) throws(HDF5Error) -> Handle {
        _ = Library.initialized
        let type = Handle(try attributeCheck(H5Tcopy(l2l_H5T_C_S1()), "H5Tcopy", name), close: H5Tclose)
        try attributeCheck(H5Tset_size(type.id, l2l_H5T_VARIABLE()), "H5Tset_size", name)
        try attributeCheck(H5Tset_cset(type.id, H5T_CSET_UTF8), "H5Tset_cset", name)
        return type
    }

    private func describeNumeric(_ type: hid_t, _ name: String) throws(HDF5Error) -> String {
        switch ElementType.classify(type) {
        case let .success(elementType): return elementType.rawValue
        case let .failure(described): return described.text
        }
    }
}
