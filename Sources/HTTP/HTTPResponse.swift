import JSON

/// A response to send: status, headers and the whole body.
///
/// The server adds `Content-Length` (always, except for 1xx/204/304), `X-Request-Id`,
/// `Date` (if configured) and `Connection` itself; those set here are replaced.
/// `Connection: close` set here makes the server close the connection after sending.
public struct HTTPResponse: Sendable {
    /// The status.
    public var status: HTTPStatus
    /// Extra headers (`Content-Type`, `Retry-After`, `Allow` …).
    public var headers: HTTPHeaders
    /// The body bytes.
    public var body: [UInt8]

    /// Creates a response.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Creates a response with a UTF-8 text body.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: String) {
        self.init(status: status, headers: headers, body: Array(body.utf8))
    }

    /// A response whose body is the given JSON text, with `Content-Type: application/json`.
    public static func json(_ status: HTTPStatus = .ok, _ json: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Type", value: "application/json")
        return HTTPResponse(status: status, headers: headers, body: Array(json.utf8))
    }

    /// The service's error shape: `{"error": {"code": code, "message": message}}` as JSON.
    public static func error(_ status: HTTPStatus, code: String, message: String, headers: HTTPHeaders = [:]) -> HTTPResponse {
        json(status, JSONText.object([("error", JSONText.object([("code", JSONText.string(code)),
                                                                ("message", JSONText.string(message))]))]),
             headers: headers)
    }
}
