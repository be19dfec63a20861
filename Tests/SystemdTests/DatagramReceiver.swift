#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Test support: a real AF_UNIX datagram socket standing in for systemd's notify socket,
/// bound either at a path in a fresh temporary directory or at an abstract name.
final class DatagramReceiver {
    enum Failure: Error, CustomStringConvertible {
        case setup(String, Int32)
        case timeout
        var description: String {
            switch self {
            case let .setup(what, code): return "\(what) failed: errno \(code)"
            case .timeout: return "no datagram within the timeout"
            }
        }
    }

    /// The value to put in `NOTIFY_SOCKET`.
    let notifySocket: String
    private let fd: Int32
    private let directory: String?

    /// Binds at `<mkdtemp>/notify` (or an abstract `@name` when `abstract` is set).
    init(abstract: Bool = false) throws {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure.setup("socket", errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes: [UInt8]
        var directory: String? = nil
        if abstract {
            let name = "fusion-serve-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
            notifySocket = "@" + name
            bytes = [0] + Array(name.utf8)
        } else {
            var template = Array("/tmp/fusion-serve-notify-XXXXXX".utf8CString)
            let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
            guard made != nil else { close(fd); throw Failure.setup("mkdtemp", errno) }
            let dir = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            directory = dir
            notifySocket = dir + "/notify"
            bytes = Array(notifySocket.utf8) + [0]
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(2 + bytes.count)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else {
            let code = errno
            close(fd)
            if let directory { rmdir(directory) }
            throw Failure.setup("bind \(notifySocket)", code)
        }
        self.fd = fd
        self.directory = directory
    }

    deinit {
        close(fd)
        if let directory {
            unlink(directory + "/notify")
            rmdir(directory)
        }
    }

    /// The next datagram's text, waiting at most `timeoutMilliseconds`.
    func receive(timeoutMilliseconds: Int32 = 2000) throws -> String {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        guard ready > 0 else { throw Failure.timeout }
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count >= 0 else { throw Failure.setup("recv", errno) }
        return String(decoding: buffer[0..<count], as: UTF8.self)
    }

    /// `true` when nothing arrives within `milliseconds`.
    func isQuiet(milliseconds: Int32 = 100) -> Bool {
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, milliseconds) == 0
    }
}
