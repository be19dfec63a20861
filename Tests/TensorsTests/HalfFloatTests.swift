import Testing
@testable import Tensors

struct HalfFloatTests {
    #if !(os(macOS) && arch(x86_64))
    /// Every one of the 65536 bit patterns agrees with the compiler's own Float16 conversion.
    @Test func f16MatchesFloat16ForAllBitPatterns() {
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = HalfFloat.f16ToFloat(bits)
            if expected.isNaN {
                #expect(actual.isNaN)
            } else if actual.bitPattern != expected.bitPattern {
                Issue.record("f16 \(bits): \(actual) != \(expected)")
                return
            }
        }
    }
    #endif

    @Test func f16KnownValues() {
        #expect(HalfFloat.f16ToFloat(0x3C00) == 1)
        #expect(HalfFloat.f16ToFloat(0xC000) == -2)
        #expect(HalfFloat.f16ToFloat(0x7BFF) == 65504)
        #expect(HalfFloat.f16ToFloat(0x0001) == 0x1p-24)
        #expect(HalfFloat.f16ToFloat(0x7C00) == .infinity)
        #expect(HalfFloat.f16ToFloat(0x8000).bitPattern == (-0.0 as Float).bitPattern)
    }

    @Test func bf16IsTheUpperHalfOfFloat() {
        for value: Float in [1, -2.5, 3.140625, .infinity, 0x1p-130] {
            #expect(HalfFloat.bf16ToFloat(UInt16(value.bitPattern >> 16)) == value)
        }
        #expect(HalfFloat.bf16ToFloat(0x7FC0).isNaN)
    }
}
