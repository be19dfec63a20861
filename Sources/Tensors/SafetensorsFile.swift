/// A safetensors file, memory-mapped and validated.
///
/// Opening validates the whole header (see `SafetensorsHeader`), so a hostile file is rejected
/// with a `SafetensorsError` before any tensor data is touched. F32 tensors are then served in
/// place from the shared read-only mapping; F16 and BF16 tensors are converted to a private
/// `Float` copy when loaded.
public final class SafetensorsFile: @unchecked Sendable {
    // @unchecked: immutable after init; the mapping is read-only.

    /// The path the file was opened with.
    public let path: String
    /// The tensors in header order.
    public let entries: [TensorEntry]
    /// The header's `__metadata__` (empty when absent).
    public let metadata: [String: String]
    private let indexByName: [String: Int]
    private let file: MappedFile
    private let dataOffset: Int

    /// Maps and validates the file at `path`.
    public init(path: String) throws(SafetensorsError) {
        let file = try MappedFile(path: path)
        let header = try SafetensorsHeader.parse(path: path, fileSize: file.size) { range in
            file.withBytes(range) { Array($0) }
        }
        self.path = path
        self.file = file
        self.entries = header.entries
        self.metadata = header.metadata
        self.dataOffset = header.dataOffset
        var index: [String: Int] = [:]
        for (i, entry) in header.entries.enumerated() { index[entry.name] = i }
        self.indexByName = index
    }

    /// The entry of the tensor called `name`, if any.
    public func entry(named name: String) -> TensorEntry? {
        indexByName[name].map { entries[$0] }
    }

    /// Loads the tensor called `name` as `Float`s.
    public func tensor(named name: String) throws(SafetensorsError) -> Tensor {
        guard let entry = entry(named: name) else { throw .missingTensor(path: path, tensor: name) }
        return try tensor(entry)
    }

    /// Loads `entry` (one of `entries`) as `Float`s.
    public func tensor(_ entry: TensorEntry) throws(SafetensorsError) -> Tensor {
        let start = dataOffset + entry.dataRange.lowerBound
        let range = start..<(dataOffset + entry.dataRange.upperBound)
        let count = entry.count
        switch entry.dtype {
        case .f32:
            if start % MemoryLayout<Float>.alignment == 0 {
                return Tensor(shape: entry.shape, count: count, mappedFrom: file, byteOffset: start)
            }
            // The format does not require alignment (a header length that is not a multiple of
            // 4 shifts every tensor); such tensors are copied once into aligned memory.
            return owned(entry) {
                file.withBytes(range) { raw in
                    (0..<count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) }
                }
            }
        case .f16:
            return owned(entry) {
                file.withBytes(range) { raw in
                    (0..<count).map { HalfFloat.f16ToFloat(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
                }
            }
        case .bf16:
            return owned(entry) {
                file.withBytes(range) { raw in
                    (0..<count).map { HalfFloat.bf16ToFloat(raw.loadUnaligned(fromByteOffset: $0 * 2, as: UInt16.self)) }
                }
            }
        default:
            throw .unsupportedDType(path: path, tensor: entry.name, dtype: entry.dtype.rawValue)
        }
    }

    private func owned(_ entry: TensorEntry, _ convert: () -> [Float]) -> Tensor {
        Tensor(shape: entry.shape, validatedValues: convert())
    }
}
