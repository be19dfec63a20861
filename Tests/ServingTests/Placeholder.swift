import Testing

@Test func ServingBuilds() { #expect(1 + 1 == 2) }
