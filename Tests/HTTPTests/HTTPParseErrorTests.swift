import Testing
import HTTP

@Suite struct HTTPParseErrorTests {
    @Test func errorsMapToStatusAndCode() {
        #expect(HTTPParseError(.bodyTooLarge, "").status.code == 413)
        #expect(HTTPParseError(.headersTooLarge, "").status.code == 431)
        #expect(HTTPParseError(.tooManyHeaders, "").status.code == 431)
        #expect(HTTPParseError(.requestLineTooLong, "").status.code == 414)
        #expect(HTTPParseError(.lengthRequired, "").status.code == 411)
        #expect(HTTPParseError(.versionNotSupported, "").status.code == 505)
        #expect(HTTPParseError(.expectationFailed, "").status.code == 417)
        #expect(HTTPParseError(.unsupportedTransferEncoding, "").status.code == 501)
        #expect(HTTPParseError(.invalidChunk, "").status.code == 400)
        #expect(HTTPParseError(.invalidChunk, "x").code == "invalid_chunk")
    }

    @Test func descriptionAndCodesAreStable() {
        let error = HTTPParseError(.invalidChunk, "chunk size is not hexadecimal")
        #expect(error.description == "400 invalid_chunk: chunk size is not hexadecimal")
        #expect(Set(HTTPParseError.Kind.allCases.map(\.rawValue)).count == HTTPParseError.Kind.allCases.count)
        #expect(HTTPParseError.Kind.allCases.allSatisfy { $0.rawValue.allSatisfy { $0.isLowercase || $0 == "_" } })
    }
}
