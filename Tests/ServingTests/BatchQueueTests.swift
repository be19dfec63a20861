import Testing
@testable import Serving

private let ms = Duration.milliseconds(1)
/// Test time: offsets from a fixed origin (the core reads no clock; only differences matter).
private let origin = ContinuousClock.now
private func at(_ offset: Duration) -> ContinuousClock.Instant { origin + offset }
private let never = origin + .seconds(365 * 86_400)

@Suite struct BatchQueueTests {
    @Test func refusesPastCapacity() {
        var queue = BatchQueue<Int>(capacity: 2, maxBatch: 8, maxDelay: .milliseconds(2))
        let first = queue.enqueue(1, now: origin, deadline: never)
        #expect(first)
        let second = queue.enqueue(2, now: origin, deadline: never)
        #expect(second)
        let third = queue.enqueue(3, now: origin, deadline: never)
        #expect(!third)
        #expect(queue.count == 2)
    }

    @Test func waitsForTheDelayMeasuredFromTheOldestRequest() {
        var queue = BatchQueue<Int>(capacity: 16, maxBatch: 8, maxDelay: .milliseconds(2))
        #expect(queue.decision(now: origin) == .empty)
        _ = queue.enqueue(1, now: at(.milliseconds(10)), deadline: never)
        _ = queue.enqueue(2, now: at(.milliseconds(11)), deadline: never)
        #expect(queue.decision(now: at(.milliseconds(11))) == .waitUntil(at(.milliseconds(12))))
        #expect(queue.decision(now: at(.milliseconds(12))) == .dispatchNow)
    }

    @Test func aFullBatchGoesAtOnce() {
        var queue = BatchQueue<Int>(capacity: 16, maxBatch: 3, maxDelay: .milliseconds(100))
        for i in 0..<4 { _ = queue.enqueue(i, now: origin, deadline: never) }
        #expect(queue.decision(now: origin) == .dispatchNow)
        let fullBatch = queue.takeBatch()
        #expect(fullBatch.map(\.job) == [0, 1, 2])
        #expect(queue.decision(now: origin) == .waitUntil(at(.milliseconds(100))))
        let rest = queue.takeBatch()
        #expect(rest.map(\.job) == [3])
    }

    @Test func zeroDelayDispatchesASingleRequest() {
        var queue = BatchQueue<Int>(capacity: 4, maxBatch: 8, maxDelay: .zero)
        _ = queue.enqueue(7, now: at(.nanoseconds(5)), deadline: never)
        #expect(queue.decision(now: at(.nanoseconds(5))) == .dispatchNow)
    }

    @Test func aRequestThatFindsAWorkerIdleGoesAtOnce() {
        var queue = BatchQueue<Int>(capacity: 8, maxBatch: 8, maxDelay: .milliseconds(100))
        _ = queue.enqueue(1, now: at(.milliseconds(5)), deadline: never, workerIdle: true)
        #expect(queue.decision(now: at(.milliseconds(5))) == .dispatchNow)
        _ = queue.takeBatch()
        // Only a request arriving to an empty queue counts as lone.
        _ = queue.enqueue(2, now: at(.milliseconds(6)), deadline: never, workerIdle: false)
        _ = queue.enqueue(3, now: at(.milliseconds(6)), deadline: never, workerIdle: true)
        #expect(queue.decision(now: at(.milliseconds(6))) == .waitUntil(at(.milliseconds(106))))
    }

    @Test func expiredRequestsAreRemovedInOrder() {
        var queue = BatchQueue<Int>(capacity: 8, maxBatch: 8, maxDelay: .milliseconds(2))
        _ = queue.enqueue(1, now: origin, deadline: at(.milliseconds(5)))
        _ = queue.enqueue(2, now: origin, deadline: at(.milliseconds(50)))
        _ = queue.enqueue(3, now: origin, deadline: at(.milliseconds(4)))
        #expect(queue.earliestDeadline == at(.milliseconds(4)))
        let early = queue.removeExpired(now: at(.milliseconds(3)))
        #expect(early.isEmpty)
        let late = queue.removeExpired(now: at(.milliseconds(5)))
        #expect(late.map(\.job) == [1, 3])
        let remaining = queue.takeBatch()
        #expect(remaining.map(\.job) == [2])
    }
}
