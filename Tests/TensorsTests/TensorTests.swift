import Testing
@testable import Tensors

struct TensorTests {
    @Test func ownedTensorChecksItsShape() throws {
        let t = try Tensor(shape: [2, 2], values: [1, 2, 3, 4])
        #expect(t.count == 4)
        #expect(t.byteCount == 16)
        #expect(!t.isMapped)
        #expect(t.withUnsafeBufferPointer { $0.reduce(0, +) } == 10)
        #expect(throws: TensorShapeError(shape: [3], count: 4)) { try Tensor(shape: [3], values: [1, 2, 3, 4]) }
        #expect(throws: TensorShapeError.self) { try Tensor(shape: [-1, -4], values: [1, 2, 3, 4]) }
        #expect(throws: TensorShapeError.self) { try Tensor(shape: [1 << 40, 1 << 40], values: []) }
        #expect(try Tensor(shape: [], values: [5]).values == [5])
    }

    @Test func mappedTensorOutlivesItsFileObject() throws {
        var writer = SafetensorsWriter()
        writer.add("w", shape: [3], values: [1, 2, 3])
        let path = try TestFiles.write(writer.serialize())
        var file: SafetensorsFile? = try SafetensorsFile(path: path)
        let tensor = try file?.tensor(named: "w")
        file = nil  // the tensor keeps the mapping alive
        #expect(tensor?.values == [1, 2, 3])
        #expect(tensor?.isMapped == true)
    }
}
