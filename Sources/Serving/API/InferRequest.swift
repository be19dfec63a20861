import HTTP
import JSON

/// A `POST /infer` body, parsed and checked (JSON or multipart), before preprocessing.
public struct InferRequest: Equatable, Sendable {
    public var image: [UInt8]
    public var text: String
    public var id: String?
    public var returnEmbedding: Bool
    /// Requested deadline in milliseconds; may only shorten the server's.
    public var timeoutMilliseconds: Int?

    /// The longest `id` echoed back.
    public static let maxIDLength = 256

    /// Creates a request.
    public init(image: [UInt8], text: String, id: String? = nil, returnEmbedding: Bool = false,
                timeoutMilliseconds: Int? = nil) {
        self.image = image
        self.text = text
        self.id = id
        self.returnEmbedding = returnEmbedding
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Parses the body according to its Content-Type.
    public static func parse(body: [UInt8], contentType: String?) throws(APIError) -> InferRequest {
        let mediaType = contentType?.split(separator: ";").first.map {
            $0.trimmingCharacters(in: " \t").lowercased()
        }
        switch mediaType {
        case "application/json":
            return try parseJSON(body)
        case "multipart/form-data":
            return try parseMultipart(body, contentType: contentType ?? "")
        default:
            throw APIError.unsupportedMediaType(contentType)
        }
    }

    static func parseJSON(_ body: [UInt8]) throws(APIError) -> InferRequest {
        guard String(validating: body, as: UTF8.self) != nil else { throw APIError.invalidUTF8("request body") }
        let root: JSONValue
        do {
            root = try JSONParser.parse(body)
        } catch {
            throw APIError.malformedJSON("\(error)")
        }
        guard case .object = root else { throw APIError.malformedJSON("the body must be a JSON object, not \(root.typeName)") }

        guard let imageValue = root["image"] else { throw APIError.missingField("image") }
        guard case .string(let imageText) = imageValue else {
            throw APIError.wrongType("image", expected: "a base64 string", got: imageValue.typeName)
        }
        let image: [UInt8]
        do {
            image = try Base64.decode(imageText)
        } catch {
            throw APIError.invalidBase64(error.reason)
        }
        guard let textValue = root["text"] else { throw APIError.missingField("text") }
        guard case .string(let text) = textValue else {
            throw APIError.wrongType("text", expected: "a string", got: textValue.typeName)
        }
        var request = InferRequest(image: image, text: text)
        if let idValue = root["id"], idValue != .null {
            guard case .string(let id) = idValue else {
                throw APIError.wrongType("id", expected: "a string", got: idValue.typeName)
            }
            request.id = try checkedID(id)
        }
        if let flag = root["return_embedding"], flag != .null {
            guard case .bool(let value) = flag else {
                throw APIError.wrongType("return_embedding", expected: "a boolean", got: flag.typeName)
            }
            request.returnEmbedding = value
        }
        if let timeout = root["timeout_ms"], timeout != .null {
            guard case .number(let text, _) = timeout else {
                throw APIError.wrongType("timeout_ms", expected: "a positive integer", got: timeout.typeName)
            }
            request.timeoutMilliseconds = try checkedTimeout(text)
        }
        return request
    }

    static func parseMultipart(_ body: [UInt8], contentType: String) throws(APIError) -> InferRequest {
        let parts: [MultipartPart]
        do {
            parts = try MultipartFormData.parse(body, contentType: contentType)
        } catch {
            throw APIError.malformedMultipart(code: error.code, error.detail)
        }
        func text(_ name: String) throws(APIError) -> String? {
            guard let part = parts.first(named: name) else { return nil }
            guard let value = part.text else { throw APIError.invalidUTF8("part \"\(name)\"") }
            return value
        }
        guard let imagePart = parts.first(named: "image") else { throw APIError.missingField("image") }
        guard let caption = try text("text") else { throw APIError.missingField("text") }
        var request = InferRequest(image: imagePart.body, text: caption)
        if let id = try text("id") { request.id = try checkedID(id) }
        if let flag = try text("return_embedding") {
            switch flag.trimmingCharacters(in: " \t\r\n").lowercased() {
            case "true", "1", "yes", "on": request.returnEmbedding = true
            case "false", "0", "no", "off", "": request.returnEmbedding = false
            default: throw APIError.wrongType("return_embedding", expected: "true or false", got: "\"\(flag)\"")
            }
        }
        if let timeout = try text("timeout_ms") {
            request.timeoutMilliseconds = try checkedTimeout(timeout.trimmingCharacters(in: " \t\r\n"))
        }
        return request
    }

    private static func checkedID(_ id: String) throws(APIError) -> String {
        guard !id.isEmpty, id.utf8.count <= maxIDLength else {
            throw APIError.invalidField("id", "must have 1 to \(maxIDLength) bytes")
        }
        guard !id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.invalidField("id", "must not contain control characters")
        }
        return id
    }

    private static func checkedTimeout(_ text: String) throws(APIError) -> Int {
        guard let value = Int(text), value > 0 else {
            throw APIError.invalidField("timeout_ms", "must be a positive integer number of milliseconds")
        }
        return value
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let scalars = Set(set.unicodeScalars)
        var view = Substring(self).unicodeScalars[...]
        while let first = view.first, scalars.contains(first) { view.removeFirst() }
        while let last = view.last, scalars.contains(last) { view.removeLast() }
        return String(String.UnicodeScalarView(view))
    }
}
