import Testing
import HTTP

@Suite struct HTTPResponseTests {
    @Test func errorBodyHasTheServiceShape() {
        let response = HTTPResponse.error(.unsupportedMediaType, code: "unsupported_media_type", message: "Use \"image/jpeg\".")
        #expect(response.status.code == 415)
        #expect(response.headers["Content-Type"] == "application/json")
        #expect(String(decoding: response.body, as: UTF8.self)
            == #"{"error":{"code":"unsupported_media_type","message":"Use \"image/jpeg\"."}}"#)
    }
}
