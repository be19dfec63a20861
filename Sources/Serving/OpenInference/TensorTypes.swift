/// A tensor element type of the Open Inference Protocol (KServe v2, Triton's HTTP protocol).
public enum TensorDataType: String, Sendable, CaseIterable {
    case bool = "BOOL"
    case uint8 = "UINT8", uint16 = "UINT16", uint32 = "UINT32", uint64 = "UINT64"
    case int8 = "INT8", int16 = "INT16", int32 = "INT32", int64 = "INT64"
    case fp16 = "FP16", bf16 = "BF16", fp32 = "FP32", fp64 = "FP64"
    case bytes = "BYTES"

    /// Bytes per element in the binary tensor data extension; nil for BYTES, whose elements
    /// are each a 4-byte little-endian length followed by that many bytes.
    public var elementSize: Int? {
        switch self {
        case .bool, .uint8, .int8: return 1
        case .uint16, .int16, .fp16, .bf16: return 2
        case .uint32, .int32, .fp32: return 4
        case .uint64, .int64, .fp64: return 8
        case .bytes: return nil
        }
    }

    /// The name in a Triton model configuration (`TYPE_FP32`, `TYPE_STRING` for BYTES).
    public var tritonConfigName: String { self == .bytes ? "TYPE_STRING" : "TYPE_" + rawValue }
}

/// The elements of a tensor, flattened in row-major order. Only the types fusion-serve's
/// inputs and outputs use are kept; INT32 input ids are widened to `int64`.
public enum TensorValues: Sendable, Equatable {
    case bytes([[UInt8]])
    case fp32([Float])
    case int64([Int64])

    /// Number of elements.
    public var count: Int {
        switch self {
        case .bytes(let values): return values.count
        case .fp32(let values): return values.count
        case .int64(let values): return values.count
        }
    }
}

/// One input tensor of an inference request, decoded and checked against its shape.
public struct InputTensor: Sendable, Equatable {
    public var name: String
    public var datatype: TensorDataType
    public var shape: [Int]
    public var values: TensorValues
    /// Whether the data came as JSON (`data`) rather than as binary tensor data; a JSON string
    /// cannot hold raw image bytes, so a JSON `image` element is read as base64.
    public var fromJSON: Bool

    /// Creates a tensor (the codec checks that `values.count` is the product of `shape`).
    public init(name: String, datatype: TensorDataType, shape: [Int], values: TensorValues, fromJSON: Bool) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.values = values
        self.fromJSON = fromJSON
    }
}

/// An output the client asked for; `binary` nil means the request-level default.
public struct RequestedOutput: Sendable, Equatable {
    public var name: String
    public var binary: Bool?

    /// Creates a requested output.
    public init(name: String, binary: Bool? = nil) {
        self.name = name
        self.binary = binary
    }
}

/// One output tensor of a response.
public struct OutputTensor: Sendable, Equatable {
    public var name: String
    public var datatype: TensorDataType
    public var shape: [Int]
    public var values: TensorValues

    /// Creates an output tensor.
    public init(name: String, datatype: TensorDataType, shape: [Int], values: TensorValues) {
        self.name = name
        self.datatype = datatype
        self.shape = shape
        self.values = values
    }
}
