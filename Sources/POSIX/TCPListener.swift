#if canImport(Glibc)
import Glibc
#endif
import CSystemShims

/// A non-blocking, close-on-exec listening TCP socket: bound from a host and port, or
/// adopted from a descriptor systemd passed (socket activation).
public final class TCPListener: Sendable {
    /// The listening socket.
    public let descriptor: FileDescriptor
    /// The bound address (with the real port when 0 was asked for).
    public let localAddress: SocketAddress

    /// Binds and listens on `host:port` with `SO_REUSEADDR` (restarts do not wait for
    /// `TIME_WAIT`). Port 0 picks an ephemeral port; read it from `localAddress.port`.
    public init(host: String, port: UInt16, backlog: Int32 = 1024) throws {
        let address = try SocketAddress.resolve(host: host, port: port)
        let fd = try syscallValue(name: "socket") { fs_socket(address.familyConstant, fs_sock_stream(), 1) }
        let descriptor = FileDescriptor(rawValue: fd)
        try descriptor.setSocketOption(level: SOL_SOCKET, name: SO_REUSEADDR, value: 1)
        try address.withSockAddr { pointer, length in
            _ = try syscallValue(name: "bind") { Glibc.bind(fd, pointer, length) }
        }
        try syscallValue(name: "listen") { Glibc.listen(fd, backlog) }
        self.descriptor = descriptor
        self.localAddress = try descriptor.localAddress()
    }

    /// Adopts an already-listening socket (e.g. fd 3 from systemd's `LISTEN_FDS`): checks
    /// it is a stream socket in listening state, then sets `O_NONBLOCK` and `FD_CLOEXEC`
    /// (systemd passes it inheritable; worker processes must not hold it open).
    /// Takes ownership: the descriptor is closed with the listener.
    public init(adopting fd: Int32) throws {
        let descriptor = FileDescriptor(rawValue: fd)
        let type: Int32
        let listening: Int32
        do {
            type = try descriptor.socketOption(level: SOL_SOCKET, name: SO_TYPE)
            listening = try descriptor.socketOption(level: SOL_SOCKET, name: SO_ACCEPTCONN)
        } catch {
            _ = descriptor.release()   // not ours to close if it is not what we were promised
            throw SocketError.notAListeningStreamSocket(fd: fd, reason: "\(error)")
        }
        guard type == fs_sock_stream() else {
            _ = descriptor.release()
            throw SocketError.notAListeningStreamSocket(fd: fd, reason: "socket type \(type) is not SOCK_STREAM")
        }
        guard listening == 1 else {
            _ = descriptor.release()
            throw SocketError.notAListeningStreamSocket(fd: fd, reason: "listen() was not called on it")
        }
        try descriptor.setNonBlocking(true)
        try descriptor.setCloseOnExec(true)
        self.descriptor = descriptor
        self.localAddress = try descriptor.localAddress()
    }

    /// Accepts one pending connection as a non-blocking, close-on-exec socket
    /// (`accept4`), or `.wouldBlock` when none is pending. Connections that were reset
    /// before being accepted (`ECONNABORTED`, `EPROTO`) are skipped. `EMFILE`/`ENFILE`
    /// are thrown: the caller should pause accepting for a moment.
    public func accept() throws -> IOResult<FileDescriptor> {
        while true {
            let result: IOResult<Int32>
            do {
                result = try syscall(name: "accept4") { fs_accept4(descriptor.rawValue, nil, nil) }
            } catch {
                if error.errno == ECONNABORTED || error.errno == EPROTO { continue }
                throw error
            }
            switch result {
            case .done(let fd): return .done(FileDescriptor(rawValue: fd))
            case .wouldBlock: return .wouldBlock
            }
        }
    }

    /// Stops listening (pending, not yet accepted connections are reset by the kernel).
    public func close() throws { try descriptor.close() }
}

/// Client-side TCP helpers.
public enum TCPClient {
    /// Opens a blocking, close-on-exec TCP connection to `host:port` with `TCP_NODELAY`.
    public static func connect(host: String, port: UInt16) throws -> FileDescriptor {
        let address = try SocketAddress.resolve(host: host, port: port)
        let fd = try syscallValue(name: "socket") { fs_socket(address.familyConstant, fs_sock_stream(), 0) }
        let descriptor = FileDescriptor(rawValue: fd)
        do {
            try address.withSockAddr { pointer, length in
                _ = try syscallValue(name: "connect") { Glibc.connect(fd, pointer, length) }
            }
        } catch let error as SystemCallError where error.errno == EISCONN || error.errno == EALREADY {
            // A signal interrupted the blocking connect and the retry found it still in
            // progress (EALREADY) or done (EISCONN): wait for it and read its outcome.
            _ = try descriptor.wait(for: .writable, timeoutMilliseconds: -1)
            let pending = try descriptor.socketOption(level: SOL_SOCKET, name: SO_ERROR)
            if pending != 0 { throw SystemCallError(call: "connect", errno: pending) }
        }
        try descriptor.setNoDelay(true)
        return descriptor
    }
}
