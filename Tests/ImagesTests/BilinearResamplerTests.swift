import Testing
@testable import Images

@Suite struct BilinearResamplerOrderTests {
    @Test func verticalFirstWhenHeightShrinksMoreThanTwiceTheWidth() {
        typealias R = BilinearResampler
        #expect(R.order(inWidth: 640, inHeight: 480, outWidth: 224, outHeight: 224) == .horizontalFirst)
        #expect(R.order(inWidth: 1080, inHeight: 1920, outWidth: 224, outHeight: 224) == .horizontalFirst)
        #expect(R.order(inWidth: 720, inHeight: 1280, outWidth: 224, outHeight: 224) == .verticalFirst)
        #expect(R.order(inWidth: 200, inHeight: 300, outWidth: 150, outHeight: 200) == .horizontalFirst)
        #expect(R.order(inWidth: 200, inHeight: 300, outWidth: 150, outHeight: 199) == .verticalFirst)
        #expect(R.order(inWidth: 10, inHeight: 10, outWidth: 20, outHeight: 40) == .horizontalFirst)
    }
}

@Suite struct BilinearResamplerStreamingTests {
    @Test func fewerRowsThanDeclaredStillCompletes() throws {
        // finish() closes output rows still waiting; decoders never stop early, but the
        // resampler must not trap or leave garbage if one did.
        let image = try Pattern.image(width: 20, height: 10)
        let resampler = BilinearResampler(inWidth: 20, inHeight: 10, outWidth: 7, outHeight: 3)
        image.pixels.withUnsafeBufferPointer { pixels in
            for row in 0..<5 { resampler.consume(row: pixels.baseAddress! + row * 60) }
        }
        #expect(resampler.finish().count == 7 * 3 * 3)
    }
}
