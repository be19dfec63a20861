/// Why a safetensors file could not be opened or a tensor not loaded.
public enum SafetensorsError: Error, CustomStringConvertible, Equatable {
    /// The file could not be opened, inspected or mapped (`errno` text included).
    case io(path: String, reason: String)
    /// The file is shorter than the 8-byte length prefix plus the header it announces.
    case truncated(path: String, fileSize: Int, needed: String)
    /// The announced header length exceeds the limit.
    case headerTooLarge(path: String, length: UInt64, limit: Int)
    /// The header is not valid JSON.
    case malformedJSON(path: String, offset: Int, reason: String)
    /// The header is JSON but not a valid safetensors header.
    case invalidHeader(path: String, reason: String)
    /// One tensor's entry is invalid (bad dtype, shape, offsets or size).
    case invalidTensor(path: String, tensor: String, reason: String)
    /// Two tensors' byte ranges overlap, or bytes of the data section belong to no tensor.
    case invalidLayout(path: String, reason: String)
    /// No tensor with this name is in the file.
    case missingTensor(path: String, tensor: String)
    /// The tensor's dtype cannot be loaded as float.
    case unsupportedDType(path: String, tensor: String, dtype: String)

    public var description: String {
        switch self {
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .truncated(path, size, needed):
            return "\(path): truncated safetensors file (\(size) bytes, needs \(needed))"
        case let .headerTooLarge(path, length, limit):
            return "\(path): safetensors header length \(length) exceeds the limit of \(limit) bytes"
        case let .malformedJSON(path, offset, reason):
            return "\(path): safetensors header is not valid JSON at byte \(offset): \(reason)"
        case let .invalidHeader(path, reason):
            return "\(path): invalid safetensors header: \(reason)"
        case let .invalidTensor(path, tensor, reason):
            return "\(path): tensor \"\(tensor)\": \(reason)"
        case let .invalidLayout(path, reason):
            return "\(path): invalid safetensors data layout: \(reason)"
        case let .missingTensor(path, tensor):
            return "\(path): no tensor named \"\(tensor)\""
        case let .unsupportedDType(path, tensor, dtype):
            return "\(path): tensor \"\(tensor)\" has dtype \(dtype); only F32, F16 and BF16 can be loaded"
        }
    }
}
