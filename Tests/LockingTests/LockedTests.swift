import Foundation
import Locking
import Testing

@Suite struct LockedTests {
    @Test func manyThreadsIncrementingUnderTheLockGiveTheExactTotal() {
        let counter = Locked(0)
        let threads = 8, increments = 10_000
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<increments { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == threads * increments)
    }
}
