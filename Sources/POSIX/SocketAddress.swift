#if canImport(Glibc)
import Glibc
#endif

/// Errors about socket set-up that are not a single failed system call.
public enum SocketError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `host` is neither a numeric address nor a name `getaddrinfo` could resolve.
    case unresolvableHost(host: String, reason: String)
    /// A descriptor handed over (e.g. by systemd) is not a listening stream socket.
    case notAListeningStreamSocket(fd: Int32, reason: String)
    /// A port outside 0...65535 or an address family this package does not handle.
    case invalidAddress(String)

    /// A sentence naming the host or descriptor.
    public var description: String {
        switch self {
        case .unresolvableHost(let host, let reason): return "cannot resolve host '\(host)': \(reason)"
        case .notAListeningStreamSocket(let fd, let reason): return "fd \(fd) is not a listening stream socket: \(reason)"
        case .invalidAddress(let reason): return "invalid address: \(reason)"
        }
    }
}

/// An IPv4, IPv6 or Unix-domain socket address.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// The address family.
    public enum Family: Sendable, Hashable {
        /// `AF_INET`.
        case ipv4
        /// `AF_INET6`.
        case ipv6
        /// `AF_UNIX` (host holds the path).
        case unix
    }

    /// The family.
    public let family: Family
    /// Numeric host ("127.0.0.1", "::1") or, for `.unix`, the path.
    public let host: String
    /// The port (0 for `.unix`).
    public let port: UInt16
    /// The raw `sockaddr_*` bytes.
    private let storage: [UInt8]

    /// `"127.0.0.1:8080"`, `"[::1]:8080"` or the Unix path.
    public var description: String {
        switch family {
        case .ipv4: return "\(host):\(port)"
        case .ipv6: return "[\(host)]:\(port)"
        case .unix: return host
        }
    }

    /// Resolves `host` (numeric IPv4, numeric IPv6 with or without brackets, or a name via
    /// `getaddrinfo`, which may block) and `port`. `""`, `"*"` mean IPv4 any-address.
    public static func resolve(host: String, port: UInt16) throws(SocketError) -> SocketAddress {
        var name = host
        if name.isEmpty || name == "*" { name = "0.0.0.0" }
        if name.hasPrefix("["), name.hasSuffix("]") { name = String(name.dropFirst().dropLast()) }
        var v4 = sockaddr_in()
        if inet_pton(AF_INET, name, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = port.bigEndian
            return SocketAddress(raw: withUnsafeBytes(of: v4) { Array($0) })
        }
        var v6 = sockaddr_in6()
        if inet_pton(AF_INET6, name, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = port.bigEndian
            return SocketAddress(raw: withUnsafeBytes(of: v6) { Array($0) })
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(name, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = status == 0 ? "no addresses" : String(cString: gai_strerror(status))
            throw .unresolvableHost(host: host, reason: reason)
        }
        defer { freeaddrinfo(list) }
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let current = entry {
            let family = current.pointee.ai_family
            if (family == AF_INET || family == AF_INET6), let address = current.pointee.ai_addr {
                let bytes = Array(UnsafeRawBufferPointer(start: address, count: Int(current.pointee.ai_addrlen)))
                return SocketAddress(raw: bytes)
            }
            entry = current.pointee.ai_next
        }
        throw .unresolvableHost(host: host, reason: "no IPv4 or IPv6 address")
    }

    /// Decodes raw `sockaddr` bytes as returned by `getsockname`/`accept`.
    package init(raw: [UInt8]) {
        // Never empty, so `withSockAddr` always has a base address (an unnamed Unix socket
        // reports length 0).
        storage = raw.count >= MemoryLayout<sa_family_t>.size ? raw : [UInt8](repeating: 0, count: MemoryLayout<sa_family_t>.size)
        var familyValue: sa_family_t = 0
        if raw.count >= MemoryLayout<sa_family_t>.size {
            familyValue = raw.withUnsafeBytes { $0.loadUnaligned(as: sa_family_t.self) }
        }
        switch Int32(familyValue) {
        case AF_INET where raw.count >= MemoryLayout<sockaddr_in>.size:
            let v4 = raw.withUnsafeBytes { $0.loadUnaligned(as: sockaddr_in.self) }
            family = .ipv4
            port = UInt16(bigEndian: v4.sin_port)
            host = Self.numericHost(family: AF_INET, raw: raw, offset: MemoryLayout<sockaddr_in>.offset(of: \.sin_addr) ?? 4)
        case AF_INET6 where raw.count >= MemoryLayout<sockaddr_in6>.size:
            let v6 = raw.withUnsafeBytes { $0.loadUnaligned(as: sockaddr_in6.self) }
            family = .ipv6
            port = UInt16(bigEndian: v6.sin6_port)
            host = Self.numericHost(family: AF_INET6, raw: raw, offset: MemoryLayout<sockaddr_in6>.offset(of: \.sin6_addr) ?? 8)
        default:
            family = .unix
            port = 0
            let pathOffset = MemoryLayout<sa_family_t>.size
            let pathBytes = raw.count > pathOffset ? raw[pathOffset...].prefix { $0 != 0 } : []
            host = String(decoding: pathBytes, as: UTF8.self)
        }
    }

    private static func numericHost(family: Int32, raw: [UInt8], offset: Int) -> String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let ok = raw.withUnsafeBytes { bytes in
            text.withUnsafeMutableBufferPointer { out in
                inet_ntop(family, bytes.baseAddress.map { $0 + offset }, out.baseAddress, socklen_t(out.count)) != nil
            }
        }
        guard ok else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Calls `body` with a `sockaddr` pointer and length for this address.
    package func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { raw in
            // `storage` is never empty (see init), so the base address exists.
            try body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(raw.count))
        }
    }

    /// The `AF_*` constant.
    package var familyConstant: Int32 {
        switch family {
        case .ipv4: return AF_INET
        case .ipv6: return AF_INET6
        case .unix: return AF_UNIX
        }
    }

    /// Reads `getsockname`/`getpeername` into a `SocketAddress`.
    package static func query(
        _ name: StaticString, fd: Int32,
        _ call: (Int32, UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32
    ) throws -> SocketAddress {
        var raw = [UInt8](repeating: 0, count: MemoryLayout<sockaddr_storage>.size)
        var length = socklen_t(raw.count)
        try raw.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { throw SystemCallError(call: "\(name)", errno: EINVAL) }
            let pointer = base.assumingMemoryBound(to: sockaddr.self)
            try syscallValue(name: name) { call(fd, pointer, &length) }
        }
        return SocketAddress(raw: Array(raw.prefix(Int(length))))
    }
}

extension FileDescriptor {
    /// The socket's own address (`getsockname`).
    public func localAddress() throws -> SocketAddress {
        try SocketAddress.query("getsockname", fd: rawValue) { Glibc.getsockname($0, $1, $2) }
    }

    /// The connected peer's address (`getpeername`).
    public func peerAddress() throws -> SocketAddress {
        try SocketAddress.query("getpeername", fd: rawValue) { Glibc.getpeername($0, $1, $2) }
    }
}
