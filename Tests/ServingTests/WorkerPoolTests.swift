import Testing
@testable import Serving

@Suite struct WorkerPoolTests {
    @Test func aSecondWorkerSetIsRefusedOnlyWhenItClearlyDoesNotFit() {
        let mib = 1 << 20
        // Two workers of 100 and 120 MiB private memory: the new set is taken as 2 × 120 MiB.
        let short = WorkerPool.memoryShortfall(privateBytes: [100 * mib, 120 * mib], workers: 2, freeBytes: 200 * mib)
        #expect(short?.needed == 240 * mib && short?.free == 200 * mib)
        #expect(WorkerPool.memoryShortfall(privateBytes: [100 * mib, 120 * mib], workers: 2, freeBytes: 240 * mib) == nil)
        // Nothing measured, or no free figure: no guess, the reload goes ahead.
        #expect(WorkerPool.memoryShortfall(privateBytes: [nil, nil], workers: 2, freeBytes: 1) == nil)
        #expect(WorkerPool.memoryShortfall(privateBytes: [], workers: 2, freeBytes: 1) == nil)
        #expect(WorkerPool.memoryShortfall(privateBytes: [100 * mib], workers: 2, freeBytes: nil) == nil)
        // A worker that is down counts as the measured ones.
        #expect(WorkerPool.memoryShortfall(privateBytes: [nil, 50 * mib], workers: 4, freeBytes: 150 * mib)?.needed == 200 * mib)
        #expect(WorkerPool.memoryShortfall(privateBytes: [Int.max / 2], workers: 3, freeBytes: 1)?.needed == .max)
    }
}
