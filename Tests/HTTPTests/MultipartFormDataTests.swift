import Testing
import HTTP

@Suite struct MultipartFormDataTests {
    static func body(_ boundary: String, _ parts: [(headers: String, content: String)], close: Bool = true) -> [UInt8] {
        var text = ""
        for part in parts { text += "--\(boundary)\r\n\(part.headers)\r\n\r\n\(part.content)\r\n" }
        if close { text += "--\(boundary)--\r\n" }
        return Array(text.utf8)
    }

    @Test func parsesCurlStyleForm() throws {
        let boundary = "------------------------d74496d66958873e"
        let bytes = Self.body(boundary, [
            ("Content-Disposition: form-data; name=\"image\"; filename=\"cat.jpg\"\r\nContent-Type: image/jpeg", "\u{FF}\u{D8}binary\r\n--almost"),
            ("Content-Disposition: form-data; name=\"text\"", "a cat"),
        ])
        let parts = try MultipartFormData.parse(bytes, contentType: "multipart/form-data; boundary=\(boundary)")
        #expect(parts.count == 2)
        #expect(parts[0].name == "image")
        #expect(parts[0].filename == "cat.jpg")
        #expect(parts[0].contentType == "image/jpeg")
        #expect(parts[0].body == Array("\u{FF}\u{D8}binary\r\n--almost".utf8))
        #expect(parts.first(named: "text")?.text == "a cat")
        #expect(parts.first(named: "text")?.contentType == "text/plain")
        #expect(parts.first(named: "missing") == nil)
    }

    @Test func boundaryParameterForms() throws {
        #expect(try MultipartFormData.boundary(fromContentType: "Multipart/Form-Data; charset=utf-8; BOUNDARY=abc") == "abc")
        #expect(try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=\"a b:c\"") == "a b:c")
        #expect(throws: MultipartError.self) { try MultipartFormData.boundary(fromContentType: "application/json") }
        #expect(throws: MultipartError.self) { try MultipartFormData.boundary(fromContentType: "multipart/form-data") }
        #expect(throws: MultipartError.self) { try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=") }
        #expect(throws: MultipartError.self) {
            try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "a", count: 71))
        }
        #expect(throws: MultipartError.self) { try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=\"ends \"") }
        #expect(throws: MultipartError.self) { try MultipartFormData.boundary(fromContentType: "multipart/form-data; boundary=a\u{1}b") }
    }

    @Test func toleratesPreambleEpilogueAndPadding() throws {
        let text = "preamble text\r\n--xyz  \r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--xyz--\r\nepilogue"
        let parts = try MultipartFormData.parse(Array(text.utf8), boundary: "xyz")
        #expect(parts.map(\.name) == ["a"])
        #expect(parts[0].text == "1")
    }

    @Test func quotedParametersWithEscapes() throws {
        let bytes = Self.body("b", [("Content-Disposition: form-data; name=\"we\\\"ird; name\"; filename=\"a\\\\b.png\"", "x")])
        let part = try #require(try MultipartFormData.parse(bytes, boundary: "b").first)
        #expect(part.name == "we\"ird; name")
        #expect(part.filename == "a\\b.png")
    }

    @Test func emptyBodyPartAndEmptyForm() throws {
        let parts = try MultipartFormData.parse(Self.body("b", [("Content-Disposition: form-data; name=e", "")]), boundary: "b")
        #expect(parts.first?.body.isEmpty == true)
        #expect(try MultipartFormData.parse(Array("--b--\r\n".utf8), boundary: "b").isEmpty)
    }

    static let hostile: [(String, MultipartError.Kind)] = [
        ("no delimiter at all", .missingDelimiter),
        ("--b\r\nContent-Disposition: form-data; name=a\r\n\r\nunterminated", .unterminated),
        ("--b\r\nContent-Disposition: form-data; name=a\r\n", .unterminated),
        ("--b", .unterminated),
        ("--bX\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--", .malformed),
        ("--b\r\nno colon here\r\n\r\nx\r\n--b--", .malformed),
        ("--b\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\nx\r\n--b--", .malformed),
        ("--b\r\nX: a\u{0}\r\n\r\nx\r\n--b--", .malformed),
        ("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--", .invalidContentDisposition),
        ("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--", .invalidContentDisposition),
        ("--b\r\nContent-Disposition: form-data; filename=a\r\n\r\nx\r\n--b--", .invalidContentDisposition),
    ]

    @Test(arguments: hostile)
    func hostileBodiesAreTypedErrors(text: String, kind: MultipartError.Kind) {
        #expect {
            try MultipartFormData.parse(Array(text.utf8), boundary: "b")
        } throws: { error in
            (error as? MultipartError)?.kind == kind
        }
    }

    @Test func partCountAndHeaderSizesAreBounded() {
        let many = Self.body("b", Array(repeating: ("Content-Disposition: form-data; name=p", "x"), count: 5))
        let limits = MultipartLimits(maxParts: 4, maxPartHeaderBytes: 128, maxPartHeaderCount: 3)
        #expect { try MultipartFormData.parse(many, boundary: "b", limits: limits) } throws: {
            ($0 as? MultipartError)?.kind == .tooManyParts
        }
        let bigHeader = Self.body("b", [("Content-Disposition: form-data; name=p\r\nX-Long: " + String(repeating: "h", count: 500), "x")])
        #expect { try MultipartFormData.parse(bigHeader, boundary: "b", limits: limits) } throws: {
            ($0 as? MultipartError)?.kind == .partHeadersTooLarge
        }
        let manyHeaders = Self.body("b", [("Content-Disposition: form-data; name=p\r\nA: 1\r\nB: 2\r\nC: 3", "x")])
        #expect { try MultipartFormData.parse(manyHeaders, boundary: "b", limits: limits) } throws: {
            ($0 as? MultipartError)?.kind == .partHeadersTooLarge
        }
    }

    @Test func nearMissDelimitersStayInTheContent() throws {
        // Many almost-delimiters must neither split the part nor take quadratic time.
        let noise = String(repeating: "\r\n--boundar\r\n-", count: 20_000)
        let bytes = Self.body("boundary", [("Content-Disposition: form-data; name=n", noise)])
        let parts = try MultipartFormData.parse(bytes, boundary: "boundary")
        #expect(parts.count == 1)
        #expect(parts[0].body.count == noise.utf8.count)
    }

    @Test func findLocatesPatternsAtEdges() {
        let hay = Array("\r\n--ab..\r\n--ab".utf8)
        #expect(MultipartFormData.find(Array("\r\n--ab".utf8), in: hay, from: 0) == 0)
        #expect(MultipartFormData.find(Array("\r\n--ab".utf8), in: hay, from: 1) == 8)
        #expect(MultipartFormData.find(Array("\r\n--ab".utf8), in: hay, from: 9) == nil)
    }
}
