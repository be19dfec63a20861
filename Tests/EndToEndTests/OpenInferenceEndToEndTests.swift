import Foundation
import Testing

private let images = ["images/good/jpeg_progressive_320x240.jpg", "images/good/png_rgb_225x223.png",
                      "images/good/jpeg_gray_250x190.jpg", "images/good/png_rgba_190x130.png"]

private func lengthPrefixed(_ elements: [[UInt8]]) -> [UInt8] {
    elements.flatMap { withUnsafeBytes(of: UInt32($0.count).littleEndian) { Array($0) } + $0 }
}

/// A binary-tensor v2 request for `pairs`, outputs as binary data unless `jsonOutputs`.
private func v2Request(_ pairs: [([UInt8], String)], id: String, jsonOutputs: Bool = false) -> (body: [UInt8], headerLength: Int) {
    let imageData = lengthPrefixed(pairs.map(\.0))
    let textData = lengthPrefixed(pairs.map { Array($0.1.utf8) })
    let outputs = jsonOutputs ? #","outputs":[{"name":"logits"},{"name":"label"}]"# : #","parameters":{"binary_data_output":true}"#
    let json = Array(#"""
        {"id":"\#(id)","inputs":[{"name":"image","datatype":"BYTES","shape":[\#(pairs.count)],"parameters":{"binary_data_size":\#(imageData.count)}},{"name":"text","datatype":"BYTES","shape":[\#(pairs.count)],"parameters":{"binary_data_size":\#(textData.count)}}]\#(outputs)}
        """#.utf8)
    return (json + imageData + textData, json.count)
}

private func infer(_ port: UInt16, _ request: (body: [UInt8], headerLength: Int), path: String = "/v2/models/tiny-f32/infer") throws -> ClientResponse {
    try HTTPClient.request(port: port, method: "POST", path: path, body: request.body, contentType: "application/octet-stream",
                           extraHeaders: [("Inference-Header-Content-Length", "\(request.headerLength)")])
}

/// Splits a binary response into its JSON header and each binary output's bytes.
private func binaryOutputs(_ response: ClientResponse) throws -> (json: [String: Any], data: [String: [UInt8]]) {
    let length = try #require(response.header("Inference-Header-Content-Length").flatMap { Int($0) }, "\(response.text.prefix(300))")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(response.body[..<length])) as? [String: Any])
    var data: [String: [UInt8]] = [:]
    var offset = length
    for output in json["outputs"] as? [[String: Any]] ?? [] {
        let size = ((output["parameters"] as? [String: Any])?["binary_data_size"] as? Int) ?? 0
        data[output["name"] as? String ?? ""] = Array(response.body[offset..<(offset + size)])
        offset += size
    }
    #expect(offset == response.body.count, "the binary outputs fill the rest of the body")
    return (json, data)
}

private func floats(_ bytes: [UInt8]) -> [Float] {
    stride(from: 0, to: bytes.count, by: 4).map { i in
        Float(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
    }
}

private func v1Logits(_ port: UInt16, image: [UInt8], text: String) throws -> [Double] {
    let response = try HTTPClient.request(port: port, method: "POST", path: "/infer", body: HTTPClient.inferJSON(image: image, text: text),
                                          contentType: "application/json")
    #expect(response.status == 200, "\(response.text)")
    return (response.json["logits"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? []
}

extension EndToEnd {
    @Suite struct OpenInference {
        @Test func aSixtyFourItemRequestSpreadsOverTheWorkersAndAnswersInOrder() throws {
            // Workers slowed 20x by the test hook hold their batches long enough for the items
            // behind them to queue and share batches; 65 items are one too many.
            let server = try ServerProcess(["--max-delay-ms", "20"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "20,20"])
            // /healthz is ready with one worker; this test needs both.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let health = try HTTPClient.request(port: server.port, method: "GET", path: "/healthz")
                if (health.json["workers"] as? [String: Any])?["ready"] as? Int == 2 { break }
                usleep(50_000)
            }
            let pairs = (0..<64).map { i in (Paths.bytes(images[i % images.count]), "item \(i)" + String(repeating: " word", count: i % 6)) }
            let response = try infer(server.port, v2Request(pairs, id: "sixty-four"))
            #expect(response.status == 200, "\(response.text.prefix(500))")
            let (json, data) = try binaryOutputs(response)
            #expect(json["id"] as? String == "sixty-four" && json["model_name"] as? String == "tiny-f32")
            let names = (json["outputs"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["logits", "scores", "gate", "embedding", "label"])
            let logits = floats(data["logits"] ?? [])
            #expect(logits.count == 64 * 3)
            // Each item equals the same pair sent alone to /infer, in request order.
            for i in stride(from: 0, to: 64, by: 9) {
                let alone = try v1Logits(server.port, image: pairs[i].0, text: pairs[i].1)
                for (j, value) in alone.enumerated() {
                    #expect(abs(Double(logits[i * 3 + j]) - value) <= 1e-5, "item \(i) logit \(j)")
                }
            }
            // Both workers took part, and some batches held several items.
            let worker0 = try server.metric(#"fusion_worker_batches_total{worker="0"}"#) ?? 0
            let worker1 = try server.metric(#"fusion_worker_batches_total{worker="1"}"#) ?? 0
            #expect(worker0 > 0 && worker1 > 0, "batches per worker: \(worker0), \(worker1)")
            let stats = try HTTPClient.request(port: server.port, method: "GET", path: "/v2/models/tiny-f32/stats")
            let model = (stats.json["model_stats"] as? [[String: Any]])?.first ?? [:]
            let sizes = (model["batch_stats"] as? [[String: Any]])?.compactMap { $0["batch_size"] as? Int } ?? []
            #expect(sizes.contains { $0 > 1 }, "batch sizes \(sizes)")
            #expect((model["inference_count"] as? Int ?? 0) >= 64)

            let tooMany = try infer(server.port, v2Request(pairs + [pairs[0]], id: "too-many"))
            #expect(tooMany.status == 400 && (tooMany.json["error"] as? String)?.contains("1 to 64 (--max-request-items)") == true,
                    "\(tooMany.text)")
        }

        @Test func routesErrorsAndTheServedSpecification() throws {
            let server = try ServerProcess(["--max-request-items", "8"], workers: 1)
            let port = server.port
            // JSON outputs, the caption and a base64 image as JSON through curl.
            let image = Paths.bytes(images[0])
            let body = #"{"id":"curl-1","inputs":[{"name":"image","datatype":"BYTES","shape":[1,1],"data":["\#(Data(image).base64EncodedString())"]},{"name":"text","datatype":"BYTES","shape":[1,1],"data":["a cat"]}],"outputs":[{"name":"logits"},{"name":"label"}]}"#
            let curl = try runCurl(["-sS", "-H", "Content-Type: application/json", "--data-binary", body,
                                    "http://127.0.0.1:\(port)/v2/models/tiny-f32/versions/1/infer"])
            let answer = try #require(try JSONSerialization.jsonObject(with: Data(curl.out.utf8)) as? [String: Any], "\(curl)")
            #expect(answer["id"] as? String == "curl-1" && answer["model_version"] as? String == "1")
            let outputs = answer["outputs"] as? [[String: Any]] ?? []
            #expect(outputs.map { $0["name"] as? String } == ["logits", "label"])
            let served = (outputs.first?["data"] as? [NSNumber])?.map(\.doubleValue) ?? []
            let alone = try v1Logits(port, image: image, text: "a cat")
            #expect(served.count == 3 && zip(served, alone).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(served) vs \(alone)")

            // One corrupt image among four fails the request, naming it.
            var pairs = (0..<4).map { (Paths.bytes(images[$0]), "pair \($0)") }
            pairs[2].0 = Array(pairs[2].0.prefix(300))
            let bad = try infer(port, v2Request(pairs, id: "bad", jsonOutputs: true))
            let message = bad.json["error"] as? String ?? ""
            #expect(bad.status == 400 && message.contains("item 2 of 4") && message.contains("cannot be decoded"), "\(bad.text)")

            let checks: [(String, String, Int, String)] = [
                ("GET", "/v2/models/other", 404, "unknown model: 'other'"),
                ("GET", "/v2/models/tiny-f32/versions/2/ready", 404, "version 2"),
                ("GET", "/v2/models/tiny-f32/nonsense", 404, "No resource"),
                ("GET", "/v2/models/tiny-f32/infer", 405, "use POST"),
                ("POST", "/v2/models/tiny-f32/infer", 400, "not valid JSON"),
            ]
            for (method, path, status, text) in checks {
                let response = try HTTPClient.request(port: port, method: method, path: path)
                #expect(response.status == status && (response.json["error"] as? String)?.contains(text) == true,
                        "\(method) \(path): \(response.status) \(response.text)")
            }
            let ready = try HTTPClient.request(port: port, method: "GET", path: "/v2/models/tiny-f32/ready")
            #expect(ready.status == 200 && ready.json["ready"] as? Bool == true)
            let config = try HTTPClient.request(port: port, method: "GET", path: "/v2/models/tiny-f32/config")
            #expect(config.json["max_batch_size"] as? Int == 8, "--max-request-items is the config's max_batch_size")
            let spec = try HTTPClient.request(port: port, method: "GET", path: "/openapi.yaml")
            #expect(spec.status == 200 && spec.body == Array(FileManager.default.contents(atPath: Paths.root.appendingPathComponent("docs/openapi.yaml").path) ?? Data()))
            #expect(server.log.contains("path=/v2/models/tiny-f32/infer status=400"), "v2 inference requests are logged")
            let counted = try server.metric(#"fusion_requests_total{route="/v2/models/{name}/infer",status="200"}"#)
            #expect(counted == 1, "one successful v2 inference counted under the route template")
        }
    }
}
