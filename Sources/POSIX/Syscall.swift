#if canImport(Glibc)
import Glibc
#endif

/// A failed system call: which call and the `errno` it left.
public struct SystemCallError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The name of the failed call, e.g. `"bind"` or `"accept4"`.
    public let call: String
    /// The `errno` value the call set.
    public let errno: Int32

    /// Creates an error for `call` with `errno`.
    public init(call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    /// `"bind: Address already in use (errno 98)"`.
    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The outcome of a call on a non-blocking descriptor: done, or it would have blocked.
public enum IOResult<Value> {
    /// The call completed and returned `Value`.
    case done(Value)
    /// The call returned `EAGAIN`/`EWOULDBLOCK`; wait for readiness and try again.
    case wouldBlock

    /// The value, or `nil` if the call would have blocked.
    public var value: Value? {
        if case .done(let value) = self { return value }
        return nil
    }
}

extension IOResult: Sendable where Value: Sendable {}
extension IOResult: Equatable where Value: Equatable {}

/// Runs a system call the one way this package does it: retries on `EINTR`, reports
/// `EAGAIN`/`EWOULDBLOCK` as `.wouldBlock`, and throws any other failure as a
/// `SystemCallError` carrying `errno` and `name`.
///
/// `call` must return `-1` on failure and leave `errno` set (every libc call and every
/// `CSystemShims` function does). `errno` is read immediately after the call, before any
/// other code can run on this thread.
///
/// Do not use this for `close(2)`: on Linux `close` releases the descriptor even when
/// it reports `EINTR`, so retrying could close a descriptor another thread just opened.
@inline(__always)
public func syscall<T: FixedWidthInteger & SignedInteger>(
    name: StaticString, _ call: () -> T
) throws(SystemCallError) -> IOResult<T> {
    while true {
        let result = call()
        if result != -1 { return .done(result) }
        let code = errno
        if code == EINTR { continue }
        if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
        throw SystemCallError(call: "\(name)", errno: code)
    }
}

/// `syscall(name:_:)` for calls where blocking cannot happen or is itself an error
/// (`bind`, `listen`, `fcntl`, a blocking descriptor): `.wouldBlock` is thrown as `EAGAIN`.
@inline(__always)
@discardableResult
public func syscallValue<T: FixedWidthInteger & SignedInteger>(
    name: StaticString, _ call: () -> T
) throws(SystemCallError) -> T {
    switch try syscall(name: name, call) {
    case .done(let value): return value
    case .wouldBlock: throw SystemCallError(call: "\(name)", errno: EAGAIN)
    }
}
