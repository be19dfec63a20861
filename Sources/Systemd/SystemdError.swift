#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What went wrong talking to systemd, and where.
///
/// A malformed variable is a configuration error (the unit or a launcher set something
/// nonsensical); a failed send usually means the manager went away. Callers typically log the
/// second and refuse to start on the first.
public enum SystemdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// An environment variable set by the service manager could not be parsed.
    case invalidEnvironment(variable: String, value: String, reason: String)
    /// `NOTIFY_SOCKET` names an address this implementation cannot reach (for example `vsock:`).
    case unsupportedNotifyAddress(String)
    /// A state string contained something that would corrupt the datagram (a NUL byte).
    case invalidState(String)
    /// A system call failed; `operation` names it, `path` is the socket it concerned.
    case systemCall(operation: String, path: String, errno: Int32)
    /// A descriptor passed via `LISTEN_FDS` is not open in this process.
    case descriptorNotOpen(fd: Int32)

    public var description: String {
        switch self {
        case let .invalidEnvironment(variable, value, reason):
            return "systemd: \(variable)=\"\(value)\" is invalid: \(reason)"
        case let .unsupportedNotifyAddress(address):
            return "systemd: NOTIFY_SOCKET=\"\(address)\" is not a supported address (need an absolute path or @abstract name)"
        case let .invalidState(state):
            return "systemd: notification \(state.debugDescription) contains a NUL byte"
        case let .systemCall(operation, path, code):
            return "systemd: \(operation) on \(path) failed: \(String(cString: strerror(code))) (errno \(code))"
        case let .descriptorNotOpen(fd):
            return "systemd: LISTEN_FDS names fd \(fd), which is not open in this process"
        }
    }
}
