/// An HTTP version (`HTTP/1.1`).
public struct HTTPVersion: Sendable, Hashable, CustomStringConvertible {
    /// Major version.
    public let major: Int
    /// Minor version.
    public let minor: Int

    /// Creates a version.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// `HTTP/1.0`.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// `HTTP/1.1`.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// `"HTTP/1.1"`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// How a request body is delimited.
public enum HTTPBodyFraming: Sendable, Hashable {
    /// No body.
    case none
    /// `Content-Length: n`.
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}

/// A request line and header section, available before the body arrives (to decide
/// about `Expect: 100-continue`).
public struct HTTPRequestHead: Sendable, Hashable {
    /// The method, case-sensitive (`"GET"`, `"POST"`).
    public var method: String
    /// The request target as sent (`"/infer?x=1"`).
    public var target: String
    /// The protocol version.
    public var version: HTTPVersion
    /// The header fields, repeats kept.
    public var headers: HTTPHeaders
    /// How the body is framed.
    public var framing: HTTPBodyFraming
    /// Whether the connection stays open after this exchange (HTTP/1.1 unless
    /// `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool
    /// Whether the client waits for `100 Continue` before sending the body.
    public var expectsContinue: Bool

    /// Creates a head (the parser fills `framing`, `keepAlive`, `expectsContinue`).
    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
                framing: HTTPBodyFraming = .none, keepAlive: Bool = true, expectsContinue: Bool = false) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
    }
}

/// A complete request: head and the whole body (chunked bodies are joined).
public struct HTTPRequest: Sendable {
    /// The method (`"POST"`).
    public var method: String
    /// The request target as sent.
    public var target: String
    /// The protocol version.
    public var version: HTTPVersion
    /// The header fields, repeats kept, case-insensitive lookup.
    public var headers: HTTPHeaders
    /// The body bytes (empty when there is none).
    public var body: [UInt8]
    /// The `X-Request-Id` of this exchange: the client's (if sane) or one the server made up.
    /// The server sends it back on the response.
    public var requestID: String
    /// Whether the connection stays open after the response.
    public var keepAlive: Bool
    /// Set by the server when the client can no longer receive the answer (it closed the
    /// connection): work not started yet can be dropped.
    public var cancellation = CancellationFlag()

    /// Whether the client is gone (see `cancellation`).
    public var isCancelled: Bool { cancellation.isCancelled }

    /// Creates a request.
    public init(method: String, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
                body: [UInt8] = [], requestID: String = "", keepAlive: Bool = true) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.requestID = requestID
        self.keepAlive = keepAlive
    }

    /// Builds a request from a parsed head and its body.
    public init(head: HTTPRequestHead, body: [UInt8], requestID: String = "") {
        self.init(method: head.method, target: head.target, version: head.version, headers: head.headers,
                  body: body, requestID: requestID, keepAlive: head.keepAlive)
    }

    /// The target without its query (`"/infer"` for `"/infer?x=1"`).
    public var path: Substring {
        if let question = target.firstIndex(of: "?") { return target[..<question] }
        return target[...]
    }

    /// The query after `?`, if any.
    public var query: Substring? {
        guard let question = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: question)...]
    }
}
