#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The datagram address named by `NOTIFY_SOCKET`: a filesystem path (`/run/systemd/notify`)
/// or a Linux abstract-namespace name written with a leading `@`.
struct NotifySocketAddress: Equatable, Sendable {
    /// The bytes that go into `sun_path`; for an abstract name the first byte is NUL.
    let pathBytes: [UInt8]
    /// The variable's value as given, for error messages.
    let text: String

    /// Room in `sockaddr_un.sun_path` (108 on Linux).
    static let capacity = MemoryLayout.size(ofValue: sockaddr_un().sun_path)

    init(parsing value: String) throws(SystemdError) {
        let bytes = Array(value.utf8)
        guard let first = bytes.first else {
            throw .invalidEnvironment(variable: "NOTIFY_SOCKET", value: value, reason: "empty")
        }
        if bytes.contains(0) {
            throw .invalidEnvironment(variable: "NOTIFY_SOCKET", value: value, reason: "contains a NUL byte")
        }
        switch first {
        case UInt8(ascii: "/"):
            // A path needs its terminating NUL inside sun_path.
            guard bytes.count < Self.capacity else {
                throw .invalidEnvironment(variable: "NOTIFY_SOCKET", value: value,
                                          reason: "path longer than \(Self.capacity - 1) bytes")
            }
            pathBytes = bytes
        case UInt8(ascii: "@"):
            guard bytes.count > 1 else {
                throw .invalidEnvironment(variable: "NOTIFY_SOCKET", value: value, reason: "empty abstract name")
            }
            guard bytes.count <= Self.capacity else {
                throw .invalidEnvironment(variable: "NOTIFY_SOCKET", value: value,
                                          reason: "abstract name longer than \(Self.capacity - 1) bytes")
            }
            pathBytes = [0] + bytes.dropFirst()
        default:
            throw .unsupportedNotifyAddress(value)
        }
        text = value
    }

    var isAbstract: Bool { pathBytes.first == 0 }

    /// Sends one datagram, the way `sd_notify(3)` does: a fresh close-on-exec socket per
    /// message, so nothing stays open across `fork`/`posix_spawn` and no state needs locking.
    func send(_ payload: [UInt8]) throws(SystemdError) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw .systemCall(operation: "socket(AF_UNIX, SOCK_DGRAM)", path: text, errno: errno)
        }
        defer { close(fd) }

        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        // Abstract names are length-delimited (no trailing NUL counts); paths include the NUL.
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path) ?? MemoryLayout<sa_family_t>.size
        let length = pathOffset + pathBytes.count + (isAbstract ? 0 : 1)

        var sent: Int
        repeat {
            sent = payload.withUnsafeBytes { body in
                withUnsafePointer(to: &address) { pointer in
                    pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                        sendto(fd, body.baseAddress, body.count, Int32(MSG_NOSIGNAL), socketAddress, socklen_t(length))
                    }
                }
            }
        } while sent < 0 && errno == EINTR
        guard sent >= 0 else {
            throw .systemCall(operation: "sendto", path: text, errno: errno)
        }
        guard sent == payload.count else {
            throw .systemCall(operation: "sendto (short datagram)", path: text, errno: EMSGSIZE)
        }
    }
}
