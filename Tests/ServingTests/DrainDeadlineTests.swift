import Foundation
import Synchronization
import Testing
@testable import Serving

@Suite struct DrainDeadlineTests {
    @Test func firesOnceAtTheDeadline() {
        let deadline = DrainDeadline()
        let fired = Atomic<Int>(0)
        let started = Date()
        let done = DispatchSemaphore(value: 0)
        deadline.arm(afterNanos: 100_000_000) {
            fired.add(1, ordering: .relaxed)
            done.signal()
        }
        deadline.arm(afterNanos: 1) { fired.add(10, ordering: .relaxed) }   // a second signal: ignored
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(Date().timeIntervalSince(started) >= 0.1)
        usleep(50_000)
        let count = fired.load(ordering: .relaxed)
        #expect(count == 1)
    }

    @Test func aCancelledDeadlineNeverFires() {
        let deadline = DrainDeadline()
        let fired = Atomic<Bool>(false)
        deadline.arm(afterNanos: 50_000_000) { fired.store(true, ordering: .relaxed) }
        deadline.cancel()
        usleep(150_000)
        let afterCancel = fired.load(ordering: .relaxed)
        #expect(!afterCancel)
        deadline.arm(afterNanos: 1) { fired.store(true, ordering: .relaxed) }
        usleep(50_000)
        let afterRearm = fired.load(ordering: .relaxed)
        #expect(!afterRearm, "once cancelled it stays cancelled")
    }
}
