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
        json(status, JSONText.errorBody(code: code, message: message), headers: headers)
    }
}

/// Minimal JSON text helpers (no Foundation) for error bodies and small documents.
public enum JSONText {
    /// `s` as a JSON string literal, quotes included; control characters, `"` and `\`
    /// escaped, everything else passed through as UTF-8.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// `{"error":{"code":"…","message":"…"}}`.
    public static func errorBody(code: String, message: String) -> String {
        "{\"error\":{\"code\":\(quoted(code)),\"message\":\(quoted(message))}}"
    }
}
