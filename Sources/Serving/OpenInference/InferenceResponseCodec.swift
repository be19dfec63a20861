import HTTP
import JSON

/// Encodes an inference response of the Open Inference Protocol: the JSON header and, for
/// outputs sent as binary tensor data, their raw bytes after it, with
/// `Inference-Header-Content-Length` saying where the JSON ends.
public enum OpenInferenceResponse {
    /// The response for `outputs` (each with whether it goes as binary data), in that order.
    public static func encode(modelName: String, modelVersion: String, id: String?,
                              outputs: [(tensor: OutputTensor, binary: Bool)]) -> HTTPResponse {
        var binary: [UInt8] = []
        var members: [(String, String)] = []
        if let id { members.append(("id", JSONText.string(id))) }
        members.append(("model_name", JSONText.string(modelName)))
        members.append(("model_version", JSONText.string(modelVersion)))
        var encoded: [String] = []
        encoded.reserveCapacity(outputs.count)
        for (tensor, asBinary) in outputs {
            var fields: [(String, String)] = [
                ("name", JSONText.string(tensor.name)),
                ("datatype", JSONText.string(tensor.datatype.rawValue)),
                ("shape", "[" + tensor.shape.map(String.init).joined(separator: ",") + "]"),
            ]
            if asBinary {
                let before = binary.count
                appendBinary(tensor.values, to: &binary)
                fields.append(("parameters", JSONText.object([("binary_data_size", "\(binary.count - before)")])))
            } else {
                fields.append(("data", jsonData(tensor.values)))
            }
            encoded.append(JSONText.object(fields))
        }
        members.append(("outputs", "[" + encoded.joined(separator: ",") + "]"))
        let json = Array(JSONText.object(members).utf8)
        var headers = HTTPHeaders()
        if binary.isEmpty && !outputs.contains(where: { $0.binary }) {
            headers.add(name: "Content-Type", value: "application/json")
            return HTTPResponse(status: .ok, headers: headers, body: json)
        }
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Inference-Header-Content-Length", value: "\(json.count)")
        return HTTPResponse(status: .ok, headers: headers, body: json + binary)
    }

    /// The flat JSON `data` array.
    static func jsonData(_ values: TensorValues) -> String {
        switch values {
        case .fp32(let floats): return JSONText.array(floats)
        case .int64(let ints): return "[" + ints.map(String.init).joined(separator: ",") + "]"
        case .bytes(let strings):
            return "[" + strings.map { JSONText.string(String(decoding: $0, as: UTF8.self)) }.joined(separator: ",") + "]"
        }
    }

    /// Little-endian elements; BYTES elements as a 4-byte little-endian length and the bytes.
    static func appendBinary(_ values: TensorValues, to out: inout [UInt8]) {
        switch values {
        case .fp32(let floats):
            out.reserveCapacity(out.count + floats.count * 4)
            for value in floats { withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        case .int64(let ints):
            out.reserveCapacity(out.count + ints.count * 8)
            for value in ints { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        case .bytes(let strings):
            for string in strings {
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: string.count).littleEndian) { out.append(contentsOf: $0) }
                out.append(contentsOf: string)
            }
        }
    }
}

extension APIError {
    /// The protocol's error shape, `{"error": "message"}`, for every `/v2` route. Client
    /// errors about the request's content (415, 422 on `/infer`) are 400 here, as the
    /// protocol has it; other statuses (401, 404, 405, 413, 503, 504 …) keep their meaning.
    var openInferenceResponse: HTTPResponse {
        var fields = HTTPHeaders()
        for (name, value) in headers { fields.add(name: name, value: value) }
        let protocolStatus: HTTPStatus = status.code == 415 || status.code == 422 ? .badRequest : status
        return .json(protocolStatus, JSONText.object([("error", JSONText.string(message))]), headers: fields)
    }
}
