import CSystemShims

/// Connected pairs of Unix-domain sockets (`socketpair(AF_UNIX, …, SOCK_CLOEXEC)`), e.g. for
/// a supervisor and the worker process it spawns.
public enum SocketPair {
    /// The socket type.
    public enum Kind: Sendable {
        /// A byte stream (no message boundaries, any size).
        case stream
        /// Reliable, ordered messages with boundaries (each message must fit the socket buffer).
        case seqpacket
        /// Unreliable-in-theory but on Unix sockets reliable datagrams.
        case datagram
    }

    /// Creates a blocking, close-on-exec pair. Hand one end to a child with
    /// `ChildProcess.spawn(…, fileDescriptors:)`, which clears close-on-exec on the child's copy.
    public static func make(_ kind: Kind = .stream) throws -> (FileDescriptor, FileDescriptor) {
        let type: Int32
        switch kind {
        case .stream: type = fs_sock_stream()
        case .seqpacket: type = fs_sock_seqpacket()
        case .datagram: type = fs_sock_dgram()
        }
        var fds: [Int32] = [-1, -1]
        try fds.withUnsafeMutableBufferPointer { buffer in
            _ = try syscallValue(name: "socketpair") { fs_socketpair(type, buffer.baseAddress) }
        }
        return (FileDescriptor(rawValue: fds[0]), FileDescriptor(rawValue: fds[1]))
    }
}
