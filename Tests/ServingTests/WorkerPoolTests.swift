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

    @Test func aReloadGoesOneAtATimeWhenOnlyOneMoreWorkerFits() throws {
        let mib = 1 << 20
        let sizes: [Int?] = [100 * mib, 120 * mib, nil]
        // Room for three more: together, the atomic switch.
        #expect(try WorkerPool.reloadPlan(privateBytes: sizes, workers: 3, freeBytes: 360 * mib) == .together)
        // Room for one or two: one at a time, with the figures for the log.
        #expect(try WorkerPool.reloadPlan(privateBytes: sizes, workers: 3, freeBytes: 359 * mib)
                == .oneAtATime(needed: 360 * mib, free: 359 * mib))
        #expect(try WorkerPool.reloadPlan(privateBytes: sizes, workers: 3, freeBytes: 120 * mib)
                == .oneAtATime(needed: 360 * mib, free: 120 * mib))
        // Not even one: refused, naming what one worker needs.
        #expect(throws: WorkerPoolError.self) {
            try WorkerPool.reloadPlan(privateBytes: sizes, workers: 3, freeBytes: 119 * mib)
        }
        do {
            _ = try WorkerPool.reloadPlan(privateBytes: sizes, workers: 3, freeBytes: 119 * mib)
        } catch {
            guard case .notEnoughMemory(let needed, let free) = error else { Issue.record("\(error)"); return }
            #expect(needed == 120 * mib && free == 119 * mib)
        }
        // One worker: one at a time is the same as together, so a shortfall refuses.
        #expect(throws: WorkerPoolError.self) {
            try WorkerPool.reloadPlan(privateBytes: [100 * mib], workers: 1, freeBytes: 99 * mib)
        }
        // Nothing known: together, as before.
        #expect(try WorkerPool.reloadPlan(privateBytes: [nil], workers: 2, freeBytes: 1) == .together)
    }
}
