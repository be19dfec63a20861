import Testing
@testable import Images

@Suite struct ResampleAxisTests {
    @Test func weightsSumToOneInFixedPoint() {
        for (input, output) in [(1920, 224), (225, 224), (1, 224), (7, 3), (4000, 1)] {
            let axis = ResampleAxis(inSize: input, outSize: output)
            var weights = [Int32](repeating: 0, count: axis.maxTaps)
            var scratch = [Double](repeating: 0, count: axis.maxTaps)
            for index in 0..<output {
                let (start, count) = axis.bounds(index)
                #expect(start >= 0 && count >= 1 && start + count <= input && count <= axis.maxTaps)
                weights.withUnsafeMutableBufferPointer { w in
                    scratch.withUnsafeMutableBufferPointer { s in
                        axis.weights(index, start: start, count: count, into: w.baseAddress!, scratch: s.baseAddress!)
                    }
                }
                let sum = weights[..<count].reduce(0, +)
                // Each weight is rounded on its own, so the sum is within count/2 units.
                #expect(abs(Int(sum) - (1 << 22)) <= count, "\(input)->\(output) index \(index)")
            }
        }
    }
}
