import Testing
@testable import Images

@Suite struct RGBImageTests {
    @Test func acceptsMatchingBuffer() throws {
        let image = try RGBImage(width: 2, height: 3, pixels: [UInt8](repeating: 1, count: 18))
        #expect(image.width == 2 && image.height == 3)
    }

    @Test func rejectsMismatchedOrEmpty() {
        #expect(throws: ImageError.self) { try RGBImage(width: 2, height: 3, pixels: [0]) }
        #expect(throws: ImageError.invalidDimensions(width: 0, height: 3)) { try RGBImage(width: 0, height: 3, pixels: []) }
        #expect(throws: ImageError.self) { try RGBImage(width: Int.max, height: 2, pixels: []) }
    }
}
