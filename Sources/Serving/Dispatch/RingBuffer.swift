/// A first-in first-out buffer with a fixed capacity, so a queue can never grow past its bound.
struct RingBuffer<Element> {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0

    /// The most elements the buffer holds.
    let capacity: Int

    init(capacity: Int) {
        precondition(capacity > 0, "RingBuffer capacity must be positive")
        self.capacity = capacity
        self.storage = Array(repeating: nil, count: capacity)
    }

    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == capacity }

    /// The oldest element, if any.
    var first: Element? { count == 0 ? nil : storage[head] }

    /// Appends at the tail; returns false (and drops nothing) when full.
    @discardableResult
    mutating func append(_ element: Element) -> Bool {
        guard count < capacity else { return false }
        storage[(head + count) % capacity] = element
        count += 1
        return true
    }

    /// Removes and returns the oldest element.
    mutating func popFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return element
    }

    /// Removes the elements for which `remove` is true and returns them in order; the others keep their order.
    mutating func removeAll(where remove: (Element) -> Bool) -> [Element] {
        var kept: [Element] = []
        var removed: [Element] = []
        while let element = popFirst() {
            if remove(element) { removed.append(element) } else { kept.append(element) }
        }
        for element in kept { append(element) }
        return removed
    }

    /// The elements oldest first.
    var elements: [Element] {
        (0..<count).compactMap { storage[(head + $0) % capacity] }
    }
}

extension RingBuffer: Sendable where Element: Sendable {}
