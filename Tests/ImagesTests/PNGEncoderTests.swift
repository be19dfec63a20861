import Testing
@testable import Images

@Suite struct PNGEncoderTests {
    @Test func roundTripsThroughTheDecoder() throws {
        let image = try Pattern.image(width: 31, height: 17)
        let png = try PNGEncoder.encode(image)
        #expect(Array(png.prefix(4)) == [0x89, 0x50, 0x4E, 0x47])
        #expect(try ImageDecoder.decode(png) == image)
    }
}
