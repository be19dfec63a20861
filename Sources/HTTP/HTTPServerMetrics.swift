/// Counters the service exports on `/metrics`. A snapshot; totals since start.
public struct HTTPServerMetrics: Sendable, Hashable {
    /// Connections open now (including ones being refused or closed gracefully).
    public var connectionsOpen = 0
    /// Connections accepted in total.
    public var connectionsAccepted: UInt64 = 0
    /// Connections refused because `maxConnections` were open and none was idle.
    public var connectionsRejected: UInt64 = 0
    /// Connections refused because their address had `maxConnectionsPerAddress` open.
    public var connectionsRejectedPerAddress: UInt64 = 0
    /// Idle connections closed to make room for a new one at `maxConnections`.
    public var connectionsEvicted: UInt64 = 0
    /// Request body bytes held now (see `maxBufferedBodyBytes`).
    public var bufferedBodyBytes = 0
    /// Requests refused 503 because their body would exceed `maxBufferedBodyBytes`.
    public var bodiesRefused: UInt64 = 0
    /// TLS handshakes completed, of them resumed from a ticket, and failed (plain HTTP to
    /// the TLS port, old protocol versions, missing client certificates…).
    public var tlsHandshakes: UInt64 = 0
    public var tlsResumedSessions: UInt64 = 0
    public var tlsHandshakeFailures: UInt64 = 0
    /// Dispatched requests whose connection closed before their answer (their
    /// `HTTPRequest.isCancelled` turned true).
    public var requestsCancelled: UInt64 = 0
    /// Requests dropped unfinished because the client closed its sending side mid-request.
    public var abandonedRequests: UInt64 = 0
    /// Complete requests handed to the handler.
    public var requestsReceived: UInt64 = 0
    /// Responses written completely (including error responses of the server itself).
    public var responsesSent: UInt64 = 0
    /// Requests refused by the parser, by error code (`"body_too_large"`, …), plus
    /// `"request_timeout"` for 408s.
    public var parseErrors: [String: UInt64] = [:]
    /// Connections cut off, by reason: `"header"`, `"body"` (slow request), `"write"`
    /// (client not reading), `"idle"` (keep-alive expired), `"drain"` (shutdown deadline).
    public var timeouts: [String: UInt64] = [:]

    /// Creates zeroed counters.
    public init() {}
}
