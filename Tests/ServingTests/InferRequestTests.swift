import HTTP
import Testing
@testable import Serving

private func json(_ text: String) throws(APIError) -> InferRequest {
    try InferRequest.parse(body: Array(text.utf8), contentType: "application/json; charset=utf-8")
}

/// "400 malformed_json" for a refused body, "accepted" otherwise.
private func code(_ body: () throws -> InferRequest) -> String {
    do {
        _ = try body()
        return "accepted"
    } catch let error as APIError {
        return "\(error.status.code) \(error.code)"
    } catch {
        return "unexpected \(error)"
    }
}

private func multipart(_ parts: [(String, String?, [UInt8])], boundary: String = "XyZ") -> [UInt8] {
    var body: [UInt8] = []
    for (name, filename, content) in parts {
        var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\""
        if let filename { head += "; filename=\"\(filename)\"\r\nContent-Type: image/jpeg" }
        head += "\r\n\r\n"
        body += Array(head.utf8) + content + Array("\r\n".utf8)
    }
    body += Array("--\(boundary)--\r\n".utf8)
    return body
}

@Suite struct InferRequestTests {
    @Test func parsesAFullJSONRequest() throws {
        let request = try json(#"{"image":"AAEC","text":"a cat","id":"r-1","return_embedding":true,"timeout_ms":250,"extra":1}"#)
        #expect(request == InferRequest(image: [0, 1, 2], text: "a cat", id: "r-1", returnEmbedding: true, timeoutMilliseconds: 250))
        let minimal = try json(#"{"image":"AAEC","text":""}"#)
        #expect(minimal.id == nil && !minimal.returnEmbedding && minimal.timeoutMilliseconds == nil)
    }

    /// The parser's reason and offset reach the client in the message (module JSON).
    @Test func malformedJSONMessagesNameWhatAndWhere() {
        func message(_ text: String) -> String? {
            do throws(APIError) {
                _ = try json(text)
                return nil
            } catch {
                return error.message
            }
        }
        #expect(message(#"{"image":"AAEC","image":"AAEC"}"#)
            == #"The request body is not valid JSON: duplicate key "image" at byte 16."#)
        #expect(message(#"{"image":"AAEC"} x"#) == "The request body is not valid JSON: unexpected data after the JSON value at byte 17.")
        #expect(message(#"{"image":"\x"}"#) == #"The request body is not valid JSON: invalid escape '\x' at byte 12."#)
        #expect(message("[" + String(repeating: "[", count: 64) + String(repeating: "]", count: 65))
            == "The request body is not valid JSON: nesting deeper than 64 at byte 64.")
    }

    @Test func jsonErrorsFollowTheMatrix() {
        #expect(code { try json("{") } == "400 malformed_json")
        #expect(code { try json("[]") } == "400 malformed_json")
        #expect(code { try json(#"{"text":"a"}"#) } == "400 missing_field")
        #expect(code { try json(#"{"image":"AAEC"}"#) } == "400 missing_field")
        #expect(code { try json(#"{"image":5,"text":"a"}"#) } == "400 wrong_type")
        #expect(code { try json(#"{"image":"AAEC","text":["a"]}"#) } == "400 wrong_type")
        #expect(code { try json(#"{"image":"AAEC","text":"a","return_embedding":1}"#) } == "400 wrong_type")
        #expect(code { try json(#"{"image":"AAEC","text":"a","timeout_ms":"5"}"#) } == "400 wrong_type")
        #expect(code { try json(#"{"image":"AAEC","text":"a","timeout_ms":1.5}"#) } == "400 invalid_field")
        #expect(code { try json(#"{"image":"AAEC","text":"a","timeout_ms":0}"#) } == "400 invalid_field")
        #expect(code { try json(#"{"image":"AAEC","text":"a","id":""}"#) } == "400 invalid_field")
        #expect(code { try json(#"{"image":"A*EC","text":"a"}"#) } == "400 invalid_base64")
        #expect(code { try InferRequest.parse(body: [0x7B, 0xFF, 0x7D], contentType: "application/json") } == "400 invalid_utf8")
        #expect(code { try InferRequest.parse(body: [], contentType: "text/plain") } == "415 unsupported_media_type")
        #expect(code { try InferRequest.parse(body: [], contentType: nil) } == "415 unsupported_media_type")
    }

    @Test func parsesMultipart() throws {
        let body = multipart([("image", "cat.jpg", [0xFF, 0xD8, 0x00]), ("text", nil, Array("a cat".utf8)),
                              ("id", nil, Array("m-1".utf8)), ("return_embedding", nil, Array("true".utf8)),
                              ("timeout_ms", nil, Array("100".utf8))])
        let request = try InferRequest.parse(body: body, contentType: "multipart/form-data; boundary=XyZ")
        #expect(request == InferRequest(image: [0xFF, 0xD8, 0x00], text: "a cat", id: "m-1", returnEmbedding: true,
                                        timeoutMilliseconds: 100))
    }

    @Test func multipartErrorsFollowTheMatrix() {
        let type = "multipart/form-data; boundary=XyZ"
        #expect(code { try InferRequest.parse(body: multipart([("text", nil, [0x61])]), contentType: type) } == "400 missing_field")
        #expect(code { try InferRequest.parse(body: multipart([("image", "a", [1])]), contentType: type) } == "400 missing_field")
        #expect(code {
            try InferRequest.parse(body: multipart([("image", "a", [1]), ("text", nil, [0xC3, 0x28])]), contentType: type)
        } == "400 invalid_utf8")
        #expect(code {
            try InferRequest.parse(body: multipart([("image", "a", [1]), ("text", nil, [0x61]), ("return_embedding", nil, Array("maybe".utf8))]),
                                   contentType: type)
        } == "400 wrong_type")
        #expect(code { try InferRequest.parse(body: Array("garbage".utf8), contentType: type) }.hasPrefix("400 "))
        #expect(code { try InferRequest.parse(body: [], contentType: "multipart/form-data") }.hasPrefix("400 "))
    }
}
