import Testing

@Test func POSIXBuilds() { #expect(1 + 1 == 2) }
