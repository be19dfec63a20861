import CSystemShims

/// Readiness conditions for `Epoll`.
public struct EpollEvents: OptionSet, Sendable, Hashable {
    /// The raw `EPOLL*` bits.
    public let rawValue: UInt32
    /// Creates from raw `EPOLL*` bits.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `EPOLLIN`: readable (or end of file).
    public static let readable = EpollEvents(rawValue: fs_epollin())
    /// `EPOLLOUT`: writable.
    public static let writable = EpollEvents(rawValue: fs_epollout())
    /// `EPOLLERR`: an error is pending (always reported).
    public static let error = EpollEvents(rawValue: fs_epollerr())
    /// `EPOLLHUP`: both directions closed (always reported).
    public static let hangup = EpollEvents(rawValue: fs_epollhup())
    /// `EPOLLRDHUP`: the peer shut down its writing side.
    public static let readHangup = EpollEvents(rawValue: fs_epollrdhup())
    /// `EPOLLET`: edge-triggered (default is level-triggered).
    public static let edgeTriggered = EpollEvents(rawValue: fs_epollet())
}

/// One ready descriptor, identified by the token it was registered with.
public struct EpollEvent: Sendable, Hashable {
    /// The token given to `add`/`modify`.
    public let token: UInt64
    /// What is ready.
    public let events: EpollEvents
}

/// An `epoll` instance (close-on-exec). Registration is thread-safe (the kernel locks);
/// `wait` uses an internal buffer and must be called from one thread at a time.
public final class Epoll: @unchecked Sendable {
    // @unchecked: the kernel serialises registrations; `buffer` is used only by `wait`, which
    // one thread (the event loop's) calls at a time, as documented above.
    /// The epoll descriptor.
    public let descriptor: FileDescriptor
    private var buffer: [fs_epoll_event]

    /// Creates an epoll instance that returns at most `maxEventsPerWait` events per `wait`
    /// (capped at 256).
    public init(maxEventsPerWait: Int = 128) throws {
        descriptor = FileDescriptor(rawValue: try syscallValue(name: "epoll_create1") { fs_epoll_create() })
        buffer = [fs_epoll_event](repeating: fs_epoll_event(), count: max(1, min(256, maxEventsPerWait)))
    }

    /// Starts watching `fd` for `events`, reporting them with `token`.
    public func add(_ fd: FileDescriptor, events: EpollEvents, token: UInt64) throws {
        try syscallValue(name: "epoll_ctl(ADD)") {
            fs_epoll_ctl(descriptor.rawValue, fs_epoll_ctl_add(), fd.rawValue, events.rawValue, token)
        }
    }

    /// Changes the watched events (and token) of `fd`.
    public func modify(_ fd: FileDescriptor, events: EpollEvents, token: UInt64) throws {
        try syscallValue(name: "epoll_ctl(MOD)") {
            fs_epoll_ctl(descriptor.rawValue, fs_epoll_ctl_mod(), fd.rawValue, events.rawValue, token)
        }
    }

    /// Stops watching `fd` (closing a descriptor also removes it).
    public func remove(_ fd: FileDescriptor) throws {
        try syscallValue(name: "epoll_ctl(DEL)") {
            fs_epoll_ctl(descriptor.rawValue, fs_epoll_ctl_del(), fd.rawValue, 0, 0)
        }
    }

    /// Waits up to `timeoutMilliseconds` (`-1` = forever, `0` = poll) and calls `handle`
    /// for every ready descriptor. Returns how many were ready (0 on timeout). A signal
    /// interrupting the wait counts as a timeout-free retry (`EINTR` is retried).
    @discardableResult
    public func wait(timeoutMilliseconds: Int32, _ handle: (EpollEvent) throws -> Void) throws -> Int {
        let capacity = Int32(buffer.count)
        let epfd = descriptor.rawValue
        let count = try buffer.withUnsafeMutableBufferPointer { events in
            try syscallValue(name: "epoll_wait") { fs_epoll_wait(epfd, events.baseAddress, capacity, timeoutMilliseconds) }
        }
        for index in 0..<Int(count) {
            let raw = buffer[index]
            try handle(EpollEvent(token: raw.token, events: EpollEvents(rawValue: raw.events)))
        }
        return Int(count)
    }
}
