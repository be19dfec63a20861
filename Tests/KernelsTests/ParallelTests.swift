import Testing
@testable import Kernels

struct ParallelTests {
    /// Every index is visited exactly once, whatever the thread count and chunking.
    @Test(arguments: [1, 2, 3])
    func coversEveryIndexOnce(threads: Int) {
        for count in [0, 1, 7, 1000, 100_003] {
            var visits = [UInt8](repeating: 0, count: count)
            visits.withUnsafeMutableBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }
                parallelChunks(count, minimumChunk: 10, maxThreads: threads) { range in
                    for i in range { base[i] += 1 }
                }
            }
            #expect(visits.allSatisfy { $0 == 1 }, "count \(count), threads \(threads)")
        }
    }

    @Test func smallWorkStaysOnTheCallingThread() {
        var ranges: [Range<Int>] = []
        parallelChunks(5, minimumChunk: 100) { ranges.append($0) }
        #expect(ranges == [0..<5])
        #expect(rowsPerChunk(768) == 42)
        #expect(rowsPerChunk(1_000_000) == 1)
    }
}
