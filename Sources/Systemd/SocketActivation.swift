#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Listening sockets handed over by systemd (`sd_listen_fds(3)` without libsystemd).
///
/// With a `.socket` unit, systemd binds the port itself and starts the service with the
/// sockets open as descriptors 3, 4, …, announcing them in `LISTEN_FDS` (count), `LISTEN_PID`
/// (the pid they are meant for) and optionally `LISTEN_FDNAMES` (colon-separated names).
/// Connections that arrive while the service restarts wait in the kernel's backlog instead of
/// being refused.
///
/// ```swift
/// let inherited = try SocketActivation.listenFDs()     // at start-up, before threads
/// let listener = inherited.first ?? bindAndListen(host, port)
/// ```
public enum SocketActivation {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: Int32 = 3

    /// Upper bound on `LISTEN_FDS`; far above any real unit, it keeps a corrupt value from
    /// making us touch thousands of descriptors.
    public static let maximumDescriptors = 4096

    /// One passed descriptor and its name (`FileDescriptorName=` in the socket unit; systemd
    /// uses the socket unit's name when none is set, and "unknown" when it gives no names).
    public struct ListenFD: Equatable, Sendable {
        /// The descriptor number (3, 4, …).
        public let fd: Int32
        /// Its name from `LISTEN_FDNAMES`, or `nil` when the variable was not set.
        public let name: String?

        /// Creates a descriptor/name pair.
        public init(fd: Int32, name: String?) {
            self.fd = fd
            self.name = name
        }
    }

    /// The descriptors passed to this process, in order; empty when not socket-activated
    /// (variables unset, or `LISTEN_PID` names another process).
    ///
    /// Each returned descriptor gets `FD_CLOEXEC`, and the three variables are removed from the
    /// environment so worker processes neither inherit the sockets nor believe they were
    /// activated. Call it once, at start-up, before other threads exist (`unsetenv` is not
    /// thread-safe); a second call returns `[]`.
    /// - Throws: `SystemdError.invalidEnvironment` for malformed variables,
    ///   `.descriptorNotOpen` when a promised descriptor is not open.
    public static func listenFDs() throws(SystemdError) -> [Int32] {
        try listenFDsWithNames().map(\.fd)
    }

    /// Like `listenFDs()`, with each descriptor's name from `LISTEN_FDNAMES`.
    public static func listenFDsWithNames() throws(SystemdError) -> [ListenFD] {
        var environment = ProcessEnvironment()
        return try take(from: &environment, processID: getpid())
    }

    /// `true` when `fd` is a stream socket in the listening state: what a `ListenStream=`
    /// socket unit passes. A server can refuse anything else with a clear message.
    public static func isListeningStreamSocket(_ fd: Int32) -> Bool {
        var type: Int32 = 0
        var accepting: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return false }
        length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0 else { return false }
        return type == Int32(SOCK_STREAM.rawValue) && accepting != 0
    }

    /// The parsing and hand-over logic, over an injectable environment.
    /// `first` is 3 in production; tests pass a high free number instead of clobbering fd 3.
    static func take<E: EnvironmentStore>(from environment: inout E, processID: Int32,
                                          first: Int32 = firstDescriptor) throws(SystemdError) -> [ListenFD] {
        // Removed on every path, as sd_listen_fds(unset_environment=1) does: even variables
        // meant for another pid or malformed ones must not reach our children.
        defer { for name in ["LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] { environment.remove(name) } }

        guard let pidText = environment.value("LISTEN_PID") else { return [] }
        guard let pid = Int32(pidText), pid > 0 else {
            throw .invalidEnvironment(variable: "LISTEN_PID", value: pidText, reason: "not a process id")
        }
        guard pid == processID else { return [] }

        guard let countText = environment.value("LISTEN_FDS") else { return [] }
        guard let count = Int(countText), count >= 0, count <= maximumDescriptors else {
            throw .invalidEnvironment(variable: "LISTEN_FDS", value: countText,
                                      reason: "not an integer in 0...\(maximumDescriptors)")
        }

        var names: [String?] = Array(repeating: nil, count: count)
        if let namesText = environment.value("LISTEN_FDNAMES") {
            let parts = namesText.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == count else {
                throw .invalidEnvironment(variable: "LISTEN_FDNAMES", value: namesText,
                                          reason: "\(parts.count) names for LISTEN_FDS=\(count)")
            }
            names = parts
        }

        var result: [ListenFD] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let fd = first + Int32(index)
            let flags = fcntl(fd, F_GETFD)
            guard flags >= 0 else { throw .descriptorNotOpen(fd: fd) }
            if flags & FD_CLOEXEC == 0 {
                guard fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 else {
                    throw .systemCall(operation: "fcntl(F_SETFD, FD_CLOEXEC)", path: "fd \(fd)", errno: errno)
                }
            }
            result.append(ListenFD(fd: fd, name: names[index]))
        }
        return result
    }
}
