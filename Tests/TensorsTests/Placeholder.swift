import Testing

@Test func TensorsBuilds() { #expect(1 + 1 == 2) }
