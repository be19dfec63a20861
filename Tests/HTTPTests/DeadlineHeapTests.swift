import Testing
import HTTP

@Suite struct DeadlineHeapTests {
    @Test func popsInDeadlineOrder() {
        var heap = DeadlineHeap()
        var state: UInt64 = 12345
        let origin = ContinuousClock.now
        var expected: [ContinuousClock.Instant] = []
        for id in 0..<500 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let deadline = origin + .nanoseconds(Int64(state >> 40))
            expected.append(deadline)
            heap.push(deadline, UInt64(id))
        }
        var popped: [ContinuousClock.Instant] = []
        while let entry = heap.popFirst() { popped.append(entry.deadline) }
        #expect(popped == expected.sorted())
        #expect(heap.count == 0)
        #expect(heap.first == nil)
    }
}
