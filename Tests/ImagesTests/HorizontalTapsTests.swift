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
}
