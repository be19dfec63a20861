import Testing

@Test func ImagesBuilds() { #expect(1 + 1 == 2) }
