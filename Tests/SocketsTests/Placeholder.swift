import Testing

@Test func SocketsBuilds() { #expect(1 + 1 == 2) }
