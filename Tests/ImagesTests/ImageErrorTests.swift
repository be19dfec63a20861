import Testing
@testable import Images

@Suite struct ImageErrorTests {
    @Test func descriptionsSayWhatWentWrong() {
        #expect(ImageError.empty.description.contains("empty"))
        #expect(ImageError.unsupportedFormat("GIF").description.contains("GIF"))
        #expect(ImageError.tooLarge(width: 60000, height: 60000, limit: 50_000_000).description
            .contains("60000x60000"))
        #expect(ImageError.truncated("JPEG: cut").description.hasPrefix("truncated image"))
        #expect(ImageError.corrupt("PNG: bad CRC").description.contains("bad CRC"))
    }
}
