import ClockTesting
import Foundation
import Synchronization
import Testing
@testable import Serving

/// On a `ManualClock`: the deadline passes when the test moves the clock, not after a sleep.
/// "Has not fired" is checked with a short real wait: a correct deadline never fires then, so
/// the wait can only make a broken one pass by luck, never a correct one fail.
@Suite struct DrainDeadlineTests {
    @Test func firesOnceAtTheDeadline() {
        let clock = ManualClock()
        let deadline = DrainDeadline(clock: clock)
        let fired = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        deadline.arm(after: .milliseconds(100)) {
            fired.add(1, ordering: .relaxed)
            done.signal()
        }
        deadline.arm(after: .nanoseconds(1)) { fired.add(10, ordering: .relaxed) }   // a second signal: ignored
        clock.advance(by: .milliseconds(99))
        #expect(done.wait(timeout: .now() + 0.2) == .timedOut, "fired before the deadline")
        #expect(fired.load(ordering: .relaxed) == 0, "the second arm restarted the clock")
        clock.advance(by: .milliseconds(1))
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(fired.load(ordering: .relaxed) == 1)
    }

    @Test func aCancelledDeadlineNeverFires() {
        let clock = ManualClock()
        let deadline = DrainDeadline(clock: clock)
        let fired = DispatchSemaphore(value: 0)
        deadline.arm(after: .milliseconds(50)) { fired.signal() }
        deadline.cancel()
        clock.advance(by: .milliseconds(150))
        #expect(fired.wait(timeout: .now() + 0.2) == .timedOut)
        deadline.arm(after: .nanoseconds(1)) { fired.signal() }
        clock.advance(by: .milliseconds(1))
        #expect(fired.wait(timeout: .now() + 0.2) == .timedOut, "once cancelled it stays cancelled")
    }
}
