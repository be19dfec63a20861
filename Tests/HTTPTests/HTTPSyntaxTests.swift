import Testing
import HTTP

@Suite struct HTTPSyntaxTests {
    @Test func caseInsensitiveCompareHandlesNonASCII() {
        #expect(HTTPSyntax.equalsIgnoringCase("X-ÄB", "x-Äb"))
        #expect(!HTTPSyntax.equalsIgnoringCase("X-äB", "x-ÄB"))
        #expect(!HTTPSyntax.equalsIgnoringCase("abc", "abcd"))
    }

    @Test func byteClasses() {
        #expect(Array("!#$%&'*+-.^_`|~aZ09".utf8).allSatisfy(HTTPSyntax.isTokenByte))
        #expect(!Array(" \t:;,\"()/[]{}@=?\u{7F}".utf8).contains(where: HTTPSyntax.isTokenByte))
        #expect(HTTPSyntax.isFieldValueByte(0x09) && HTTPSyntax.isFieldValueByte(0x20) && HTTPSyntax.isFieldValueByte(0xFF))
        #expect(![0x00, 0x0A, 0x0D, 0x1F, 0x7F].contains(where: HTTPSyntax.isFieldValueByte))
        #expect(HTTPSyntax.isTargetByte(UInt8(ascii: "/")) && !HTTPSyntax.isTargetByte(0x20) && !HTTPSyntax.isTargetByte(0x80))
    }

    @Test func listElementsTrimLowercaseAndDropEmpties() {
        #expect(HTTPSyntax.listElements(" Chunked ,, GZIP,\t") == ["chunked", "gzip"])
        #expect(HTTPSyntax.listElements("").isEmpty)
    }
}
