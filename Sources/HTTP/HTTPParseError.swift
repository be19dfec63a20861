/// Why a request was refused by the parser: the status to answer with, a stable
/// snake_case code (also the `/metrics` label) and a human detail.
public typealias HTTPParseError = CodedError<HTTPParseFailure>

/// The kind of an `HTTPParseError`; its raw value is the JSON error `code`.
public enum HTTPParseFailure: String, ErrorKind {
    /// Malformed request line (method, target or version syntax).
    case invalidRequestLine = "invalid_request_line"
    /// Request line longer than the header limit.
    case requestLineTooLong = "request_line_too_long"
    /// Header section over `maxHeaderBytes`.
    case headersTooLarge = "headers_too_large"
    /// More than `maxHeaderCount` fields.
    case tooManyHeaders = "too_many_headers"
    /// A field with a bad name, no colon, or control characters in its value.
    case invalidHeader = "invalid_header"
    /// A field line starting with whitespace (obsolete line folding).
    case obsoleteLineFolding = "obsolete_line_folding"
    /// A line ending in a bare LF (this server requires CRLF).
    case invalidLineEnding = "invalid_line_ending"
    /// HTTP/1.1 request without exactly one `Host`.
    case invalidHost = "invalid_host"
    /// `Content-Length` not a plain decimal, or repeated.
    case invalidContentLength = "invalid_content_length"
    /// Both `Content-Length` and `Transfer-Encoding`, or `Transfer-Encoding` on HTTP/1.0.
    case conflictingFraming = "conflicting_framing"
    /// `Transfer-Encoding` other than `chunked` as final coding, or an unknown coding.
    case unsupportedTransferEncoding = "unsupported_transfer_encoding"
    /// Malformed chunk size, chunk extension or chunk terminator.
    case invalidChunk = "invalid_chunk"
    /// Malformed or too many trailer fields.
    case invalidTrailer = "invalid_trailer"
    /// Body over `maxBodyBytes` (declared or after de-chunking).
    case bodyTooLarge = "body_too_large"
    /// A method that must carry a framed body came without one.
    case lengthRequired = "length_required"
    /// Protocol major version other than 1.
    case versionNotSupported = "http_version_not_supported"
    /// An `Expect` other than `100-continue`.
    case expectationFailed = "expectation_failed"

    /// The status to answer with.
    public var status: HTTPStatus {
        switch self {
        case .requestLineTooLong: return .uriTooLong
        case .headersTooLarge, .tooManyHeaders: return .headerFieldsTooLarge
        case .bodyTooLarge: return .contentTooLarge
        case .lengthRequired: return .lengthRequired
        case .versionNotSupported: return .httpVersionNotSupported
        case .expectationFailed: return .expectationFailed
        case .unsupportedTransferEncoding: return .notImplemented
        default: return .badRequest
        }
    }

    /// `"400 invalid_chunk: chunk size is not hexadecimal"`.
    public func describe(_ detail: String) -> String { "\(status.code) \(rawValue): \(detail)" }
}

extension CodedError where Kind == HTTPParseFailure {
    /// The status to answer with.
    public var status: HTTPStatus { kind.status }
}
