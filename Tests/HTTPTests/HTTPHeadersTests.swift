import Testing
import HTTP

@Suite struct HTTPHeadersTests {
    @Test func lookupIgnoresCaseAndKeepsRepeats() {
        var headers: HTTPHeaders = ["Content-Type": "text/plain", "Set-Cookie": "a=1"]
        headers.add(name: "set-cookie", value: "b=2")
        #expect(headers["content-type"] == "text/plain")
        #expect(headers.values(for: "SET-COOKIE") == ["a=1", "b=2"])
        #expect(headers.count == 3)
        #expect(headers.contains("Set-Cookie"))
        #expect(!headers.contains("Set-Cookies"))
    }

    @Test func replaceAndRemoveAffectEveryCopy() {
        var headers = HTTPHeaders([("A", "1"), ("a", "2"), ("B", "3")])
        headers.replaceOrAdd(name: "A", value: "9")
        #expect(headers.values(for: "a") == ["9"])
        headers.remove(name: "b")
        #expect(headers.fields == [HTTPField(name: "A", value: "9")])
    }

    @Test func tokensSplitListsAcrossFields() {
        let headers = HTTPHeaders([("Connection", "Keep-Alive, Upgrade"), ("connection", " close ,, ")])
        #expect(headers.tokens(for: "Connection") == ["keep-alive", "upgrade", "close"])
    }
}
