import CHDF5

/// The element types the HDF5 layer stores: the numeric types the pipeline needs.
public enum ElementType: String, Sendable, CustomStringConvertible, CaseIterable {
    case float32 = "Float"
    case float64 = "Double"
    case int32 = "Int32"
    case int64 = "Int64"
    case uint8 = "UInt8"

    public var description: String { rawValue }

    /// The native in-memory HDF5 type (not to be closed).
    var nativeType: hid_t {
        _ = Library.initialized
        // These read globals that H5open() set once; no lock is needed.
        switch self {
        case .float32: return l2l_H5T_NATIVE_FLOAT()
        case .float64: return l2l_H5T_NATIVE_DOUBLE()
        case .int32: return l2l_H5T_NATIVE_INT32()
        case .int64: return l2l_H5T_NATIVE_INT64()
        case .uint8: return l2l_H5T_NATIVE_UINT8()
        }
    }

    /// Classifies a stored type: the matching element type, or a description of what it is.
    static func classify(_ typeID: hid_t) -> Result<ElementType, DescribedType> {
        let (size, typeClass, sign) = Library.locked { (H5Tget_size(typeID), H5Tget_class(typeID), H5Tget_sign(typeID)) }
        switch typeClass {
        case H5T_FLOAT:
            if size == 4 { return .success(.float32) }
            if size == 8 { return .success(.float64) }
            return .failure(DescribedType(text: "\(size * 8)-bit floats"))
        case H5T_INTEGER:
            let signed = sign == H5T_SGN_2
            switch (size, signed) {
            case (1, false): return .success(.uint8)
            case (4, true): return .success(.int32)
            case (8, true): return .success(.int64)
            default: return .failure(DescribedType(text: "\(signed ? "signed" : "unsigned") \(size * 8)-bit integers"))
            }
        case H5T_STRING: return .failure(DescribedType(text: "strings"))
        case H5T_COMPOUND: return .failure(DescribedType(text: "compound records"))
        default: return .failure(DescribedType(text: "an unsupported HDF5 type class"))
        }
    }

    /// A human-readable name for a stored type that is not one of ours.
    struct DescribedType: Error { let text: String }
}

/// A Swift type that can be an element of a dataset or a numeric attribute.
public protocol HDF5Element: Sendable {
    static var elementType: ElementType { get }
    /// The value a freshly allocated read buffer is filled with before HDF5 overwrites it.
    static var zero: Self { get }
}

extension Float: HDF5Element {
    public static var elementType: ElementType { .float32 }
}
extension Double: HDF5Element {
    public static var elementType: ElementType { .float64 }
}
extension Int32: HDF5Element {
    public static var elementType: ElementType { .int32 }
}
extension Int64: HDF5Element {
    public static var elementType: ElementType { .int64 }
}
extension UInt8: HDF5Element {
    public static var elementType: ElementType { .uint8 }
}
