/// A TLS failure, with OpenSSL's reason and what was being done (file paths included).
public struct TLSError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What failed, e.g. `"key file /etc/k.pem does not match the certificate in /etc/c.pem: …"`.
    public let message: String

    /// Creates an error.
    public init(_ message: String) { self.message = message }

    public var description: String { message }
}

/// Runs `body` with a zeroed C buffer for an error message and returns that message.
func withErrorBuffer<R>(_ body: (UnsafeMutablePointer<CChar>, Int) -> R) -> (R, String) {
    var buffer = [CChar](repeating: 0, count: 1024)
    let result = buffer.withUnsafeMutableBufferPointer { pointer in
        body(pointer.baseAddress!, pointer.count)   // a non-empty array always has a base address
    }
    let message = buffer.withUnsafeBufferPointer { pointer in
        String(decoding: pointer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    return (result, message)
}
