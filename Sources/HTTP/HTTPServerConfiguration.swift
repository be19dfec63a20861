import TLS

extension HTTPServer {
    /// Where the listening socket comes from.
    public enum ListenerSource: Sendable, Hashable {
        /// Bind `host:port` (port 0 = ephemeral; read `HTTPServer.localAddress`).
        case address(host: String, port: UInt16)
        /// Adopt an already-listening socket, e.g. fd 3 from systemd (`LISTEN_FDS`).
        case adoptedDescriptor(Int32)
    }

    /// Server settings. Every timeout is enforced on the event loop with one deadline per
    /// connection, so a slow client never delays others.
    public struct Configuration: Sendable {
        /// The listener.
        public var listener: ListenerSource
        /// `listen(2)` backlog for a bound listener.
        public var backlog: Int32 = 1024
        /// Parser limits (header bytes/count, body size).
        public var limits = HTTPLimits()
        /// Open connections at most; more are answered 503 and closed (or, past a small
        /// budget for such answers, closed at once).
        public var maxConnections = 1024
        /// Open connections from one client address at most (nil: no per-address limit);
        /// more from that address are answered 503 `too_many_connections` and closed.
        public var maxConnectionsPerAddress: Int? = nil
        /// Request body bytes the whole server holds at once: bodies being received (charged
        /// their declared `Content-Length` when the head arrives, chunked bodies as they grow)
        /// and bodies of requests not answered yet. A body that would go over it is refused
        /// with 503 `server_busy` and `Retry-After` instead of being read (the alternative is
        /// running out of memory: 1,024 connections × 20 MiB).
        public var maxBufferedBodyBytes = 1 << 30
        /// With open connections at three quarters of `maxConnections` or more, idle
        /// keep-alive connections are closed after this instead of `keepAliveTimeout`.
        public var pressureKeepAliveTimeout: Duration = .seconds(2)
        /// Requests per connection that may await responses (pipelining depth); reading
        /// pauses beyond it.
        public var maxPipelinedRequests = 16
        /// Time to receive a whole request head, from its first byte (or from accept for a
        /// connection's first request). Over it: 408.
        public var headerTimeout: Duration = .seconds(10)
        /// Longest pause between body bytes, and the base of the whole body's deadline (see
        /// `minBodyBytesPerSecond`). Over it: 408.
        public var bodyTimeout: Duration = .seconds(10)
        /// The slowest body upload accepted: a body must be complete within `bodyTimeout` plus
        /// one second per this many bytes received, counted from the end of its head (as
        /// Apache's `mod_reqtimeout` `MinRate`). A client trickling one byte every few seconds
        /// is cut off after `bodyTimeout` instead of holding the connection for ever.
        public var minBodyBytesPerSecond = 16 * 1024
        /// How long an idle keep-alive connection stays open.
        public var keepAliveTimeout: Duration = .seconds(60)
        /// Longest time a pending response may make no write progress (client not reading).
        public var writeTimeout: Duration = .seconds(30)
        /// After a final response, how long to read and discard client bytes before closing
        /// (closing with unread input would reset the connection and could destroy the
        /// response in flight, e.g. a 413 to a client still sending its body).
        public var lingerTimeout: Duration = .seconds(2)
        /// After `beginShutdown()`, how long in-flight requests may take before every
        /// connection is closed and `run` returns.
        public var drainTimeout: Duration = .seconds(30)
        /// HTTPS: the certificate and key new handshakes use (nil: plain HTTP). The holder
        /// can be reloaded at any time (SIGHUP); established connections keep their context.
        public var tls: TLSContextHolder?
        /// Whether responses carry a `Date` header.
        public var sendDate = true
        /// The request-id header echoed or generated on every response.
        public var requestIDHeader = "X-Request-Id"
        /// The time the loop measures every timeout in. Tests inject a clock they advance by
        /// hand instead of sleeping through timeouts; a deployed server keeps the default.
        public var clock: any ServerClock = SystemServerClock()

        /// Binds `host:port` (defaults: 127.0.0.1:8080).
        public init(host: String = "127.0.0.1", port: UInt16 = 8080) {
            listener = .address(host: host, port: port)
        }

        /// Adopts the listening socket `fd` (socket activation).
        public init(adoptingListener fd: Int32) {
            listener = .adoptedDescriptor(fd)
        }
    }
}
