import Testing
import HTTP

@Suite struct HTTPStatusTests {
    @Test func statusPhrases() {
        #expect(HTTPStatus(code: 413).reasonPhrase == "Content Too Large")
        #expect(HTTPStatus(code: 299).reasonPhrase == "Unknown")
        #expect(HTTPStatus.noContent.forbidsBody)
        #expect(!HTTPStatus.ok.forbidsBody)
        #expect(HTTPStatus.notFound.description == "404 Not Found")
        let literal: HTTPStatus = 503
        #expect(literal == .serviceUnavailable)
    }
}
