#if canImport(Glibc)
import Glibc
#endif
import CSystemShims
import Synchronization

/// Owns one file descriptor and closes it exactly once: on `close()` or, if never
/// closed, when the last reference goes away. `close()` is idempotent and thread-safe.
///
/// I/O methods are not synchronised with each other; one thread at a time should read and
/// one at a time write (the usual rule for sockets).
public final class FileDescriptor: Sendable, CustomStringConvertible {
    /// The descriptor number. Meaningless (and possibly reused by the kernel) after `close()`.
    public let rawValue: Int32
    private let closed: Atomic<Bool>

    /// Takes ownership of `rawValue`.
    public init(rawValue: Int32) {
        self.rawValue = rawValue
        self.closed = Atomic(false)
    }

    deinit {
        if !closed.load(ordering: .acquiring) { _ = Glibc.close(rawValue) }
    }

    /// `"fd 7"`, or `"fd 7 (closed)"`.
    public var description: String { isClosed ? "fd \(rawValue) (closed)" : "fd \(rawValue)" }

    /// Whether `close()` or `release()` has been called.
    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Closes the descriptor; later calls do nothing. `EINTR` is not retried: Linux has
    /// already released the descriptor when `close` reports it.
    public func close() throws {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if Glibc.close(rawValue) == -1 {
            let code = errno
            if code != EINTR { throw SystemCallError(call: "close", errno: code) }
        }
    }

    /// Gives up ownership without closing; the caller now owns the returned number.
    /// Returns `nil` if the descriptor was already closed or released.
    public func release() -> Int32? {
        closed.exchange(true, ordering: .acquiringAndReleasing) ? nil : rawValue
    }

    @inline(__always)
    private func checkOpen(_ call: StaticString) throws {
        if closed.load(ordering: .relaxed) { throw SystemCallError(call: "\(call)", errno: EBADF) }
    }

    // MARK: flags

    /// Sets or clears `O_NONBLOCK`.
    public func setNonBlocking(_ on: Bool = true) throws {
        try checkOpen("fcntl(F_GETFL)")
        let flags = try syscallValue(name: "fcntl(F_GETFL)") { fs_fcntl_getfl(rawValue) }
        let wanted = on ? flags | fs_o_nonblock() : flags & ~fs_o_nonblock()
        if wanted != flags { try syscallValue(name: "fcntl(F_SETFL)") { fs_fcntl_setfl(rawValue, wanted) } }
    }

    /// Whether `O_NONBLOCK` is set.
    public func isNonBlocking() throws -> Bool {
        try checkOpen("fcntl(F_GETFL)")
        return try syscallValue(name: "fcntl(F_GETFL)") { fs_fcntl_getfl(rawValue) } & fs_o_nonblock() != 0
    }

    /// Sets or clears `FD_CLOEXEC` (set it on anything a spawned child must not inherit).
    public func setCloseOnExec(_ on: Bool = true) throws {
        try checkOpen("fcntl(F_GETFD)")
        let flags = try syscallValue(name: "fcntl(F_GETFD)") { fs_fcntl_getfd(rawValue) }
        let wanted = on ? flags | fs_fd_cloexec() : flags & ~fs_fd_cloexec()
        if wanted != flags { try syscallValue(name: "fcntl(F_SETFD)") { fs_fcntl_setfd(rawValue, wanted) } }
    }

    /// Whether `FD_CLOEXEC` is set.
    public func isCloseOnExec() throws -> Bool {
        try checkOpen("fcntl(F_GETFD)")
        return try syscallValue(name: "fcntl(F_GETFD)") { fs_fcntl_getfd(rawValue) } & fs_fd_cloexec() != 0
    }

    // MARK: reading

    /// Reads into `buffer`'s memory; `.done(0)` means end of file.
    package func read(into buffer: UnsafeMutableRawBufferPointer) throws -> IOResult<Int> {
        try checkOpen("read")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        return try syscall(name: "read") { Glibc.read(rawValue, base, buffer.count) }
    }

    /// Reads at most `maxBytes`; `.done([])` means end of file.
    public func read(upTo maxBytes: Int) throws -> IOResult<[UInt8]> {
        precondition(maxBytes > 0, "maxBytes must be positive")
        var bytes = [UInt8](repeating: 0, count: maxBytes)
        let result = try bytes.withUnsafeMutableBytes { buffer in
            try read(into: buffer)
        }
        guard case .done(let count) = result else { return .wouldBlock }
        bytes.removeLast(maxBytes - count)
        return .done(bytes)
    }

    // MARK: writing

    /// Writes from `buffer`'s memory; returns how many bytes the kernel took.
    package func write(from buffer: UnsafeRawBufferPointer) throws -> IOResult<Int> {
        try checkOpen("write")
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        return try syscall(name: "write") { Glibc.write(rawValue, base, buffer.count) }
    }

    /// Writes some prefix of `bytes`; returns its length.
    public func write(_ bytes: ArraySlice<UInt8>) throws -> IOResult<Int> {
        try bytes.withUnsafeBytes { buffer in try write(from: buffer) }
    }

    /// Writes some prefix of `bytes`; returns its length.
    public func write(_ bytes: [UInt8]) throws -> IOResult<Int> {
        try write(bytes[...])
    }

    /// Gathers up to `IOV_MAX` buffers into one `writev(2)`.
    package func writev(_ buffers: UnsafeBufferPointer<iovec>) throws -> IOResult<Int> {
        try checkOpen("writev")
        guard let base = buffers.baseAddress, buffers.count > 0 else { return .done(0) }
        return try syscall(name: "writev") { Glibc.writev(rawValue, base, Int32(buffers.count)) }
    }

    /// Writes the buffers in order with one `writev(2)`; returns how many bytes the kernel
    /// took (possibly ending inside any buffer). At most 64 buffers per call.
    public func writev(_ buffers: [ArraySlice<UInt8>]) throws -> IOResult<Int> {
        precondition(buffers.count <= 64, "at most 64 buffers per writev")
        var vectors = [iovec](repeating: iovec(), count: buffers.count)
        return try Self.pinning(buffers, from: 0, into: &vectors) { vectors in
            try vectors.withUnsafeBufferPointer { pointer in try writev(pointer) }
        }
    }

    /// Keeps every buffer's storage pinned (nested `withUnsafeBytes`) while `body` runs.
    private static func pinning<R>(
        _ buffers: [ArraySlice<UInt8>], from index: Int, into vectors: inout [iovec],
        _ body: (inout [iovec]) throws -> R
    ) throws -> R {
        if index == buffers.count { return try body(&vectors) }
        return try buffers[index].withUnsafeBytes { raw in
            vectors[index] = iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count)
            return try pinning(buffers, from: index + 1, into: &vectors, body)
        }
    }

    /// Writes all of `bytes`, waiting for writability when the descriptor is non-blocking.
    public func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            switch try write(bytes[offset...]) {
            case .done(let count): offset += count
            case .wouldBlock: _ = try wait(for: .writable, timeoutMilliseconds: -1)
            }
        }
    }

    // MARK: readiness

    /// What `wait(for:timeoutMilliseconds:)` waits for.
    public enum Readiness: Sendable {
        /// Data (or end of file) can be read.
        case readable
        /// A write would not block.
        case writable
    }

    /// Blocks until the descriptor is ready (or reports an error / hang-up) or the timeout
    /// passes (`-1` waits forever). Returns `false` on timeout.
    public func wait(for readiness: Readiness, timeoutMilliseconds: Int32) throws -> Bool {
        try checkOpen("poll")
        var entry = pollfd(fd: rawValue, events: Int16(readiness == .readable ? POLLIN : POLLOUT), revents: 0)
        let ready = try syscallValue(name: "poll") { Glibc.poll(&entry, 1, timeoutMilliseconds) }
        return ready > 0
    }
}
