import Testing
@testable import Images

@Suite struct VerticalScatterTests {
    @Test(arguments: [(1080, 224), (1, 224), (224, 225), (7, 3), (4000, 1)])
    func completesEveryOutputRowOnceInOrder(_ sizes: (Int, Int)) {
        let (input, output) = sizes
        let scatter = VerticalScatter(axis: ResampleAxis(inSize: input, outSize: output), rowBytes: 3)
        var completed: [Int] = []
        let row: [UInt8] = [10, 20, 30]
        row.withUnsafeBufferPointer { pixels in
            for r in 0..<input where r >= scatter.firstInputRow && r < scatter.endInputRow {
                scatter.push(r, pixels.baseAddress!) { index, done in
                    completed.append(index)
                    // A uniform column stays uniform after resampling.
                    #expect(done[0] == 10 && done[1] == 20 && done[2] == 30)
                }
            }
            scatter.finish { index, _ in completed.append(index) }
        }
        #expect(completed == Array(0..<output))
    }
}
