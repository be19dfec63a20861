import Testing

@Test func SystemdBuilds() { #expect(1 + 1 == 2) }
