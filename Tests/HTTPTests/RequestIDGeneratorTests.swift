import Testing
import HTTP

@Suite struct RequestIDGeneratorTests {
    @Test func idsAreUniqueFixedWidthAndDifferAcrossGenerators() {
        var a = RequestIDGenerator()
        var b = RequestIDGenerator()
        let ids = (0..<1000).map { _ in a.next() }
        #expect(Set(ids).count == 1000)
        #expect(ids.allSatisfy { $0.count == 25 && RequestIDGenerator.isAcceptable($0) })
        #expect(b.next() != ids[0])
    }

    @Test func clientIDsAreScreened() {
        #expect(RequestIDGenerator.isAcceptable("abc-123_x.y"))
        #expect(!RequestIDGenerator.isAcceptable(""))
        #expect(!RequestIDGenerator.isAcceptable("has space"))
        #expect(!RequestIDGenerator.isAcceptable("é"))
        #expect(!RequestIDGenerator.isAcceptable(String(repeating: "a", count: 129)))
    }
}
