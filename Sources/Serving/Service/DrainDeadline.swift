import Foundation
import HTTP
import Locking

/// The end of a drain: once `--drain-timeout-s` has passed since SIGTERM/SIGINT, whatever is
/// still queued, preprocessing or running must be answered (503 `draining`) while the clients'
/// connections are still open — the HTTP server keeps them a short grace longer than this
/// deadline so those answers get written before it closes what is left.
///
/// One thread, started at the signal, that waits until the deadline or until cancelled (the
/// drain finished in time) and then runs the action once.
final class DrainDeadline: Sendable {
    private struct State {
        var armed = false
        var cancelled = false
    }

    private let state = LockedCondition(State())
    /// The time the deadline is measured in (tests move a `ManualClock` instead of sleeping).
    private let clock: any ServerClock

    init(clock: any ServerClock = SystemServerClock()) {
        self.clock = clock
    }

    /// Runs `action` on its own thread `delay` from now unless `cancel()` comes first.
    /// Only the first call arms it (a second signal does not restart the clock).
    func arm(after delay: Duration, action: @escaping @Sendable () -> Void) {
        let deadline = clock.now + delay
        let start = state.withLock { state in
            guard !state.armed, !state.cancelled else { return false }
            state.armed = true
            return true
        }
        guard start else { return }
        // A clock moved by hand re-wakes the wait below; taking the lock first means the thread
        // is either before its check (and sees the new time) or waiting (and gets the broadcast).
        clock.setWake { [state] in
            state.withLock { _ in }
            state.broadcast()
        }
        let thread = Thread { [self] in
            let fire = state.withLock(repeating: { state -> ConditionStep<Bool> in
                guard !state.cancelled else { return .done(false) }
                let now = clock.now
                guard now < deadline else {
                    state.cancelled = true
                    return .done(true)
                }
                return .wait(until: .now + (deadline - now))
            })
            clock.setWake(nil)
            if fire { action() }
        }
        thread.name = "drain-deadline"
        thread.start()
    }

    /// The drain finished in time: the action will not run (if it is not running already).
    func cancel() {
        state.withLock { $0.cancelled = true }
        state.broadcast()
    }
}
