import Testing
import HTTP

@Suite struct DeadlineHeapTests {
    @Test func popsInDeadlineOrder() {
        var heap = DeadlineHeap()
        var state: UInt64 = 12345
        var expected: [Int64] = []
        for id in 0..<500 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let deadline = Int64(state >> 40)
            expected.append(deadline)
            heap.push(deadline, UInt64(id))
        }
        var popped: [Int64] = []
        while let entry = heap.popFirst() { popped.append(entry.deadline) }
        #expect(popped == expected.sorted())
        #expect(heap.count == 0)
        #expect(heap.first == nil)
    }
}
