/// The element types a safetensors file can declare.
///
/// All of them are understood well enough to validate a header (their sizes are needed to check
/// byte ranges), but only `f32`, `f16` and `bf16` can be loaded as float tensors: checkpoints
/// often carry integer buffers such as `embeddings.position_ids` that a model ignores.
public enum DType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case f8e5m2 = "F8_E5M2", f8e4m3 = "F8_E4M3"
    case u16 = "U16", i16 = "I16", f16 = "F16", bf16 = "BF16"
    case u32 = "U32", i32 = "I32", f32 = "F32"
    case u64 = "U64", i64 = "I64", f64 = "F64"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .u16, .i16, .f16, .bf16: return 2
        case .u32, .i32, .f32: return 4
        case .u64, .i64, .f64: return 8
        }
    }

    /// Whether tensors of this type can be loaded as `Float` tensors.
    public var isLoadable: Bool {
        self == .f32 || self == .f16 || self == .bf16
    }
}
