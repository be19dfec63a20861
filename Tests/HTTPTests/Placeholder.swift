import Testing

@Test func HTTPBuilds() { #expect(1 + 1 == 2) }
