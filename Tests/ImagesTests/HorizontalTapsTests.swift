import Testing
@testable import Images

@Suite struct HorizontalTapsTests {
    /// Very wide inputs recompute weights per row instead of storing them; both paths
    /// must give the same bytes.
    @Test(arguments: [(1920, 224), (97, 300), (4000, 7), (5, 1)])
    func recomputedWeightsEqualTabulated(_ sizes: (Int, Int)) throws {
        let (input, output) = sizes
        let image = try Pattern.image(width: input, height: 1)
        let axis = ResampleAxis(inSize: input, outSize: output)
        let stored = HorizontalTaps(axis: axis)
        let recomputed = HorizontalTaps(axis: axis, maxTableEntries: 0)
        #expect(stored.tabulated && !recomputed.tabulated)
        var a = [UInt8](repeating: 0, count: output * 3)
        var b = [UInt8](repeating: 1, count: output * 3)
        image.pixels.withUnsafeBufferPointer { row in
            a.withUnsafeMutableBufferPointer { stored.apply(row.baseAddress!, $0.baseAddress!) }
            b.withUnsafeMutableBufferPointer { recomputed.apply(row.baseAddress!, $0.baseAddress!) }
        }
        #expect(a == b)
    }

    /// The AVX2 kernel (16-bit multiply-adds on split weights) must give the scalar loop's
    /// bytes: downscales with one and many 8-tap chunks, upscales, output widths of every
    /// remainder mod 4 (the 8-tap kernel works in groups of four) and rows
    /// of random bytes, including all 0 and 255.
    @Test(.enabled(if: Kernels.cpuHasAVX2, "this CPU has no AVX2: only the scalar loop runs here"),
          arguments: [(640, 224), (1920, 224), (224, 224), (97, 300), (4000, 7), (5, 1),
                      (3, 2), (481, 223), (1000, 999), (7070, 224), (1, 9), (30, 5), (30, 6), (30, 7)])
    func vectorKernelEqualsScalarLoop(_ sizes: (Int, Int)) {
        let (input, output) = sizes
        let axis = ResampleAxis(inSize: input, outSize: output)
        let vector = HorizontalTaps(axis: axis)
        let scalar = HorizontalTaps(axis: axis, useVectorKernel: false)
        #expect(vector.usesVectorKernel && !scalar.usesVectorKernel)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15 &+ UInt64(input * 31 + output)
        for rowIndex in 0..<4 {
            // Row 0 is all 255 (the largest sums), row 1 alternates extremes, the rest random.
            let row = (0..<input * 3).map { i -> UInt8 in
                switch rowIndex {
                case 0: return 255
                case 1: return i % 2 == 0 ? 255 : 0
                default:
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    return UInt8(truncatingIfNeeded: state >> 56)
                }
            }
            var a = [UInt8](repeating: 0, count: output * 3)
            var b = [UInt8](repeating: 1, count: output * 3)
            row.withUnsafeBufferPointer { source in
                a.withUnsafeMutableBufferPointer { vector.apply(source.baseAddress!, $0.baseAddress!) }
                b.withUnsafeMutableBufferPointer { scalar.apply(source.baseAddress!, $0.baseAddress!) }
            }
            let firstDifference = a.indices.first { a[$0] != b[$0] }
            #expect(firstDifference == nil, "row \(rowIndex) of \(input)→\(output): byte \(firstDifference ?? -1) differs")
        }
    }
}
