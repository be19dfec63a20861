import Testing

@Test func TokenizerBuilds() { #expect(1 + 1 == 2) }
