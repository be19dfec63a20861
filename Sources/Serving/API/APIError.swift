import HTTP
import Images

/// An error answered to a client: status, stable snake_case code, human message and any
/// headers the status needs (`Allow`, `Retry-After`).
public struct APIError: Error, Equatable, CustomStringConvertible {
    public var status: HTTPStatus
    public var code: String
    public var message: String
    public var headers: [(String, String)]

    /// Creates an error.
    public init(_ status: HTTPStatus, _ code: String, _ message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message
            && lhs.headers.map { "\($0.0):\($0.1)" } == rhs.headers.map { "\($0.0):\($0.1)" }
    }

    public var description: String { "\(status.code) \(code): \(message)" }

    /// The JSON response `{"error": {"code", "message"}}`.
    public var response: HTTPResponse {
        var fields = HTTPHeaders()
        for (name, value) in headers { fields.add(name: name, value: value) }
        return HTTPResponse.error(status, code: code, message: message, headers: fields)
    }

    // MARK: The error matrix

    static func malformedJSON(_ detail: String) -> APIError {
        APIError(.badRequest, "malformed_json", "The request body is not valid JSON: \(detail).")
    }
    static func missingField(_ name: String) -> APIError {
        APIError(.badRequest, "missing_field", "The field \"\(name)\" is required.")
    }
    static func wrongType(_ name: String, expected: String, got: String) -> APIError {
        APIError(.badRequest, "wrong_type", "The field \"\(name)\" must be \(expected), not \(got).")
    }
    static func invalidField(_ name: String, _ why: String) -> APIError {
        APIError(.badRequest, "invalid_field", "The field \"\(name)\" \(why).")
    }
    static func invalidBase64(_ why: String) -> APIError {
        APIError(.badRequest, "invalid_base64", "The field \"image\" is not valid base64: \(why).")
    }
    static func invalidUTF8(_ what: String) -> APIError {
        APIError(.badRequest, "invalid_utf8", "The \(what) is not valid UTF-8.")
    }
    static func malformedMultipart(code: String, _ detail: String) -> APIError {
        APIError(.badRequest, code, "The multipart body is malformed: \(detail).")
    }
    static func notFound(_ path: String) -> APIError {
        APIError(.notFound, "not_found", "No resource at \(path). Try POST /infer, GET /healthz, /livez, /metrics or /v1/model.")
    }
    static func methodNotAllowed(_ method: String, path: String, allow: String) -> APIError {
        APIError(.methodNotAllowed, "method_not_allowed", "\(method) is not allowed on \(path); use \(allow).",
                 headers: [("Allow", allow)])
    }
    /// nginx's 499: logged and counted, never seen by the client, who is gone.
    static let clientClosedRequest = APIError(HTTPStatus(code: 499, reasonPhrase: "Client Closed Request"), "client_closed_request",
                                              "The client closed the connection before the request ran.")
    static func unauthorized(presented: Bool) -> APIError {
        // RFC 6750 §3: no credentials → a bare challenge; wrong ones → invalid_token.
        let challenge = presented ? #"Bearer realm="fusion-serve", error="invalid_token""# : #"Bearer realm="fusion-serve""#
        return APIError(HTTPStatus(code: 401), "unauthorized",
                        presented ? "The bearer token is not valid." : "This route needs an Authorization: Bearer token.",
                        headers: [("WWW-Authenticate", challenge)])
    }
    static func unsupportedMediaType(_ type: String?) -> APIError {
        APIError(.unsupportedMediaType, "unsupported_media_type",
                 "Content-Type \(type.map { "\"\($0)\"" } ?? "(none)") is not supported; send application/json or multipart/form-data.")
    }
    static func queueFull(capacity: Int) -> APIError {
        APIError(.serviceUnavailable, "queue_full", "The request queue is full (\(capacity) requests); retry shortly.",
                 headers: [("Retry-After", "1")])
    }
    static func notAccepting(_ admission: Admission) -> APIError {
        switch admission {
        case .starting, .open:
            return APIError(.serviceUnavailable, "no_worker_ready", "No model worker is ready yet; retry shortly.",
                            headers: [("Retry-After", "2")])
        case .unavailable:
            return APIError(.serviceUnavailable, "no_worker_ready", "No model worker is available.",
                            headers: [("Retry-After", "10")])
        case .draining:
            return APIError(.serviceUnavailable, "draining", "The server is shutting down; send the request elsewhere.",
                            headers: [("Retry-After", "1")])
        }
    }
    static func largeImagesBusy(pixels: Int) -> APIError {
        APIError(.serviceUnavailable, "large_images_busy",
                 "Too many images over \(pixels) pixels are waiting to be decoded; retry shortly, or send a smaller image.",
                 headers: [("Retry-After", "1")])
    }
    static let deadlineExceeded = APIError(.gatewayTimeout, "deadline_exceeded",
                                           "The request's deadline passed before it could run.")

    /// How an inference failure reaches the client.
    static func from(_ failure: InferenceFailure) -> APIError {
        switch failure {
        case .deadlineExceeded: return deadlineExceeded
        case .workerFailed(let why):
            // Two deaths in a row say more about the worker (OOM-killed, crashed by another
            // request in its batch) than about this request: it is retryable, here or elsewhere.
            return APIError(.serviceUnavailable, "worker_failed",
                            "The model worker failed while running the request, twice: \(why); retry it.",
                            headers: [("Retry-After", "1")])
        case .inferenceFailed(let why):
            return APIError(.internalServerError, "inference_failed", "The model failed on the request: \(why).")
        case .shuttingDown:
            return APIError(.serviceUnavailable, "draining", "The server stopped before the request could run.",
                            headers: [("Retry-After", "1")])
        case .cancelled:
            return clientClosedRequest
        }
    }

    /// How an image the pipeline refused reaches the client.
    static func from(_ error: ImageError) -> APIError {
        switch error {
        case .unsupportedFormat(let name):
            return APIError(.unsupportedMediaType, "unsupported_image_format",
                            "The image format (\(name)) is not supported; send JPEG or PNG.")
        case .tooLarge:
            return APIError(.unprocessableContent, "image_too_large", "The image is too large: \(error).")
        case .empty, .truncated, .corrupt, .invalidDimensions:
            return APIError(.unprocessableContent, "undecodable_image", "The image cannot be decoded: \(error).")
        case .outOfMemory:
            return APIError(.unprocessableContent, "image_too_large", "The image needs too much memory to decode: \(error).")
        case .invalidArgument:
            return APIError(.internalServerError, "preprocessing_failed", "Image preprocessing failed: \(error).")
        }
    }
}
