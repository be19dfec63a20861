import Foundation
import Testing

private let good = Paths.bytes("images/good/jpeg_progressive_320x240.jpg")

extension EndToEnd {
    @Suite struct ErrorMatrix {
        @Test func everyStatusAndCodeOverRealHTTP() throws {
            let server = try ServerProcess(["--max-body-bytes", "262144"], workers: 1)
            let port = server.port
            func post(_ body: [UInt8], type: String? = "application/json", headers: [(String, String)] = []) throws -> ClientResponse {
                try HTTPClient.request(port: port, method: "POST", path: "/infer", body: body, contentType: type, extraHeaders: headers)
            }
            func raw(_ text: String) throws -> ClientResponse {
                let client = try HTTPClient(port: port)
                try client.send(text)
                return try #require(try client.readResponse())
            }
            var seen: [ClientResponse] = []
            func check(_ response: ClientResponse, _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
                #expect(response.errorCode == expected, "\(response.text)", sourceLocation: sourceLocation)
                seen.append(response)
            }

            check(try post(Array("{\"image\": ".utf8)), "400 malformed_json")
            check(try post(Array(#"{"text":"a"}"#.utf8)), "400 missing_field")
            check(try post(Array(#"{"image":"AAAA","text":5}"#.utf8)), "400 wrong_type")
            check(try post(Array(#"{"image":"not base64!","text":"a"}"#.utf8)), "400 invalid_base64")
            check(try post([0x7B, 0x22, 0xFF, 0x22, 0x7D]), "400 invalid_utf8")
            check(try post(HTTPClient.inferJSON(image: good, text: "a", extra: #","timeout_ms":-4"#)), "400 invalid_field")
            check(try HTTPClient.request(port: port, method: "GET", path: "/nowhere"), "404 not_found")
            let wrongMethod = try HTTPClient.request(port: port, method: "DELETE", path: "/infer")
            check(wrongMethod, "405 method_not_allowed")
            #expect(wrongMethod.header("Allow") == "POST")
            check(try raw("POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n"), "411 length_required")
            check(try raw("POST /infer HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                  "400 conflicting_framing")
            // Declared over the limit: refused before any body byte is sent.
            check(try raw("POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300000\r\n\r\n"),
                  "413 body_too_large")
            check(try post(Array("hello".utf8), type: "text/plain"), "415 unsupported_media_type")
            check(try post(HTTPClient.inferJSON(image: Paths.bytes("images/bad/format.gif"), text: "a")), "415 unsupported_image_format")
            check(try post(HTTPClient.inferJSON(image: Paths.bytes("images/bad/truncated_header.jpg"), text: "a")), "422 undecodable_image")
            check(try post(HTTPClient.inferJSON(image: Paths.bytes("images/bad/bomb_60000x60000.png"), text: "a")), "422 image_too_large")
            check(try post(HTTPClient.inferJSON(image: good, text: "a", extra: #","timeout_ms":1"#)), "504 deadline_exceeded")

            // A chunked body is fine.
            let json = HTTPClient.inferJSON(image: good, text: "chunked")
            let chunked = try raw("POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  + String(json.count, radix: 16) + "\r\n" + String(decoding: json, as: UTF8.self) + "\r\n0\r\n\r\n")
            #expect(chunked.status == 200)

            // Every response carries a request id and a length; a client's id is echoed.
            for response in seen {
                #expect(response.header("X-Request-Id")?.isEmpty == false)
                #expect(response.header("Content-Length") != nil)
            }
            let echoed = try HTTPClient.request(port: port, method: "GET", path: "/healthz", extraHeaders: [("X-Request-Id", "mine-42")])
            #expect(echoed.header("X-Request-Id") == "mine-42")
            #expect(try server.metric(#"fusion_requests_total{route="/infer",status="422"}"#) == 2)
        }

        @Test func aFullQueueAnswers503WithRetryAfter() throws {
            // One worker, 10× slower, room for 2 waiting requests: 16 at once overflow.
            let server = try ServerProcess(["--max-queue", "2", "--max-batch", "2"],
                                           environment: ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "10"], workers: 1)
            let port = server.port
            let body = HTTPClient.inferJSON(image: good, text: "busy")
            let responses = concurrently(16) { _ in
                try? HTTPClient.request(port: port, method: "POST", path: "/infer", body: body, contentType: "application/json")
            }
            let full = responses.compactMap { $0 }.filter { $0.errorCode == "503 queue_full" }
            #expect(!full.isEmpty, "statuses: \(responses.map { $0?.status ?? 0 })")
            #expect(full.allSatisfy { $0.header("Retry-After") == "1" })
            #expect(responses.compactMap { $0 }.contains { $0.status == 200 })
            #expect(responses.compactMap { $0 }.allSatisfy { $0.status == 200 || $0.status == 503 })
        }

        @Test func badSettingsAndAMissingModelAreRefusedAtStart() throws {
            func serve(_ arguments: [String], directory: String? = nil) throws -> (Int32, String) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Paths.binary)
                process.arguments = arguments
                if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
                let pipe = Pipe()
                process.standardError = pipe
                process.standardOutput = pipe
                try process.run()
                // A server that starts instead of refusing would never exit: stop it so the
                // test fails rather than hangs.
                DispatchQueue.global().asyncAfter(deadline: .now() + 30) { if process.isRunning { process.terminate() } }
                let output = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return (process.terminationStatus, String(decoding: output, as: UTF8.self))
            }
            let (badBatch, batchMessage) = try serve(["serve", "--max-batch", "0"])
            #expect(badBatch != 0 && batchMessage.contains("--max-batch"))
            let (badRouter, routerMessage) = try serve(["--router", "random", "--model", Paths.tinyModel])
            #expect(badRouter != 0 && routerMessage.contains("--router"))
            let (badSets, setsMessage) = try serve(["--cpu-sets", "0;9999", "--model", Paths.tinyModel])
            #expect(badSets != 0 && setsMessage.contains("--cpu-sets"))
            // No flags at all, in a directory without models/default: a clear error, not a crash.
            let empty = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-empty-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: empty) }
            let (noModel, noModelMessage) = try serve([], directory: empty.path)
            #expect(noModel != 0 && noModelMessage.contains("models/default"))
        }
    }
}
