#if _endian(big)
#error("safetensors data is little-endian; big-endian hosts are not supported")
#endif

/// Thrown when a tensor is built from a value count that does not match its shape.
public struct TensorShapeError: Error, CustomStringConvertible, Equatable {
    /// The requested shape.
    public let shape: [Int]
    /// The number of values supplied.
    public let count: Int

    public var description: String {
        "tensor of shape \(shape) does not hold \(count) values"
    }
}

/// An immutable dense row-major `Float` tensor.
///
/// Its storage is either a slice of a read-only file mapping (F32 safetensors, used in place so
/// that processes share the pages) or an owned array (converted F16/BF16, misaligned F32, or
/// values built in memory).
public final class Tensor: @unchecked Sendable {
    // @unchecked: all stored properties are immutable after init and the mapping is read-only.

    /// The shape; `[]` is a scalar.
    public let shape: [Int]
    /// Number of elements.
    public let count: Int
    private let storage: Storage

    private enum Storage {
        case mapped(MappedFile, byteOffset: Int)
        case owned([Float])
    }

    /// A tensor holding `values` (no copy is made of the array's buffer).
    public init(shape: [Int], values: [Float]) throws(TensorShapeError) {
        var expected = 1
        for dim in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dim)
            guard dim >= 0, !overflow else { throw TensorShapeError(shape: shape, count: values.count) }
            expected = product
        }
        guard expected == values.count else { throw TensorShapeError(shape: shape, count: values.count) }
        self.shape = shape
        self.count = values.count
        self.storage = .owned(values)
    }

    /// A tensor holding `values` whose count the caller knows matches `shape`.
    package init(shape: [Int], validatedValues values: [Float]) {
        self.shape = shape
        self.count = values.count
        self.storage = .owned(values)
    }

    /// A tensor viewing `count` floats at `byteOffset` of `file`; the caller has checked the
    /// range lies inside the file and that `byteOffset` is 4-byte aligned.
    init(shape: [Int], count: Int, mappedFrom file: MappedFile, byteOffset: Int) {
        self.shape = shape
        self.count = count
        self.storage = .mapped(file, byteOffset: byteOffset)
    }

    /// Whether the values are read in place from a file mapping (no private copy).
    public var isMapped: Bool {
        if case .mapped = storage { return true }
        return false
    }

    /// Bytes of memory this tensor's values occupy.
    public var byteCount: Int { count * MemoryLayout<Float>.stride }

    /// A copy of the values in row-major order.
    public var values: [Float] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// Calls `body` with the values; the pointer is valid only inside `body`.
    package func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        switch storage {
        case let .owned(array):
            return try array.withUnsafeBufferPointer(body)
        case let .mapped(file, byteOffset):
            return try file.withBytes(byteOffset..<(byteOffset + count * 4)) { raw in
                try body(raw.bindMemory(to: Float.self))
            }
        }
    }
}
