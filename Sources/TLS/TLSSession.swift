import COpenSSL

/// What a TLS call on a non-blocking socket did.
public enum TLSIO: Equatable, Sendable {
    /// Bytes moved (> 0), or the handshake completed (0).
    case done(Int)
    /// The peer closed the session.
    case closed
    /// Retry when the socket is readable.
    case wantRead
    /// Retry when the socket is writable.
    case wantWrite
}

/// One server-side TLS connection over a non-blocking socket the caller owns (and closes).
/// Used by one thread at a time (the event loop's).
public final class TLSSession {
    private let pointer: UnsafeMutableRawPointer
    /// Kept alive while the session uses it (a rotated-away context must outlive it).
    private let context: TLSContext

    /// Starts the server side of a handshake on `fd`.
    public init(context: TLSContext, fd: Int32) throws(TLSError) {
        let (session, message) = withErrorBuffer { buffer, length in fs_tls_session_new(context.pointer, fd, buffer, length) }
        guard let session else { throw TLSError(message) }
        pointer = session
        self.context = context
    }

    deinit { fs_tls_session_free(pointer) }

    /// Advances the handshake: `.done(1)` when complete.
    public func handshake() throws(TLSError) -> TLSIO {
        let (result, message) = withErrorBuffer { buffer, length in fs_tls_handshake(pointer, buffer, length) }
        if result == Int32(FS_TLS_CLOSED) { throw TLSError("TLS handshake: the peer closed") }
        return try Self.map(Int(result), message)
    }

    /// Reads decrypted bytes into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(TLSError) -> TLSIO {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        let (result, message) = withErrorBuffer { errors, length in fs_tls_read(pointer, base, buffer.count, errors, length) }
        return try Self.map(result, message)
    }

    /// Encrypts and writes bytes from `buffer` (a retry after `wantRead`/`wantWrite` must
    /// pass the same bytes).
    public func write(from buffer: UnsafeRawBufferPointer) throws(TLSError) -> TLSIO {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .done(0) }
        let (result, message) = withErrorBuffer { errors, length in fs_tls_write(pointer, base, buffer.count, errors, length) }
        return try Self.map(result, message)
    }

    /// Whether bytes wait inside the session that epoll cannot report.
    public var hasPending: Bool { fs_tls_has_pending(pointer) != 0 }

    /// Sends close_notify if the handshake finished (best effort, never blocks).
    public func shutdown() { fs_tls_shutdown(pointer) }

    /// The negotiated protocol version, e.g. `"TLSv1.3"`.
    public var version: String { String(cString: fs_tls_version(pointer)) }

    /// Whether the session resumed a previous one (ticket).
    public var resumed: Bool { fs_tls_session_reused(pointer) != 0 }

    private static func map(_ result: Int, _ message: String) throws(TLSError) -> TLSIO {
        switch result {
        case 1...: return .done(result)
        case Int(FS_TLS_CLOSED): return .closed
        case Int(FS_TLS_WANT_READ): return .wantRead
        case Int(FS_TLS_WANT_WRITE): return .wantWrite
        default: throw TLSError(message.isEmpty ? "TLS error" : message)
        }
    }
}

/// SHA-256 of `bytes` (32 bytes), for comparing secrets by digest in constant time.
public func sha256(_ bytes: [UInt8]) -> [UInt8] {
    var digest = [UInt8](repeating: 0, count: 32)
    bytes.withUnsafeBytes { input in
        digest.withUnsafeMutableBufferPointer { output in
            fs_sha256(input.baseAddress, input.count, output.baseAddress)
        }
    }
    return digest
}
