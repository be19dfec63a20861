import Testing
@testable import Serving

private let ms: UInt64 = 1_000_000

@Suite struct BatchQueueTests {
    @Test func refusesPastCapacity() {
        var queue = BatchQueue<Int>(capacity: 2, maxBatch: 8, maxDelay: 2 * ms)
        let first = queue.enqueue(1, now: 0, deadline: .max)
        #expect(first)
        let second = queue.enqueue(2, now: 0, deadline: .max)
        #expect(second)
        let third = queue.enqueue(3, now: 0, deadline: .max)
        #expect(!third)
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
        let fullBatch = queue.takeBatch()
        #expect(fullBatch.map(\.job) == [0, 1, 2])
        #expect(queue.decision(now: 0) == .waitUntil(100 * ms))
        let rest = queue.takeBatch()
        #expect(rest.map(\.job) == [3])
    }

    @Test func zeroDelayDispatchesASingleRequest() {
        var queue = BatchQueue<Int>(capacity: 4, maxBatch: 8, maxDelay: 0)
        _ = queue.enqueue(7, now: 5, deadline: .max)
        #expect(queue.decision(now: 5) == .dispatchNow)
    }

    @Test func aRequestThatFindsAWorkerIdleGoesAtOnce() {
        var queue = BatchQueue<Int>(capacity: 8, maxBatch: 8, maxDelay: 100 * ms)
        _ = queue.enqueue(1, now: 5 * ms, deadline: .max, workerIdle: true)
        #expect(queue.decision(now: 5 * ms) == .dispatchNow)
        _ = queue.takeBatch()
        // Only a request arriving to an empty queue counts as lone.
        _ = queue.enqueue(2, now: 6 * ms, deadline: .max, workerIdle: false)
        _ = queue.enqueue(3, now: 6 * ms, deadline: .max, workerIdle: true)
        #expect(queue.decision(now: 6 * ms) == .waitUntil(106 * ms))
    }

    @Test func expiredRequestsAreRemovedInOrder() {
        var queue = BatchQueue<Int>(capacity: 8, maxBatch: 8, maxDelay: 2 * ms)
        _ = queue.enqueue(1, now: 0, deadline: 5 * ms)
        _ = queue.enqueue(2, now: 0, deadline: 50 * ms)
        _ = queue.enqueue(3, now: 0, deadline: 4 * ms)
        #expect(queue.earliestDeadline == 4 * ms)
        let early = queue.removeExpired(now: 3 * ms)
        #expect(early.isEmpty)
        let late = queue.removeExpired(now: 5 * ms)
        #expect(late.map(\.job) == [1, 3])
        let remaining = queue.takeBatch()
        #expect(remaining.map(\.job) == [2])
    }
}
