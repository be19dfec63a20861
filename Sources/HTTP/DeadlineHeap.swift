/// A binary min-heap of (deadline, connection id), driving `epoll_wait`'s timeout.
/// Entries are not removed when a deadline changes; the loop checks each popped entry
/// against the connection's current deadline (lazy deletion), so a connection has at most
/// a couple of entries and a request costs no heap operation unless its deadline moves
/// earlier.
package struct DeadlineHeap {
    package struct Entry {
        package var deadline: ContinuousClock.Instant
        package var id: UInt64
    }

    private var items: [Entry] = []

    package init() {}

    package var count: Int { items.count }
    package var first: Entry? { items.first }

    package mutating func push(_ deadline: ContinuousClock.Instant, _ id: UInt64) {
        items.append(Entry(deadline: deadline, id: id))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].deadline < items[parent].deadline else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    package mutating func popFirst() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count, items[left].deadline < items[smallest].deadline { smallest = left }
                if right < items.count, items[right].deadline < items[smallest].deadline { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}
