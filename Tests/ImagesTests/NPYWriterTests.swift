import Testing
@testable import Images

@Suite struct NPYWriterTests {
    @Test func writesReadableFloat32() throws {
        let values: [Float] = (0..<24).map { Float($0) * 0.5 - 3 }
        let bytes = try NPYWriter.float32(values, shape: [2, 3, 4])
        let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        #expect((10 + headerLength) % 64 == 0)
        #expect(bytes[10 + headerLength - 1] == 0x0A)
        let array = try #require(NPY.readFloat32(bytes))
        #expect(array.shape == [2, 3, 4])
        #expect(array.values == values)
    }

    @Test func oneDimensionalShapeHasTrailingComma() throws {
        let bytes = try NPYWriter.float32([1, 2], shape: [2])
        #expect(String(decoding: bytes, as: UTF8.self).contains("'shape': (2,)"))
    }

    @Test func rejectsShapeMismatch() {
        #expect(throws: ImageError.self) { try NPYWriter.float32([1, 2, 3], shape: [2, 2]) }
        #expect(throws: ImageError.self) { try NPYWriter.float32([], shape: [-1]) }
    }
}
