import Testing
@testable import Images

@Suite struct ImageFormatTests {
    @Test func sniffsKnownMagic() {
        #expect(ImageFormat.sniff([0xFF, 0xD8, 0xFF, 0xE0]) == .jpeg)
        #expect(ImageFormat.sniff([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]) == .png)
        #expect(ImageFormat.sniff(Array("GIF87a".utf8)) == .gif)
        #expect(ImageFormat.sniff(Array("RIFF\0\0\0\0WEBPVP8 ".utf8)) == .webp)
        #expect(ImageFormat.sniff(Array("BM....".utf8)) == .bmp)
        #expect(ImageFormat.sniff([0x49, 0x49, 0x2A, 0x00]) == .tiff)
        #expect(ImageFormat.sniff([0, 0, 0, 24] + Array("ftypavif".utf8)) == .heif)
    }

    @Test func jpegNeedsThreeMagicBytesAsPillow() {
        #expect(ImageFormat.sniff([0xFF, 0xD8]) == .unknown)
        #expect(ImageFormat.sniff([0xFF, 0xD8, 0x00]) == .unknown)
    }

    @Test func cutPNGSignatureIsStillPNG() {
        #expect(ImageFormat.sniff([0x89, 0x50, 0x4E]) == .png)
        #expect(ImageFormat.sniff([0x89]) == .unknown)
        #expect(ImageFormat.sniff([]) == .unknown)
    }
}
