import Testing
import HTTP

@Suite struct HTTPLimitsTests {
    @Test func defaultsMatchTheServiceSpecification() {
        let limits = HTTPLimits()
        #expect(limits.maxHeaderBytes == 16 * 1024)
        #expect(limits.maxHeaderCount == 100)
        #expect(limits.maxBodyBytes == 20 * 1024 * 1024)
        #expect(limits.methodsRequiringLength == ["POST", "PUT", "PATCH"])
    }
}
