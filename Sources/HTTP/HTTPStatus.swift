/// A response status code with its reason phrase. An integer literal works too
/// (`HTTPResponse(status: 404)`).
public struct HTTPStatus: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral {
    /// The three-digit code.
    public let code: Int
    /// The reason phrase sent after the code.
    public let reasonPhrase: String

    /// A status with an explicit phrase.
    public init(code: Int, reasonPhrase: String) {
        self.code = code
        self.reasonPhrase = reasonPhrase
    }

    /// A status with the standard phrase for `code` (or `"Unknown"`).
    public init(code: Int) {
        self.init(code: code, reasonPhrase: Self.standardPhrases[code] ?? "Unknown")
    }

    /// A status with the standard phrase for the literal code.
    public init(integerLiteral code: Int) {
        self.init(code: code)
    }

    /// `"404 Not Found"`.
    public var description: String { "\(code) \(reasonPhrase)" }

    /// Whether a response with this status carries no body (1xx, 204, 304).
    public var forbidsBody: Bool { (100..<200).contains(code) || code == 204 || code == 304 }

    private static let standardPhrases: [Int: String] = [
        100: "Continue", 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
        301: "Moved Permanently", 302: "Found", 304: "Not Modified",
        400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
        405: "Method Not Allowed", 406: "Not Acceptable", 408: "Request Timeout", 409: "Conflict",
        411: "Length Required", 413: "Content Too Large", 414: "URI Too Long",
        415: "Unsupported Media Type", 417: "Expectation Failed", 422: "Unprocessable Content",
        429: "Too Many Requests", 431: "Request Header Fields Too Large",
        500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
        503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
    ]

    /// 200
    public static let ok = HTTPStatus(code: 200)
    /// 204
    public static let noContent = HTTPStatus(code: 204)
    /// 400
    public static let badRequest = HTTPStatus(code: 400)
    /// 404
    public static let notFound = HTTPStatus(code: 404)
    /// 405
    public static let methodNotAllowed = HTTPStatus(code: 405)
    /// 408
    public static let requestTimeout = HTTPStatus(code: 408)
    /// 411
    public static let lengthRequired = HTTPStatus(code: 411)
    /// 413
    public static let contentTooLarge = HTTPStatus(code: 413)
    /// 414
    public static let uriTooLong = HTTPStatus(code: 414)
    /// 415
    public static let unsupportedMediaType = HTTPStatus(code: 415)
    /// 417
    public static let expectationFailed = HTTPStatus(code: 417)
    /// 422
    public static let unprocessableContent = HTTPStatus(code: 422)
    /// 431
    public static let headerFieldsTooLarge = HTTPStatus(code: 431)
    /// 500
    public static let internalServerError = HTTPStatus(code: 500)
    /// 501
    public static let notImplemented = HTTPStatus(code: 501)
    /// 503
    public static let serviceUnavailable = HTTPStatus(code: 503)
    /// 504
    public static let gatewayTimeout = HTTPStatus(code: 504)
    /// 505
    public static let httpVersionNotSupported = HTTPStatus(code: 505)
}
