import COpenSSL

/// A server's TLS settings loaded once: certificate chain, private key and, for mutual TLS,
/// the CA that client certificates must chain to. Immutable; rotation builds a new one.
///
/// TLS 1.2 is the minimum (1.3 preferred), TLS 1.2 suites are ECDHE with AES-GCM or
/// ChaCha20-Poly1305, ALPN offers `http/1.1`, and sessions resume from tickets.
public final class TLSContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is safe to share between threads once configured (OpenSSL
    // locks its session cache and reference counts); nothing here mutates it after init.
    let pointer: UnsafeMutableRawPointer
    /// The PEM files it was loaded from.
    public let certificatePath: String
    public let keyPath: String
    public let clientCAPath: String?

    /// Loads and checks the files. Errors name the file and the problem: missing or
    /// unreadable, not PEM, key not matching the certificate.
    public init(certificatePath: String, keyPath: String, clientCAPath: String? = nil) throws(TLSError) {
        let (context, message) = withErrorBuffer { buffer, length in
            certificatePath.withCString { cert in
                keyPath.withCString { key in
                    if let clientCAPath {
                        return clientCAPath.withCString { ca in fs_tls_context_new(cert, key, ca, buffer, length) }
                    }
                    return fs_tls_context_new(cert, key, nil, buffer, length)
                }
            }
        }
        guard let context else { throw TLSError(message.isEmpty ? "cannot load the TLS certificate and key" : message) }
        pointer = context
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.clientCAPath = clientCAPath
    }

    deinit { fs_tls_context_free(pointer) }

    /// The certificate's expiry (`notAfter`) in seconds since 1970, if readable.
    public var notAfterUnixSeconds: Int64? {
        let value = fs_tls_context_not_after(pointer)
        return value == 0 ? nil : value
    }
}

/// The context new handshakes use, swapped atomically on rotation (SIGHUP): connections
/// already established keep the context they started with.
public final class TLSContextHolder: Sendable {
    private let box: Locked<TLSContext>

    /// Holds `context`.
    public init(_ context: TLSContext) { box = Locked(context) }

    /// The context for the next handshake.
    public var current: TLSContext { box.withLock { $0 } }

    /// Loads the same files again; on success new handshakes use them, on failure the old
    /// context stays and the error says why.
    @discardableResult
    public func reload() throws(TLSError) -> TLSContext {
        let old = current
        let fresh = try TLSContext(certificatePath: old.certificatePath, keyPath: old.keyPath, clientCAPath: old.clientCAPath)
        box.withLock { $0 = fresh }
        return fresh
    }
}

import Locking
