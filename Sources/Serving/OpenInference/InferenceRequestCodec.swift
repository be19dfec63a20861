import JSON

/// Bounds on what one inference request may declare, checked before anything is allocated
/// from a client's numbers.
public struct OpenInferenceLimits: Sendable, Equatable {
    /// Input tensors per request (fusion-serve takes at most 3).
    public var maxInputs = 8
    /// Requested outputs per request (fusion-serve has 5).
    public var maxOutputs = 8
    /// Dimensions per shape.
    public var maxRank = 8
    /// Longest tensor name, in bytes.
    public var maxNameBytes = 256
    /// Longest `Inference-Header-Content-Length` value, in digits.
    static let maxHeaderLengthDigits = 12

    /// The defaults.
    public init() {}
}

/// A `POST /v2/models/{name}/infer` body: the JSON inference header and, with the binary
/// tensor data extension, the raw tensors after it (`Inference-Header-Content-Length` says
/// where the JSON ends; each binary input declares `parameters.binary_data_size`).
///
/// Every number a client sends is checked before it sizes anything: shapes against the body
/// length (each element costs at least one body byte), element counts × datatype sizes against
/// the declared binary sizes (overflow-checked), and the binary sizes against the bytes that
/// actually follow the JSON.
public struct OpenInferenceRequest: Sendable, Equatable {
    /// The request `id`, echoed in the response (nil: none given).
    public var id: String?
    public var inputs: [InputTensor]
    /// nil: every output.
    public var outputs: [RequestedOutput]?
    /// `parameters.binary_data_output`: outputs without their own `binary_data` are binary.
    public var binaryDataOutput: Bool
    /// `parameters.timeout`, microseconds (Triton's unit); nil or 0: none.
    public var timeoutMicroseconds: UInt64?

    /// Creates a request.
    public init(id: String? = nil, inputs: [InputTensor], outputs: [RequestedOutput]? = nil,
                binaryDataOutput: Bool = false, timeoutMicroseconds: UInt64? = nil) {
        self.id = id
        self.inputs = inputs
        self.outputs = outputs
        self.binaryDataOutput = binaryDataOutput
        self.timeoutMicroseconds = timeoutMicroseconds
    }

    /// Decodes a body. `headerLength` holds every `Inference-Header-Content-Length` value sent
    /// (none: the whole body is JSON); `contentEncoding` is the `Content-Encoding` header.
    public static func parse(body: [UInt8], headerLength: [String], contentEncoding: String?,
                             limits: OpenInferenceLimits = OpenInferenceLimits()) throws(APIError) -> OpenInferenceRequest {
        if let encoding = contentEncoding?.trimmingCharacters(in: " \t").lowercased(), !encoding.isEmpty, encoding != "identity" {
            throw APIError(.unsupportedMediaType, "unsupported_content_encoding",
                           "Content-Encoding \"\(encoding)\" is not supported; send the request uncompressed.")
        }
        let jsonLength = try jsonHeaderLength(headerLength, bodyCount: body.count)
        let root: JSONValue
        do {
            root = try JSONParser.parse(jsonLength == body.count ? body : Array(body[..<jsonLength]))
        } catch {
            throw APIError.malformedJSON("\(error)")
        }
        guard case .object = root else {
            throw APIError.malformedJSON("the inference header must be a JSON object, not \(root.typeName)")
        }
        var request = OpenInferenceRequest(inputs: [])
        request.id = try parseID(root["id"])
        try parseParameters(root["parameters"], into: &request)

        guard let inputsValue = root["inputs"] else { throw APIError.missingField("inputs") }
        guard case .array(let inputs) = inputsValue else {
            throw APIError.wrongType("inputs", expected: "an array", got: inputsValue.typeName)
        }
        guard !inputs.isEmpty, inputs.count <= limits.maxInputs else {
            throw APIError.invalidField("inputs", "must hold 1 to \(limits.maxInputs) tensors, not \(inputs.count)")
        }
        var binary = BinaryCursor(body: body, offset: jsonLength)
        var names = Set<String>()
        for (index, value) in inputs.enumerated() {
            let tensor = try parseInput(value, index: index, binary: &binary, bodyCount: body.count, limits: limits)
            guard names.insert(tensor.name).inserted else {
                throw APIError.invalidField("inputs", "has the input \"\(tensor.name)\" twice")
            }
            request.inputs.append(tensor)
        }
        guard binary.remaining == 0 else {
            throw OpenInferenceError.invalidTensor(
                "\(binary.remaining) bytes of binary tensor data follow the inference header but no input declares them (binary_data_size)")
        }
        request.outputs = try parseOutputs(root["outputs"], limits: limits)
        return request
    }

    // MARK: Header

    static func jsonHeaderLength(_ values: [String], bodyCount: Int) throws(APIError) -> Int {
        guard let first = values.first else { return bodyCount }
        guard values.count == 1 else {
            throw OpenInferenceError.invalidHeaderLength("is sent \(values.count) times")
        }
        let text = first.trimmingCharacters(in: " \t")
        guard !text.isEmpty, text.utf8.count <= OpenInferenceLimits.maxHeaderLengthDigits,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
              let length = Int(text) else {
            throw OpenInferenceError.invalidHeaderLength("must be a decimal byte count, not \"\(first.prefix(40))\"")
        }
        guard length > 0, length <= bodyCount else {
            throw OpenInferenceError.invalidHeaderLength("is \(length) but the body has \(bodyCount) bytes")
        }
        return length
    }

    // MARK: Request fields

    static func parseID(_ value: JSONValue?) throws(APIError) -> String? {
        guard let value, value != .null else { return nil }
        guard case .string(let id) = value else { throw APIError.wrongType("id", expected: "a string", got: value.typeName) }
        if id.isEmpty { return nil }
        guard id.utf8.count <= InferRequest.maxIDLength else {
            throw APIError.invalidField("id", "must have at most \(InferRequest.maxIDLength) bytes")
        }
        guard !id.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw APIError.invalidField("id", "must not contain control characters")
        }
        return id
    }

    static func parseParameters(_ value: JSONValue?, into request: inout OpenInferenceRequest) throws(APIError) {
        guard let value, value != .null else { return }
        guard case .object(let members) = value else {
            throw APIError.wrongType("parameters", expected: "an object", got: value.typeName)
        }
        for (key, member) in members {
            switch key {
            case "binary_data_output":
                guard case .bool(let flag) = member else {
                    throw APIError.wrongType("parameters.binary_data_output", expected: "a boolean", got: member.typeName)
                }
                request.binaryDataOutput = flag
            case "timeout":
                let micros = try nonNegativeInteger(member, field: "parameters.timeout")
                request.timeoutMicroseconds = micros == 0 ? nil : UInt64(micros)
            case "sequence_id", "sequence_start", "sequence_end":
                // tritonclient sends these only for sequence models; refuse rather than ignore.
                throw OpenInferenceError.unsupportedParameter(key, "fusion-serve's model is not a sequence model")
            default:
                // `priority`, custom parameters, KServe's extras: accepted and unused.
                continue
            }
        }
    }

    static func parseOutputs(_ value: JSONValue?, limits: OpenInferenceLimits) throws(APIError) -> [RequestedOutput]? {
        guard let value, value != .null else { return nil }
        guard case .array(let elements) = value else {
            throw APIError.wrongType("outputs", expected: "an array", got: value.typeName)
        }
        if elements.isEmpty { return nil }
        guard elements.count <= limits.maxOutputs else {
            throw APIError.invalidField("outputs", "must hold at most \(limits.maxOutputs) outputs, not \(elements.count)")
        }
        var outputs: [RequestedOutput] = []
        var names = Set<String>()
        for (index, element) in elements.enumerated() {
            let field = "outputs[\(index)]"
            guard case .object = element else { throw APIError.wrongType(field, expected: "an object", got: element.typeName) }
            let name = try tensorName(element["name"], field: field, limits: limits)
            guard names.insert(name).inserted else { throw APIError.invalidField("outputs", "names \"\(name)\" twice") }
            var output = RequestedOutput(name: name)
            if let parameters = element["parameters"], parameters != .null {
                guard case .object(let members) = parameters else {
                    throw APIError.wrongType("\(field).parameters", expected: "an object", got: parameters.typeName)
                }
                for (key, member) in members {
                    switch key {
                    case "binary_data":
                        guard case .bool(let flag) = member else {
                            throw APIError.wrongType("\(field).parameters.binary_data", expected: "a boolean", got: member.typeName)
                        }
                        output.binary = flag
                    case "classification":
                        throw OpenInferenceError.unsupportedParameter("classification", "the classification extension is not implemented; ask for the scores and label outputs")
                    case "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset":
                        throw OpenInferenceError.unsupportedParameter(key, "the shared-memory extension is not implemented")
                    default:
                        continue
                    }
                }
            }
            outputs.append(output)
        }
        return outputs
    }

    // MARK: Inputs

    static func tensorName(_ value: JSONValue?, field: String, limits: OpenInferenceLimits) throws(APIError) -> String {
        guard let value else { throw APIError.missingField("\(field).name") }
        guard case .string(let name) = value else { throw APIError.wrongType("\(field).name", expected: "a string", got: value.typeName) }
        guard !name.isEmpty, name.utf8.count <= limits.maxNameBytes else {
            throw APIError.invalidField("\(field).name", "must have 1 to \(limits.maxNameBytes) bytes")
        }
        return name
    }

    static func parseInput(_ value: JSONValue, index: Int, binary: inout BinaryCursor, bodyCount: Int,
                           limits: OpenInferenceLimits) throws(APIError) -> InputTensor {
        let field = "inputs[\(index)]"
        guard case .object = value else { throw APIError.wrongType(field, expected: "an object", got: value.typeName) }
        let name = try tensorName(value["name"], field: field, limits: limits)
        let label = "input \"\(name)\""

        guard let typeValue = value["datatype"] else { throw APIError.missingField("\(field).datatype") }
        guard case .string(let typeName) = typeValue else {
            throw APIError.wrongType("\(field).datatype", expected: "a string", got: typeValue.typeName)
        }
        guard let datatype = TensorDataType(rawValue: typeName) else {
            throw APIError.invalidField("\(field).datatype", "\"\(typeName.prefix(40))\" is not a datatype of the protocol")
        }

        guard let shapeValue = value["shape"] else { throw APIError.missingField("\(field).shape") }
        guard case .array(let dims) = shapeValue else {
            throw APIError.wrongType("\(field).shape", expected: "an array of integers", got: shapeValue.typeName)
        }
        guard dims.count <= limits.maxRank else {
            throw APIError.invalidField("\(field).shape", "has \(dims.count) dimensions; at most \(limits.maxRank)")
        }
        var shape: [Int] = []
        var count = 1
        for dim in dims {
            let size = try nonNegativeInteger(dim, field: "\(field).shape")
            shape.append(size)
            let (product, overflow) = count.multipliedReportingOverflow(by: size)
            // Every element costs at least one byte of the body (JSON or binary), so a shape
            // with more elements than the body has bytes is a lie, whatever follows.
            guard !overflow, product <= bodyCount else {
                throw OpenInferenceError.invalidTensor("\(label) has shape [\(dims.map(\.shapeText).joined(separator: ","))] with more elements than the \(bodyCount)-byte body can hold")
            }
            count = product
        }

        var binarySize: Int?
        if let parameters = value["parameters"], parameters != .null {
            guard case .object(let members) = parameters else {
                throw APIError.wrongType("\(field).parameters", expected: "an object", got: parameters.typeName)
            }
            for (key, member) in members {
                switch key {
                case "binary_data_size":
                    binarySize = try nonNegativeInteger(member, field: "\(field).parameters.binary_data_size")
                case "shared_memory_region", "shared_memory_byte_size", "shared_memory_offset":
                    throw OpenInferenceError.unsupportedParameter(key, "the shared-memory extension is not implemented")
                default:
                    continue
                }
            }
        }
        let data = value["data"]
        let values: TensorValues
        switch (data, binarySize) {
        case (let data?, nil):
            values = try decodeJSON(data, datatype: datatype, count: count, label: label, field: "\(field).data")
        case (nil, let size?):
            guard let bytes = binary.take(size) else {
                throw OpenInferenceError.invalidTensor("\(label) declares binary_data_size \(size) but only \(binary.remaining) bytes of binary data are left")
            }
            values = try decodeBinary(bytes, datatype: datatype, count: count, label: label)
        case (_?, _?):
            throw OpenInferenceError.invalidTensor("\(label) has both \"data\" and parameters.binary_data_size")
        case (nil, nil):
            throw OpenInferenceError.invalidTensor("\(label) has neither \"data\" nor parameters.binary_data_size")
        }
        return InputTensor(name: name, datatype: datatype, shape: shape, values: values, fromJSON: data != nil)
    }

    static func unsupported(_ datatype: TensorDataType, _ label: String) -> APIError {
        OpenInferenceError.invalidTensor("\(label) has datatype \(datatype.rawValue); fusion-serve reads BYTES, FP32, INT64 and INT32 inputs")
    }

    /// JSON `data`: row-major, flat or nested.
    static func decodeJSON(_ data: JSONValue, datatype: TensorDataType, count: Int, label: String,
                           field: String) throws(APIError) -> TensorValues {
        guard case .array = data else { throw APIError.wrongType(field, expected: "an array", got: data.typeName) }
        // Counted first, without copying: the elements go straight into the typed array (a
        // parsed JSON number already costs tens of bytes; a second copy would double it).
        let found = leafCount(data, limit: count)
        guard found == count else {
            throw OpenInferenceError.invalidTensor("\(label) has \(found > count ? "more than \(count)" : "\(found)") elements in \"data\" but its shape needs \(count)")
        }
        switch datatype {
        case .bytes:
            var out: [[UInt8]] = []
            out.reserveCapacity(count)
            try forEachLeaf(data) { leaf throws(APIError) in
                guard case .string(let text) = leaf else {
                    throw APIError.wrongType(field, expected: "strings for a BYTES tensor", got: leaf.typeName)
                }
                out.append(Array(text.utf8))
            }
            return .bytes(out)
        case .fp32:
            var out: [Float] = []
            out.reserveCapacity(count)
            try forEachLeaf(data) { leaf throws(APIError) in
                guard case .number(_, let number) = leaf else {
                    throw APIError.wrongType(field, expected: "numbers for an FP32 tensor", got: leaf.typeName)
                }
                let value = Float(number)
                guard value.isFinite else {
                    throw OpenInferenceError.invalidTensor("\(label) has \(number), outside the FP32 range")
                }
                out.append(value)
            }
            return .fp32(out)
        case .int64, .int32:
            var out: [Int64] = []
            out.reserveCapacity(count)
            try forEachLeaf(data) { leaf throws(APIError) in
                guard case .number(let text, _) = leaf, let value = Int64(text),
                      datatype == .int64 || Int64(Int32.min)...Int64(Int32.max) ~= value else {
                    throw OpenInferenceError.invalidTensor("\(label) needs \(datatype.rawValue) integers in \"data\", got \(leafText(leaf))")
                }
                out.append(value)
            }
            return .int64(out)
        default:
            throw unsupported(datatype, label)
        }
    }

    /// Scalars under `value` (nested arrays flattened), counted up to `limit + 1`.
    static func leafCount(_ value: JSONValue, limit: Int) -> Int {
        guard case .array(let elements) = value else { return 1 }
        var total = 0
        for element in elements {
            total += leafCount(element, limit: limit - total)
            if total > limit { return total }
        }
        return total
    }

    /// Calls `body` with every scalar under `value`, depth first (row-major for nested data).
    static func forEachLeaf(_ value: JSONValue, _ body: (JSONValue) throws(APIError) -> Void) throws(APIError) {
        guard case .array(let elements) = value else {
            try body(value)
            return
        }
        for element in elements { try forEachLeaf(element, body) }
    }

    private static func leafText(_ leaf: JSONValue) -> String {
        if case .number(let text, _) = leaf { return String(text.prefix(30)) }
        return "a \(leaf.typeName)"
    }

    /// Binary tensor data: little-endian elements, BYTES as length-prefixed strings.
    static func decodeBinary(_ bytes: ArraySlice<UInt8>, datatype: TensorDataType, count: Int,
                             label: String) throws(APIError) -> TensorValues {
        if let size = datatype.elementSize {
            let (needed, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow, needed == bytes.count else {
                throw OpenInferenceError.invalidTensor("\(label) has binary_data_size \(bytes.count) but \(count) \(datatype.rawValue) elements take \(overflow ? "more" : "\(needed)") bytes")
            }
        }
        switch datatype {
        case .fp32:
            var out = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                }
            }
            return .fp32(out)
        case .int64:
            var out = [Int64](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for i in 0..<count { out[i] = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
            }
            return .int64(out)
        case .int32:
            var out = [Int64](repeating: 0, count: count)
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    out[i] = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                }
            }
            return .int64(out)
        case .bytes:
            // Each element takes at least its 4-byte length: refuse before reserving for a lie.
            guard count <= bytes.count / 4 else {
                throw OpenInferenceError.invalidTensor("\(label) declares \(count) BYTES elements but its \(bytes.count) bytes hold at most \(bytes.count / 4)")
            }
            var out: [[UInt8]] = []
            out.reserveCapacity(count)
            var offset = bytes.startIndex
            for element in 0..<count {
                guard bytes.endIndex - offset >= 4 else {
                    throw OpenInferenceError.invalidTensor("\(label) ends inside the length of element \(element)")
                }
                let length = Int(UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                                 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
                offset += 4
                guard length <= bytes.endIndex - offset else {
                    throw OpenInferenceError.invalidTensor("\(label) element \(element) declares \(length) bytes but \(bytes.endIndex - offset) are left")
                }
                out.append(Array(bytes[offset..<(offset + length)]))
                offset += length
            }
            guard offset == bytes.endIndex else {
                throw OpenInferenceError.invalidTensor("\(label) has \(bytes.endIndex - offset) bytes after its \(count) BYTES elements")
            }
            return .bytes(out)
        default:
            throw unsupported(datatype, label)
        }
    }

    static func nonNegativeInteger(_ value: JSONValue, field: String) throws(APIError) -> Int {
        guard case .number(let text, _) = value else {
            throw APIError.wrongType(field, expected: "a non-negative integer", got: value.typeName)
        }
        // Digits only: no sign, fraction or exponent; at most 18 digits so it fits an Int.
        guard !text.isEmpty, text.utf8.count <= 18,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let number = Int(text) else {
            throw APIError.invalidField(field, "must be a non-negative integer, not \(text.prefix(30))")
        }
        return number
    }
}

/// The binary tensor data after the JSON header, handed out in input order.
struct BinaryCursor {
    let body: [UInt8]
    var offset: Int

    var remaining: Int { body.count - offset }

    mutating func take(_ count: Int) -> ArraySlice<UInt8>? {
        guard count <= remaining else { return nil }
        defer { offset += count }
        return body[offset..<(offset + count)]
    }
}

private extension JSONValue {
    var shapeText: String {
        if case .number(let text, _) = self { return String(text.prefix(20)) }
        return typeName
    }
}

/// The protocol's own error codes.
enum OpenInferenceError {
    static func invalidHeaderLength(_ why: String) -> APIError {
        APIError(.badRequest, "invalid_inference_header_length", "Inference-Header-Content-Length \(why).")
    }
    static func invalidTensor(_ why: String) -> APIError {
        APIError(.badRequest, "invalid_tensor", "Invalid tensor: \(why).")
    }
    static func unsupportedParameter(_ name: String, _ why: String) -> APIError {
        APIError(.badRequest, "unsupported_parameter", "The parameter \"\(name)\" is not supported: \(why).")
    }
}
