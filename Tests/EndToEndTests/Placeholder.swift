import Testing

@Test func EndToEndBuilds() { #expect(1 + 1 == 2) }
