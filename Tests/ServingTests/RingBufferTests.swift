import Testing
@testable import Serving

@Suite struct RingBufferTests {
    @Test func keepsOrderAcrossWrapAround() {
        var ring = RingBuffer<Int>(capacity: 3)
        let a = ring.append(1), b = ring.append(2), c = ring.append(3)
        #expect(a && b && c)
        let overflow = ring.append(4)
        #expect(!overflow, "full buffer refuses")
        let one = ring.popFirst()
        #expect(one == 1)
        let again = ring.append(4)
        #expect(again)
        #expect(ring.elements == [2, 3, 4])
        let rest = [ring.popFirst(), ring.popFirst(), ring.popFirst(), ring.popFirst()]
        #expect(rest == [2, 3, 4, nil])
        #expect(ring.isEmpty)
    }

    @Test func removeAllWhereKeepsTheRestInOrder() {
        var ring = RingBuffer<Int>(capacity: 5)
        for i in 1...5 { ring.append(i) }
        let removed = ring.removeAll(where: { $0 % 2 == 0 })
        #expect(removed == [2, 4])
        #expect(ring.elements == [1, 3, 5])
        #expect(ring.count == 3)
    }
}
