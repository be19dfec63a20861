import Testing

@Test func ModelBuilds() { #expect(1 + 1 == 2) }
