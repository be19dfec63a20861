import Testing

@Test func KernelsBuilds() { #expect(1 + 1 == 2) }
