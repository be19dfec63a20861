import Foundation
import Testing
@testable import Serving

@Suite struct BoundedThreadPoolTests {
    @Test func runsEverythingAndRefusesBeyondItsQueue() {
        let pool = BoundedThreadPool(name: "test", threads: 1, queueCapacity: 2)
        let gate = Gate()
        let state = Counter()
        let blocker: @Sendable () -> Void = {
            gate.waitOpen()
            state.add()
        }
        #expect(pool.submit(blocker))
        Thread.sleep(forTimeInterval: 0.05)   // the thread is now blocked in the first task
        #expect(pool.submit { state.add() })
        #expect(pool.submit { state.add() })
        #expect(!pool.submit { state.add() }, "queue of 2 is full")
        gate.open()
        let end = Date().addingTimeInterval(5)
        while state.value < 3, Date() < end { usleep(1000) }
        #expect(state.value == 3)
        pool.stop()
        #expect(!pool.submit { state.add() })
    }
}

private final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}

private final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var isOpen = false
    func waitOpen() {
        condition.lock()
        while !isOpen { condition.wait() }
        condition.unlock()
    }
    func open() {
        condition.lock()
        isOpen = true
        condition.broadcast()
        condition.unlock()
    }
}
