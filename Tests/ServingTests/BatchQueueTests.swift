import Testing
@testable import Serving

private let ms: UInt64 = 1_000_000

@Suite struct BatchQueueTests {
    @Test func refusesPastCapacity() {
        var queue = BatchQueue<Int>(capacity: 2, maxBatch: 8, maxDelay: 2 * ms)
        let v1 = queue.enqueue(1, now: 0, deadline: .max)
        #expect(v1)
        let v2 = queue.enqueue(2, now: 0, deadline: .max)
        #expect(v2)
        let v3 = queue.enqueue(3, now: 0, deadline: .max)
        #expect(!v3)
        #expect(queue.count == 2)
    }

    @Test func waitsForTheDelayMeasuredFromTheOldestRequest() {
        var queue = BatchQueue<Int>(capacity: 16, maxBatch: 8, maxDelay: 2 * ms)
        #expect(queue.decision(now: 0) == .empty)
        _ = queue.enqueue(1, now: 10 * ms, deadline: .max)
        _ = queue.enqueue(2, now: 11 * ms, deadline: .max)
        #expect(queue.decision(now: 11 * ms) == .waitUntil(12 * ms))
        #expect(queue.decision(now: 12 * ms) == .dispatchNow)
    }

    @Test func aFullBatchGoesAtOnce() {
        var queue = BatchQueue<Int>(capacity: 16, maxBatch: 3, maxDelay: 100 * ms)
        for i in 0..<4 { _ = queue.enqueue(i, now: 0, deadline: .max) }
        #expect(queue.decision(now: 0) == .dispatchNow)
        let v4 = queue.takeBatch()
        #expect(v4.map(\.job) == [0, 1, 2])
        #expect(queue.decision(now: 0) == .waitUntil(100 * ms))
        let v5 = queue.takeBatch()
        #expect(v5.map(\.job) == [3])
    }

    @Test func zeroDelayDispatchesASingleRequest() {
        var queue = BatchQueue<Int>(capacity: 4, maxBatch: 8, maxDelay: 0)
        _ = queue.enqueue(7, now: 5, deadline: .max)
        #expect(queue.decision(now: 5) == .dispatchNow)
    }

    @Test func expiredRequestsAreRemovedInOrder() {
        var queue = BatchQueue<Int>(capacity: 8, maxBatch: 8, maxDelay: 2 * ms)
        _ = queue.enqueue(1, now: 0, deadline: 5 * ms)
        _ = queue.enqueue(2, now: 0, deadline: 50 * ms)
        _ = queue.enqueue(3, now: 0, deadline: 4 * ms)
        #expect(queue.earliestDeadline == 4 * ms)
        let v6 = queue.removeExpired(now: 3 * ms)
        #expect(v6.isEmpty)
        let v7 = queue.removeExpired(now: 5 * ms)
        #expect(v7.map(\.job) == [1, 3])
        let v8 = queue.takeBatch()
        #expect(v8.map(\.job) == [2])
    }
}
