import HTTP
import Locking

/// A `ServerClock` for tests (HTTP's event loop, Serving's deadline threads) that stands still until a test moves it: timeout tests advance it past a
/// deadline instead of sleeping, so they take no wall time and cannot race a busy machine.
/// `advance(by:)` wakes the server's loop, which then expires what is due at once.
public final class ManualClock: ServerClock {
    private struct State {
        var now: ContinuousClock.Instant
        var wake: (@Sendable () -> Void)?
    }

    private let state: Locked<State>

    public init(start: ContinuousClock.Instant = .now) {
        state = Locked(State(now: start, wake: nil))
    }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }

    public func setWake(_ wake: (@Sendable () -> Void)?) {
        state.withLock { $0.wake = wake }
    }

    /// Moves the time forward and wakes the loop (outside the lock: the loop reads `now`).
    /// `wakingLoop: false` is time passing while the loop sleeps with nothing due, as the
    /// real clock does.
    public func advance(by duration: Duration, wakingLoop: Bool = true) {
        let wake = state.withLock { state -> (@Sendable () -> Void)? in
            state.now += duration
            return state.wake
        }
        if wakingLoop { wake?() }
    }
}
