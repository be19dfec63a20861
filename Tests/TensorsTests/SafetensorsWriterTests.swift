import Testing
@testable import Tensors

struct SafetensorsWriterTests {
    @Test func headerIsPaddedToEightBytesAndValid() throws {
        var writer = SafetensorsWriter()
        writer.addMetadata("format", "pt")
        writer.add("a\"b", shape: [3], values: [1, 2, 3])
        let bytes = writer.serialize()
        let length = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
        #expect(length % 8 == 0)
        #expect(bytes.count == 8 + length + 12)
        let file = try SafetensorsFile(path: TestFiles.write(bytes))
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.tensor(named: "a\"b").values == [1, 2, 3])
    }

    #if !(os(macOS) && arch(x86_64))
    @Test func f16RoundingMatchesFloat16() {
        var values: [Float] = [0, -0.0, 1, 65504, 65520, 1e-8, 3e-8, 6e-8, 0x1p-24, 0x1p-25, 0x1.8p-25, 0x1p-14, 1.0009765625, 1.00048828125, 1.000732421875, .infinity, -.infinity]
        var state: UInt32 = 12345
        for _ in 0..<20_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            values.append(Float(bitPattern: state & 0xBFFF_FFFF))  // skip exponents above 2^64
        }
        for value in values {
            #expect(SafetensorsWriter.floatToF16(value) == Float16(value).bitPattern, "\(value)")
        }
    }
    #endif

    @Test func bf16RoundsToNearestEven() {
        #expect(SafetensorsWriter.floatToBF16(1) == 0x3F80)
        #expect(SafetensorsWriter.floatToBF16(Float(bitPattern: 0x3F80_8000)) == 0x3F80)  // tie, even stays
        #expect(SafetensorsWriter.floatToBF16(Float(bitPattern: 0x3F81_8000)) == 0x3F82)  // tie, odd rounds up
        #expect(SafetensorsWriter.floatToBF16(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(HalfFloat.bf16ToFloat(SafetensorsWriter.floatToBF16(.nan)).isNaN)
    }
}
