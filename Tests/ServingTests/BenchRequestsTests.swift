import Testing
@testable import Serving

@Suite struct BenchRequestsTests {
    @Test func theV2RequestIsOneTheServerParses() throws {
        let bytes = BenchRequests.openInference(host: "h", model: "a b", image: [0xFF, 0xD8, 0, 1], text: "a cat", items: 3)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("POST /v2/models/a%20b/infer HTTP/1.1\r\n"))
        let headEnd = try #require(text.range(of: "\r\n\r\n")).upperBound.utf16Offset(in: text)
        let head = String(text.prefix(headEnd))
        let length = try #require(head.split(separator: "\r\n").first { $0.hasPrefix("Inference-Header-Content-Length: ") }
            .flatMap { Int($0.dropFirst("Inference-Header-Content-Length: ".count)) })
        let body = Array(bytes[headEnd...])
        #expect(head.contains("Content-Length: \(body.count)\r\n"))
        let parsed = try OpenInferenceRequest.parse(body: body, headerLength: ["\(length)"], contentEncoding: nil)
        #expect(parsed.inputs.map(\.name) == ["image", "text"] && parsed.inputs.allSatisfy { $0.shape == [3] })
        #expect(parsed.inputs[0].values == .bytes(Array(repeating: [0xFF, 0xD8, 0, 1], count: 3)))
        #expect(parsed.inputs[1].values == .bytes(Array(repeating: Array("a cat".utf8), count: 3)))
        #expect(parsed.outputs == [RequestedOutput(name: "logits", binary: true), RequestedOutput(name: "label", binary: true)])
    }
}
