#if canImport(Glibc)
import Glibc
#endif
import CSystemShims

extension FileDescriptor {
    /// Which direction `shutdown(_:)` closes.
    public enum ShutdownDirection: Sendable {
        /// No more reads.
        case read
        /// No more writes: the peer sees end of file after the data already sent.
        case write
        /// Both.
        case both
    }

    /// `shutdown(2)`. `ENOTCONN` (peer already gone) is not an error here.
    public func shutdown(_ direction: ShutdownDirection) throws {
        let how: Int32
        switch direction {
        case .read: how = Int32(SHUT_RD)
        case .write: how = Int32(SHUT_WR)
        case .both: how = Int32(SHUT_RDWR)
        }
        do {
            try syscallValue(name: "shutdown") { Glibc.shutdown(rawValue, how) }
        } catch {
            if error.errno != ENOTCONN { throw error }
        }
    }

    /// Sets an integer socket option.
    public func setSocketOption(level: Int32, name: Int32, value: Int32) throws {
        try syscallValue(name: "setsockopt") { fs_setsockopt_int(rawValue, level, name, value) }
    }

    /// Reads an integer socket option.
    public func socketOption(level: Int32, name: Int32) throws -> Int32 {
        var value: Int32 = 0
        try syscallValue(name: "getsockopt") { fs_getsockopt_int(rawValue, level, name, &value) }
        return value
    }

    /// `TCP_NODELAY`: send small writes at once instead of waiting to coalesce them.
    public func setNoDelay(_ on: Bool = true) throws {
        try setSocketOption(level: Int32(IPPROTO_TCP), name: TCP_NODELAY, value: on ? 1 : 0)
    }

    /// `SO_RCVTIMEO` / `SO_SNDTIMEO` for blocking sockets (0 = no timeout).
    public func setTimeouts(receiveMilliseconds: Int, sendMilliseconds: Int) throws {
        try syscallValue(name: "setsockopt(SO_RCVTIMEO)") {
            fs_setsockopt_timeval(rawValue, SO_RCVTIMEO, Int64(receiveMilliseconds) * 1000)
        }
        try syscallValue(name: "setsockopt(SO_SNDTIMEO)") {
            fs_setsockopt_timeval(rawValue, SO_SNDTIMEO, Int64(sendMilliseconds) * 1000)
        }
    }

    /// `SO_SNDBUF` / `SO_RCVBUF` in bytes (the kernel doubles and caps the value).
    public func setBufferSizes(send: Int32?, receive: Int32?) throws {
        if let send { try setSocketOption(level: SOL_SOCKET, name: SO_SNDBUF, value: send) }
        if let receive { try setSocketOption(level: SOL_SOCKET, name: SO_RCVBUF, value: receive) }
    }
}
