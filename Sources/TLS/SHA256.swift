import COpenSSL

/// A streaming SHA-256 (OpenSSL's), for digests of files too large to hold in memory.
public final class SHA256Hasher {
    /// The hash could not be computed (OpenSSL refused to allocate or update a context).
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    private let context: UnsafeMutableRawPointer

    /// A fresh hash.
    public init() throws(Failure) {
        guard let context = fs_sha256_new() else { throw Failure(description: "SHA-256: cannot create an OpenSSL digest context") }
        self.context = context
    }

    deinit { fs_sha256_free(context) }

    /// Adds `bytes` to the hash.
    public func update(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        guard bytes.count > 0 else { return }
        guard fs_sha256_update(context, bytes.baseAddress, bytes.count) == 1 else {
            throw Failure(description: "SHA-256: digest update failed")
        }
    }

    /// The 32-byte digest; the hasher must not be used afterwards.
    public func finish() throws(Failure) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        let ok = digest.withUnsafeMutableBufferPointer { fs_sha256_final(context, $0.baseAddress) }
        guard ok == 1 else { throw Failure(description: "SHA-256: digest finalisation failed") }
        return digest
    }
}
