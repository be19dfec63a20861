import Foundation
import Locking
import Testing

@Suite struct LockedConditionTests {
    @Test func predicateWaitWakesOnBroadcast() {
        let box = LockedCondition(0)
        let woke = LockedCondition<[Int]>([])
        let threads = 3
        for index in 0..<threads {
            let thread = Thread {
                let seen = box.withLock(waitingUntil: { $0 == 7 }) { value, satisfied in satisfied ? value : -1 }
                woke.withLock { $0.append(seen) }
                woke.broadcast()
            }
            thread.name = "waiter-\(index)"
            thread.start()
        }
        // Intermediate values must not release the waiters: their predicate says 7.
        for value in 1...7 {
            box.withLock { $0 = value }
            box.broadcast()
        }
        let allWoke = woke.wait(until: { $0.count == threads }, timeout: .seconds(30))
        #expect(allWoke)
        #expect(woke.withLock { $0 } == Array(repeating: 7, count: threads))
    }

    @Test func timedWaitReturnsFalseAtTheDeadline() {
        let box = LockedCondition(false)
        let timeout = Duration.milliseconds(100)
        let start = ContinuousClock.now
        let held = box.wait(until: { $0 }, deadline: start + timeout)
        #expect(!held)
        #expect(ContinuousClock.now - start >= timeout)
    }

    @Test func timedWaitSeesAPredicateThatAlreadyHolds() {
        let box = LockedCondition(true)
        #expect(box.wait(until: { $0 }, timeout: .zero))
    }

    @Test func timedWaitReturnsTrueWhenSignalledBeforeTheDeadline() {
        let box = LockedCondition(false)
        let thread = Thread {
            Thread.sleep(forTimeInterval: 0.02)
            box.withLock { $0 = true }
            box.signal()
        }
        thread.start()
        #expect(box.wait(until: { $0 }, timeout: .seconds(60)))
    }

    @Test func manyThreadsIncrementingUnderTheLockGiveTheExactTotal() {
        let counter = LockedCondition(0)
        let threads = 8, increments = 10_000
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<increments { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == threads * increments)
    }

    @Test func repeatingBodyRunsAgainAfterEachWait() {
        let box = LockedCondition(0)
        let thread = Thread {
            for value in 1...3 {
                Thread.sleep(forTimeInterval: 0.01)
                box.withLock { $0 = value }
                box.signal()
            }
        }
        thread.start()
        var runs = 0
        let result = box.withLock(repeating: { value -> ConditionStep<Int> in
            runs += 1
            return value == 3 ? .done(value) : .wait(until: .now + .milliseconds(5))
        })
        #expect(result == 3)
        #expect(runs >= 2)
    }
}
