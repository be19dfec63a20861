/// Where the server's event loop reads the time: every connection deadline (header, body,
/// keep-alive, write, linger, drain) is an instant of this clock.
///
/// Production uses `SystemServerClock`. Tests inject a clock they move by hand, so a timeout
/// test advances time instead of sleeping through it; such a clock must call the `wake`
/// closure after each jump, because the loop sleeps in `epoll_wait` until the next deadline
/// *as it computed it* and would otherwise not notice that time moved.
public protocol ServerClock: Sendable {
    /// The current instant.
    var now: ContinuousClock.Instant { get }
    /// Called by `HTTPServer.run` with a closure that interrupts the loop's wait (from any
    /// thread), and with nil when the loop stops. One loop at a time.
    func setWake(_ wake: (@Sendable () -> Void)?)
}

extension ServerClock {
    /// A clock that only moves forward on its own needs no wake-ups.
    public func setWake(_ wake: (@Sendable () -> Void)?) {}
}

/// The real time (`ContinuousClock`): what a deployed server uses.
public struct SystemServerClock: ServerClock {
    public init() {}

    @inline(__always)
    public var now: ContinuousClock.Instant { ContinuousClock.now }
}
