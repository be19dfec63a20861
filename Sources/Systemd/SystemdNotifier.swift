#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tells the service manager about state changes (`sd_notify(3)` without libsystemd).
///
/// systemd sets `NOTIFY_SOCKET` for `Type=notify` units; every message is one AF_UNIX datagram
/// of newline-separated `KEY=value` assignments. When the variable is absent (started by hand,
/// in a test, under another supervisor) the notifier is disabled and every call is a no-op.
///
/// Typical use in a server:
/// ```swift
/// let notifier = try SystemdNotifier(unsetEnvironment: true)   // at start-up, before threads
/// // … load the model, start workers …
/// try? notifier.ready(status: "serving on 127.0.0.1:8080")
/// if let interval = notifier.watchdogInterval { /* every `interval`, if healthy: */ try? notifier.watchdog() }
/// // on SIGTERM:
/// try? notifier.stopping(status: "draining")
/// ```
/// The value is immutable and `Sendable`; any thread may call it. Each call opens and closes its
/// own socket, so nothing leaks into child processes.
public struct SystemdNotifier: Sendable {
    /// Where datagrams go; `nil` when `NOTIFY_SOCKET` is unset (notifications are no-ops).
    let address: NotifySocketAddress?

    /// The watchdog timeout systemd enforces (`WATCHDOG_USEC`), or `nil` when the watchdog is
    /// off or addressed to another process (`WATCHDOG_PID` ≠ this process).
    public let watchdogTimeout: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the process environment.
    ///
    /// - Parameter unsetEnvironment: remove the three variables afterwards so that child
    ///   processes (workers) do not inherit them. `unsetenv` is not thread-safe: pass `true`
    ///   only at start-up, before other threads exist.
    /// - Throws: `SystemdError.invalidEnvironment` or `.unsupportedNotifyAddress` when a
    ///   variable is set but malformed.
    public init(unsetEnvironment: Bool = false) throws(SystemdError) {
        var environment = ProcessEnvironment()
        try self.init(reading: &environment, processID: getpid(), unsetEnvironment: unsetEnvironment)
    }

    /// Reads the variables from `environment` instead of the process environment (for tests,
    /// or a launcher that builds a child's environment).
    ///
    /// - Parameter processID: the pid `WATCHDOG_PID` is compared with.
    public init(environment: [String: String], processID: Int32 = getpid()) throws(SystemdError) {
        var store = DictionaryEnvironment(variables: environment)
        try self.init(reading: &store, processID: processID, unsetEnvironment: false)
    }

    /// A notifier that never sends anything.
    public static let disabled = SystemdNotifier(address: nil, watchdogTimeout: nil)

    private init(address: NotifySocketAddress?, watchdogTimeout: Duration?) {
        self.address = address
        self.watchdogTimeout = watchdogTimeout
    }

    init<E: EnvironmentStore>(reading environment: inout E, processID: Int32,
                              unsetEnvironment: Bool) throws(SystemdError) {
        defer {
            if unsetEnvironment {
                for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { environment.remove(name) }
            }
        }
        address = try environment.value("NOTIFY_SOCKET").map { value throws(SystemdError) in
            try NotifySocketAddress(parsing: value)
        }
        watchdogTimeout = try Self.parseWatchdog(usec: environment.value("WATCHDOG_USEC"),
                                                 pid: environment.value("WATCHDOG_PID"),
                                                 processID: processID)
    }

    static func parseWatchdog(usec: String?, pid: String?, processID: Int32) throws(SystemdError) -> Duration? {
        guard let usec else { return nil }
        guard let micros = UInt64(usec), micros > 0, micros <= UInt64(Int64.max) else {
            throw .invalidEnvironment(variable: "WATCHDOG_USEC", value: usec, reason: "not a positive integer")
        }
        if let pid {
            guard let owner = Int32(pid), owner > 0 else {
                throw .invalidEnvironment(variable: "WATCHDOG_PID", value: pid, reason: "not a process id")
            }
            // The watchdog belongs to another process (e.g. we were forked from the main one).
            if owner != processID { return nil }
        }
        return .microseconds(Int64(micros))
    }

    /// `true` when `NOTIFY_SOCKET` was set, i.e. messages actually go somewhere.
    public var isEnabled: Bool { address != nil }

    /// How often to call `watchdog()`: half of `WATCHDOG_USEC`, as `sd_watchdog_enabled(3)`
    /// recommends, so one late ping does not get the service killed. `nil` when off.
    public var watchdogInterval: Duration? { watchdogTimeout.map { $0 / 2 } }

    /// `watchdogInterval` in nanoseconds, for timers that count in `UInt64` nanoseconds.
    public var watchdogIntervalNanoseconds: UInt64? {
        watchdogInterval.map { interval in
            let (seconds, attoseconds) = interval.components
            return UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        }
    }

    /// Sends raw assignments, e.g. `"READY=1\nSTATUS=serving"`. No-op when disabled.
    public func notify(_ state: String) throws(SystemdError) {
        guard let address else { return }
        let bytes = Array(state.utf8)
        if bytes.contains(0) { throw .invalidState(state) }
        try address.send(bytes)
    }

    /// `READY=1`: start-up finished; under `Type=notify` dependent units start only now.
    public func ready(status: String? = nil) throws(SystemdError) {
        try notify(Self.message("READY=1", status: status))
    }

    /// `STOPPING=1`: shutdown (draining) began; systemd shows the unit as "deactivating".
    public func stopping(status: String? = nil) throws(SystemdError) {
        try notify(Self.message("STOPPING=1", status: status))
    }

    /// `WATCHDOG=1`: the service is alive; send every `watchdogInterval` while healthy.
    public func watchdog() throws(SystemdError) {
        try notify("WATCHDOG=1")
    }

    /// `STATUS=…`: free-form text shown by `systemctl status`.
    public func status(_ text: String) throws(SystemdError) {
        try notify(Self.message(nil, status: text))
    }

    /// `EXTEND_TIMEOUT_USEC=…`: asks for more time in the current start-up or stop phase
    /// (for a slow model load or a long drain) beyond `TimeoutStartSec`/`TimeoutStopSec`.
    public func extendTimeout(by duration: Duration) throws(SystemdError) {
        let (seconds, attoseconds) = duration.components
        let micros = max(0, seconds) * 1_000_000 + max(0, attoseconds) / 1_000_000_000_000
        try notify("EXTEND_TIMEOUT_USEC=\(micros)")
    }

    /// Joins an assignment and a status line; newlines in `status` would start new
    /// assignments, so they become spaces.
    static func message(_ assignment: String?, status: String?) -> String {
        var lines: [String] = []
        if let assignment { lines.append(assignment) }
        if let status {
            lines.append("STATUS=" + status.map { $0.isNewline ? " " : String($0) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
