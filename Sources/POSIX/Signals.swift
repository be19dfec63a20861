#if canImport(Glibc)
import Glibc
#endif
import CSystemShims

/// Process-wide signal dispositions.
public enum Signals {
    /// Ignores `signal` (e.g. `SIGPIPE`, so writing to a closed socket returns `EPIPE`
    /// instead of killing the process). Children spawned with `ChildProcess` get default
    /// dispositions back.
    public static func ignore(_ signal: Int32) throws {
        try syscallValue(name: "sigaction(SIG_IGN)") { fs_signal_ignore(signal) }
    }

    /// Restores the default disposition of `signal` and detaches any `SignalNotifier`.
    public static func restoreDefault(_ signal: Int32) throws {
        try syscallValue(name: "sigaction(SIG_DFL)") { fs_signal_default(signal) }
    }
}

/// Turns signals into readable bytes on a pipe (the self-pipe trick) so an event loop can
/// handle `SIGTERM`/`SIGINT` as ordinary events.
///
/// Why not `signalfd`: it only sees signals that are blocked in *every* thread, and Swift
/// programs start threads (Dispatch, the cooperative pool, our own pools) before anyone can
/// block the mask; a signal delivered to an unblocked thread would take its default action.
/// A `sigaction` handler runs on whichever thread the kernel picks and just writes a byte.
///
/// One notifier per signal per process: a newer notifier for the same signal takes over.
public final class SignalNotifier: Sendable {
    /// The read end: readable when a signal arrived. Register it for `.readable`.
    public let descriptor: FileDescriptor
    private let writeEnd: FileDescriptor
    /// The signals this notifier handles.
    public let signals: [Int32]

    /// Installs handlers for `signals` (e.g. `[SIGTERM, SIGINT]`).
    public init(signals: [Int32]) throws {
        var fds: [Int32] = [-1, -1]
        try fds.withUnsafeMutableBufferPointer { buffer in
            _ = try syscallValue(name: "pipe2") { fs_pipe2_cloexec_nonblock(buffer.baseAddress) }
        }
        descriptor = FileDescriptor(rawValue: fds[0])
        writeEnd = FileDescriptor(rawValue: fds[1])
        self.signals = signals
        for signal in signals {
            try syscallValue(name: "sigaction") { fs_signal_install(signal, fds[1]) }
        }
    }

    deinit { uninstall() }

    /// Restores default dispositions for the handled signals (unless a newer notifier took
    /// a signal over). Called automatically when the notifier is released, before its pipe
    /// closes, so a late signal never writes into a reused descriptor.
    public func uninstall() {
        for signal in signals { _ = fs_signal_uninstall(signal, writeEnd.rawValue) }
    }

    /// Returns the signals received since the last call (in arrival order, possibly with
    /// repeats), without blocking.
    public func drain() -> [Int32] {
        var received: [Int32] = []
        while received.count < 1024 {
            guard case .done(let bytes) = (try? descriptor.read(upTo: 64)) ?? .wouldBlock, !bytes.isEmpty else { break }
            received.append(contentsOf: bytes.map { Int32($0) })
        }
        return received
    }

    /// Blocks until a signal arrives or the timeout passes (`-1` = forever); returns the
    /// signals received (empty on timeout).
    public func wait(timeoutMilliseconds: Int32) -> [Int32] {
        _ = try? descriptor.wait(for: .readable, timeoutMilliseconds: timeoutMilliseconds)
        return drain()
    }
}
