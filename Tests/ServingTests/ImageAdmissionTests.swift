import Testing
@testable import Serving

@Suite struct ImageAdmissionTests {
    @Test func routesByDeclaredPixelCount() {
        let admission = ImageAdmission(maxPixels: 1000, largePixels: 100)
        #expect(admission.route(width: 10, height: 10) == .shared, "at the threshold: shared")
        #expect(admission.route(width: 10, height: 11) == .largeLane)
        #expect(admission.route(width: 10, height: 100) == .largeLane, "at the guard: still allowed")
        #expect(admission.route(width: 10, height: 101) == .tooLarge(width: 10, height: 101))
        #expect(admission.route(width: .max, height: 2) == .tooLarge(width: .max, height: 2), "overflow is too large")
    }

    @Test func readsTheHeaderOnlyAndLeavesUnreadableBytesToTheDecoder() {
        // 4000 × 4000 in 64 KB: only the header is read, so this costs nothing.
        let huge = Fixtures.image("large/png_rgb_4000x4000.png")
        #expect(ImageAdmission().route(for: huge) == .largeLane)
        #expect(ImageAdmission(maxPixels: 1_000_000).route(for: huge) == .tooLarge(width: 4000, height: 4000))
        #expect(ImageAdmission().route(for: Fixtures.image("good/jpeg_rgb_444_300x200.jpg")) == .shared)
        #expect(ImageAdmission().route(for: [1, 2, 3]) == .shared)
    }

    @Test func defaultsAreDocumented() {
        #expect(ImageAdmission.defaultMaxPixels == 4096 * 4096)
        #expect(ImageAdmission.defaultLargePixels == 2048 * 2048)
    }
}
