import HTTP
import JSON
import Testing
@testable import Serving

private let logits = OutputTensor(name: "logits", datatype: .fp32, shape: [2, 2], values: .fp32([1.5, -2, 0.25, 3e-8]))
private let labels = OutputTensor(name: "label", datatype: .bytes, shape: [2], values: .bytes([Array("cat".utf8), Array("dög".utf8)]))

@Suite struct InferenceResponseCodecTests {
    @Test func jsonOutputsCarryTheirDataAndTheRequestID() throws {
        let response = OpenInferenceResponse.encode(modelName: "m", modelVersion: "1", id: "r-1",
                                                    outputs: [(logits, false), (labels, false)])
        #expect(response.status.code == 200)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(response.headers["Inference-Header-Content-Length"] == nil)
        let json = try JSONParser.parse(response.body)
        #expect(json["id"] == .string("r-1") && json["model_name"] == .string("m") && json["model_version"] == .string("1"))
        guard case .array(let outputs)? = json["outputs"], outputs.count == 2 else { Issue.record("\(json)"); return }
        #expect(outputs[0]["name"] == .string("logits") && outputs[0]["datatype"] == .string("FP32"))
        guard case .array(let data)? = outputs[0]["data"] else { Issue.record("no data"); return }
        // Numbers read back as the same 32-bit floats.
        #expect(data.compactMap { value -> Float? in if case .number(_, let d) = value { return Float(d) } else { return nil } }
                == [1.5, -2, 0.25, 3e-8])
        #expect(outputs[1]["data"] == .array([.string("cat"), .string("dög")]))
        let anonymous = OpenInferenceResponse.encode(modelName: "m", modelVersion: "1", id: nil, outputs: [(labels, false)])
        #expect(try JSONParser.parse(anonymous.body)["id"] == nil)
    }

    @Test func binaryOutputsFollowTheHeaderInOrderWithTheirSizes() throws {
        let response = OpenInferenceResponse.encode(modelName: "m", modelVersion: "1", id: nil,
                                                    outputs: [(labels, true), (logits, false), (logits, true)])
        #expect(response.headers["Content-Type"] == "application/octet-stream")
        let length = try #require(response.headers["Inference-Header-Content-Length"].flatMap { Int($0) })
        let json = try JSONParser.parse(Array(response.body[..<length]))
        guard case .array(let outputs)? = json["outputs"] else { Issue.record("\(json)"); return }
        #expect(outputs[0]["data"] == nil && outputs[0]["parameters"]?["binary_data_size"] == .number("15", 15))
        #expect(outputs[1]["data"] != nil && outputs[1]["parameters"] == nil)
        #expect(outputs[2]["parameters"]?["binary_data_size"] == .number("16", 16))
        let binary = Array(response.body[length...])
        #expect(binary == TensorBytes.strings([Array("cat".utf8), Array("dög".utf8)]) + TensorBytes.fp32([1.5, -2, 0.25, 3e-8]))
        // The codec reads what it writes.
        let echoed = try OpenInferenceRequest.parse(
            body: Array(#"{"inputs":[{"name":"label","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":15}},{"name":"logits","datatype":"FP32","shape":[2,2],"parameters":{"binary_data_size":16}}]}"#.utf8) + binary,
            headerLength: ["\(#"{"inputs":[{"name":"label","datatype":"BYTES","shape":[2],"parameters":{"binary_data_size":15}},{"name":"logits","datatype":"FP32","shape":[2,2],"parameters":{"binary_data_size":16}}]}"#.utf8.count)"],
            contentEncoding: nil)
        #expect(echoed.inputs[0].values == labels.values && echoed.inputs[1].values == logits.values)
    }

    @Test func aBinaryOutputWithNoBytesStillSaysWhereTheHeaderEnds() throws {
        let empty = OutputTensor(name: "label", datatype: .bytes, shape: [0], values: .bytes([]))
        let response = OpenInferenceResponse.encode(modelName: "m", modelVersion: "1", id: nil, outputs: [(empty, true)])
        #expect(response.headers["Inference-Header-Content-Length"] == "\(response.body.count)")
    }

    @Test func errorsTakeTheProtocolShapeAndStatuses() throws {
        let undecodable = APIError(.unprocessableContent, "undecodable_image", "item 2 of 3: The image cannot be decoded.")
        let response = undecodable.openInferenceResponse
        #expect(response.status.code == 400)
        #expect(try JSONParser.parse(response.body) == .object([("error", .string("item 2 of 3: The image cannot be decoded."))]))
        let busy = APIError.queueFull(capacity: 4).openInferenceResponse
        #expect(busy.status.code == 503 && busy.headers["Retry-After"] == "1")
        #expect(APIError.unsupportedMediaType("x").openInferenceResponse.status.code == 400)
        #expect(APIError.deadlineExceeded.openInferenceResponse.status.code == 504)
        let unauthorized = APIError.unauthorized(presented: false).openInferenceResponse
        #expect(unauthorized.status.code == 401 && unauthorized.headers["WWW-Authenticate"] != nil)
    }
}
