import Testing
@testable import Kernels

struct BFloat16Tests {
    /// The nearest bf16 found by comparing the two neighbours in Double, ties to the even one:
    /// an oracle independent of the bit trick under test.
    private static func nearest(_ value: Float) -> UInt16 {
        let below = UInt16(truncatingIfNeeded: value.bitPattern >> 16)  // toward zero
        let above = below &+ 1                                          // away from zero
        let x = Double(value)
        let low = Double(BFloat16.float(below)), high = Double(BFloat16.float(above))
        let dLow = abs(x - low), dHigh = abs(x - high)
        if dLow < dHigh { return below }
        if dHigh < dLow { return above }
        return below & 1 == 0 ? below : above
    }

    @Test func representableValuesAreExact() {
        for value: Float in [0, -0.0, 1, -1, 0.5, 3, -2.5, 65_280, .leastNormalMagnitude, .infinity, -.infinity] {
            #expect(BFloat16.float(BFloat16.bits(value)).bitPattern == value.bitPattern, "\(value)")
        }
    }

    /// Halfway cases go to the even neighbour: 1 + 2⁻⁸ lies halfway between 1 and 1 + 2⁻⁷
    /// (down to 1), 1 + 3·2⁻⁸ halfway between 1 + 2⁻⁷ and 1 + 2⁻⁶ (up); just past half rounds up.
    @Test func tiesGoToEven() {
        #expect(BFloat16.bits(Float(bitPattern: 0x3F80_8000)) == 0x3F80)
        #expect(BFloat16.bits(Float(bitPattern: 0x3F81_8000)) == 0x3F82)
        #expect(BFloat16.bits(Float(bitPattern: 0x3F80_8001)) == 0x3F81)
        #expect(BFloat16.bits(Float(bitPattern: 0xBF80_8001)) == 0xBF81)
        #expect(BFloat16.bits(Float(bitPattern: 0x3F80_7FFF)) == 0x3F80)
    }

    @Test func matchesTheNearestNeighbourOnRandomFloats() {
        var random = TestRandom(seed: 16)
        var checked = 0
        while checked < 200_000 {
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: random.next()))
            // Finite values whose upper neighbour is finite too; the overflow edge is tested apart.
            guard value.isFinite, abs(value) < Float(bitPattern: 0x7F7F_0000) else { continue }
            #expect(BFloat16.bits(value) == Self.nearest(value), "\(value) (bits \(value.bitPattern))")
            checked += 1
        }
    }

    /// Past the largest bf16 plus half its spacing, values become infinity, as in PyTorch; a NaN
    /// whose payload sits only in the low half stays a NaN (plain truncation would make it ∞).
    @Test func overflowAndNaN() {
        #expect(BFloat16.bits(.greatestFiniteMagnitude) == 0x7F80)
        #expect(BFloat16.bits(-.greatestFiniteMagnitude) == 0xFF80)
        #expect(BFloat16.bits(Float(bitPattern: 0x7F7F_7FFF)) == 0x7F7F)
        #expect(BFloat16.float(BFloat16.bits(.nan)).isNaN)
        #expect(BFloat16.float(BFloat16.bits(Float(bitPattern: 0x7F80_0001))).isNaN)
        #expect(BFloat16.float(BFloat16.bits(Float(bitPattern: 0xFF80_0001))).isNaN)
    }

    /// Strided source rows become dense bf16 rows; the columns past each row are not read.
    @Test func roundsStridedRowsIntoDenseRows() {
        let rows = 3, columns = 5, ld = 8
        var random = TestRandom(seed: 3)
        var source = random.floats(rows * ld, scale: 100)
        for r in 0..<rows { for c in columns..<ld { source[r * ld + c] = .nan } }
        var dense = [UInt16](repeating: 0xFFFF, count: rows * columns)
        source.withUnsafeBufferPointer { s in
            dense.withUnsafeMutableBufferPointer { d in
                BFloat16.round(s.baseAddress!, rows: rows, columns: columns, ldSource: ld, into: d.baseAddress!)
            }
        }
        for r in 0..<rows {
            for c in 0..<columns {
                #expect(dense[r * columns + c] == Self.nearest(source[r * ld + c]), "row \(r) column \(c)")
            }
        }
    }
}
