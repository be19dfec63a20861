import Testing
@testable import Serving

private let ms = Duration.milliseconds(1)
/// Test time: offsets from a fixed origin (the core reads no clock; only differences matter).
private let origin = ContinuousClock.now
private func at(_ offset: Duration) -> ContinuousClock.Instant { origin + offset }
private let never = origin + .seconds(365 * 86_400)

private func makeCore(workers: Int = 1, maxBatch: Int = 8, delay: Duration = .milliseconds(2), capacity: Int = 256,
                      policy: RoutingPolicy = .leastLoaded, perWorker: Int = 2) -> DispatchCore<Int> {
    var core = DispatchCore<Int>(queueCapacity: capacity, maxBatch: maxBatch, maxDelay: delay, policy: policy,
                                 workerCount: workers, maxBatchesPerWorker: perWorker)
    for i in 0..<workers { core.workerReady(i) }
    return core
}

@Suite struct DispatchCoreTests {
    @Test func refusesWhileStartingAndWhenFull() {
        var core = DispatchCore<Int>(queueCapacity: 2, maxBatch: 8, maxDelay: .zero, policy: .pull, workerCount: 1)
        let whileStarting = core.submit(1, now: origin, deadline: never)
        #expect(whileStarting == .refused(.starting))
        core.workerReady(0)
        let first = core.submit(1, now: origin, deadline: never)
        #expect(first == .accepted)
        let second = core.submit(2, now: origin, deadline: never)
        #expect(second == .accepted)
        let overflow = core.submit(3, now: origin, deadline: never)
        #expect(overflow == .queueFull)
        core.admission = .draining
        let whileDraining = core.submit(4, now: origin, deadline: never)
        #expect(whileDraining == .refused(.draining))
    }

    @Test func requestsWhoseClientLeftAreDroppedBeforeTheirBatchForms() {
        // Worker busy with one batch: 2, 3, 4 wait for the next; the clients of 2 and 4 leave.
        var core = makeCore(delay: .zero, perWorker: 1)
        _ = core.submit(1, now: origin, deadline: never)
        #expect(core.step(now: origin).sends.map { $0.requests.map(\.job) } == [[1]])
        for job in 2...4 { _ = core.submit(job, now: at(.milliseconds(1)), deadline: never) }
        let gone: Set<Int> = [2, 4]
        let waiting = core.step(now: at(.milliseconds(2)), isCancelled: { gone.contains($0) })
        #expect(waiting.cancelled.map(\.job) == [2, 4])
        #expect(waiting.sends.isEmpty)
        #expect(core.queue.count == 1)
        _ = core.complete(batchID: 1, worker: 0, inferenceTime: .nanoseconds(1))
        let next = core.step(now: at(.milliseconds(3)), isCancelled: { gone.contains($0) })
        #expect(next.sends.map { $0.requests.map(\.job) } == [[3]])
        #expect(next.cancelled.isEmpty)
    }

    @Test func aLoneRequestGoesAtOnceWhateverTheDelay() {
        // No idle wait: the clock does not move between the submission and the step.
        var core = makeCore(delay: .milliseconds(500))
        _ = core.submit(1, now: at(.milliseconds(7)), deadline: never)
        let step = core.step(now: at(.milliseconds(7)))
        #expect(step.sends.map { $0.requests.map(\.job) } == [[1]])
        #expect(step.sends.first?.sentAt == at(.milliseconds(7)))
    }

    @Test func requestsBehindALoneOneJoinItsBatch() {
        var core = makeCore(delay: .milliseconds(500))
        _ = core.submit(1, now: origin, deadline: never)
        _ = core.submit(2, now: origin, deadline: never)
        #expect(core.step(now: origin).sends.map { $0.requests.map(\.job) } == [[1, 2]])
    }

    @Test func requestsThatQueuedWhileEveryWorkerWasBusyWaitAtMostTheDelay() {
        var core = makeCore(workers: 1, maxBatch: 8, delay: .milliseconds(2), perWorker: 1)
        _ = core.submit(0, now: origin, deadline: never)
        let running = core.step(now: origin).sends[0]
        _ = core.submit(1, now: at(.milliseconds(1)), deadline: never)
        _ = core.complete(batchID: running.id, worker: 0, inferenceTime: .milliseconds(1))
        let freed = core.step(now: at(.milliseconds(1) + ms / 2))
        #expect(freed.sends.isEmpty, "it arrived while the worker was busy: it may wait for companions")
        #expect(freed.wakeAt == at(.milliseconds(3)))
        _ = core.submit(2, now: at(.milliseconds(2)), deadline: never)
        let due = core.step(now: at(.milliseconds(3)))
        #expect(due.sends.map { $0.requests.map(\.job) } == [[1, 2]])
    }

    @Test func withZeroDelayABusyWorkersBacklogGoesAsSoonAsItIsFree() {
        var core = makeCore(workers: 1, maxBatch: 8, delay: .zero, perWorker: 1)
        _ = core.submit(0, now: origin, deadline: never)
        let running = core.step(now: origin).sends[0]
        _ = core.submit(1, now: at(.milliseconds(1)), deadline: never)
        #expect(core.step(now: at(.milliseconds(1))).sends.isEmpty)
        _ = core.complete(batchID: running.id, worker: 0, inferenceTime: .milliseconds(1))
        #expect(core.step(now: at(.milliseconds(2))).sends.map { $0.requests.map(\.job) } == [[1]])
    }

    @Test func requestsAccumulateWhileEveryWorkerIsBusyAndBatchesFill() {
        var core = makeCore(workers: 1, maxBatch: 8, perWorker: 1)
        _ = core.submit(0, now: origin, deadline: never)
        let first = core.step(now: at(.milliseconds(2)))
        #expect(first.sends.count == 1)
        let firstID = first.sends[0].id
        for i in 1...20 { _ = core.submit(i, now: at(.milliseconds(3)), deadline: never) }
        let busy = core.step(now: at(.milliseconds(50)))
        #expect(busy.sends.isEmpty, "no worker free: nothing cut, however long they wait")
        let finished = core.complete(batchID: firstID, worker: 0, inferenceTime: .milliseconds(40))
        #expect(finished != nil)
        let next = core.step(now: at(.milliseconds(51)))
        #expect(next.sends.map { $0.requests.count } == [8])
        #expect(core.queue.count == 12)
    }

    @Test func pushPoliciesKeepASecondBatchWaitingAtEachWorker() {
        var core = makeCore(workers: 2, maxBatch: 2, delay: .zero)
        for i in 0..<10 { _ = core.submit(i, now: origin, deadline: never) }
        let step = core.step(now: origin)
        #expect(step.sends.map(\.worker) == [0, 1, 0, 1])
        #expect(core.queue.count == 2)
    }

    @Test func aBusyWorkerGetsASecondBatchOnlyWhenItIsFull() {
        var core = makeCore(workers: 1, maxBatch: 8, perWorker: 2)
        for i in 0..<8 { _ = core.submit(i, now: origin, deadline: never) }
        let first = core.step(now: origin)
        #expect(first.sends.map { $0.requests.count } == [8])
        for i in 8..<11 { _ = core.submit(i, now: at(.milliseconds(1)), deadline: never) }
        let partial = core.step(now: at(.milliseconds(50)))
        #expect(partial.sends.isEmpty, "3 requests are not pipelined behind a running batch, however long they wait")
        for i in 11..<16 { _ = core.submit(i, now: at(.milliseconds(51)), deadline: never) }
        let full = core.step(now: at(.milliseconds(51)))
        #expect(full.sends.map { $0.requests.map(\.job) } == [Array(8..<16)])
        #expect(full.sends.first?.worker == 0)
    }

    @Test func aPartialBatchGoesOutWhenTheBusyWorkerFreesUp() {
        var core = makeCore(workers: 1, maxBatch: 8, perWorker: 2)
        for i in 0..<8 { _ = core.submit(i, now: origin, deadline: never) }
        let running = core.step(now: origin).sends[0]
        for i in 8..<11 { _ = core.submit(i, now: at(.milliseconds(1)), deadline: never) }
        #expect(core.step(now: at(.milliseconds(20))).sends.isEmpty)
        _ = core.complete(batchID: running.id, worker: 0, inferenceTime: .milliseconds(30))
        let idle = core.step(now: at(.milliseconds(30)))
        #expect(idle.sends.map { $0.requests.map(\.job) } == [[8, 9, 10]],
                "an idle worker takes what waited --max-delay-ms")
    }

    @Test func aPartialBatchGoesToAnIdleWorkerRatherThanBehindABusyOne() {
        var core = makeCore(workers: 2, maxBatch: 8, perWorker: 2)
        for i in 0..<8 { _ = core.submit(i, now: origin, deadline: never) }
        #expect(core.step(now: origin).sends.map(\.worker) == [0])
        for i in 8..<11 { _ = core.submit(i, now: at(.milliseconds(1)), deadline: never) }
        let partial = core.step(now: at(.milliseconds(3)))
        #expect(partial.sends.map(\.worker) == [1])
        #expect(partial.sends.map { $0.requests.count } == [3])
    }

    @Test func expiredRequestsAreAnsweredInsteadOfRun() {
        var core = makeCore(workers: 1, perWorker: 1)
        _ = core.submit(1, now: origin, deadline: at(.milliseconds(1)))
        _ = core.submit(2, now: origin, deadline: at(.milliseconds(100)))
        let step = core.step(now: at(.milliseconds(2)))
        #expect(step.expired.map(\.job) == [1])
        #expect(step.sends.map { $0.requests.map(\.job) } == [[2]])
    }

    @Test func wakesForTheEarliestDeadlineWhenNoWorkerIsFree() {
        var core = makeCore(workers: 1, perWorker: 1)
        _ = core.submit(1, now: origin, deadline: never)
        _ = core.step(now: at(.milliseconds(2)))
        _ = core.submit(2, now: at(.milliseconds(3)), deadline: at(.milliseconds(30)))
        let step = core.step(now: at(.milliseconds(4)))
        #expect(step.sends.isEmpty)
        #expect(step.wakeAt == at(.milliseconds(30)))
        let atDeadline = core.step(now: at(.milliseconds(30)))
        #expect(atDeadline.expired.map(\.job) == [2])
    }

    @Test func aDeadWorkersBatchIsRetriedOnceOnAnotherWorker() {
        var core = makeCore(workers: 2, maxBatch: 4, delay: .zero, perWorker: 1)
        for i in 0..<4 { _ = core.submit(i, now: origin, deadline: never) }
        let sent = core.step(now: origin).sends
        #expect(sent.map(\.worker) == [0])
        let firstLoss = core.workerLost(0)
        #expect(firstLoss.failed.isEmpty && firstLoss.retried == 4, "first failure: retried, not failed")
        let retry = core.step(now: at(.milliseconds(1))).sends
        #expect(retry.map(\.worker) == [1])
        #expect(retry.first?.attempt == 1)
        #expect(retry.first?.requests.map(\.job) == [0, 1, 2, 3])
        // The worker holding the retry dies too: now the requests fail.
        let secondLoss = core.workerLost(1)
        #expect(secondLoss.failed.map(\.job) == [0, 1, 2, 3] && secondLoss.retried == 0)
        #expect(core.isIdle)
    }

    @Test func batchesARetiredProcessNeverAnsweredAreRetriedAndTheWorkerStaysReady() {
        // One worker, two batches on it (the old process), then a reload replaces the process
        // under the same index and the old one dies holding the second batch.
        var core = makeCore(workers: 1, maxBatch: 2, delay: .zero, perWorker: 2)
        for i in 0..<4 { _ = core.submit(i, now: origin, deadline: never) }
        let sent = core.step(now: origin).sends
        #expect(sent.map { $0.requests.map(\.job) } == [[0, 1], [2, 3]])
        _ = core.complete(batchID: sent[0].id, worker: 0, inferenceTime: .nanoseconds(1000))
        let lost = core.batchesLost([sent[1].id, 999], worker: 0)
        #expect(lost.retried == 2 && lost.failed.isEmpty)
        #expect(core.router.readyCount == 1, "the worker index stays ready")
        #expect(core.inFlightPerWorker == [0])
        let retry = core.step(now: at(.milliseconds(1))).sends
        #expect(retry.map { $0.requests.map(\.job) } == [[2, 3]])
        #expect(retry.first?.attempt == 1 && retry.first?.worker == 0)
        // Lost again (on its second attempt): failed, not retried a third time.
        let again = core.batchesLost(retry.map(\.id), worker: 0)
        #expect(again.failed.map(\.job) == [2, 3] && again.retried == 0)
        #expect(core.isIdle)
        // Ids of another worker or already answered are ignored.
        #expect(core.batchesLost([sent[0].id], worker: 0).retried == 0)
    }

    @Test func retriesGoBeforeNewRequestsAndWaitForARestartedWorker() {
        var core = makeCore(workers: 1, maxBatch: 2, delay: .zero, perWorker: 1)
        _ = core.submit(1, now: origin, deadline: never)
        _ = core.step(now: origin)
        _ = core.submit(2, now: at(.nanoseconds(1)), deadline: never)
        let loss = core.workerLost(0)
        #expect(loss.failed.isEmpty && loss.retried == 1)
        let noWorker = core.step(now: at(.nanoseconds(2)))
        #expect(noWorker.sends.isEmpty, "no worker ready")
        core.workerReady(0)
        let sends = core.step(now: at(.nanoseconds(3))).sends
        #expect(sends.map { $0.requests.map(\.job) } == [[1]])
        #expect(sends.first?.attempt == 1)
    }

    @Test func aLateAnswerFromADeadWorkerIsIgnored() {
        var core = makeCore(workers: 2, delay: .zero, perWorker: 1)
        _ = core.submit(1, now: origin, deadline: never)
        let batch = core.step(now: origin).sends[0]
        _ = core.workerLost(batch.worker)
        let lateAnswer = core.complete(batchID: batch.id, worker: batch.worker, inferenceTime: .nanoseconds(1))
        #expect(lateAnswer == nil)
    }

    @Test func drainingFinishesWhatWasAccepted() {
        var core = makeCore(workers: 1, delay: .zero, perWorker: 1)
        _ = core.submit(1, now: origin, deadline: never)
        core.admission = .draining
        let afterDrain = core.submit(2, now: origin, deadline: never)
        #expect(afterDrain == .refused(.draining))
        let batch = core.step(now: origin).sends[0]
        #expect(!core.isIdle)
        _ = core.complete(batchID: batch.id, worker: 0, inferenceTime: .nanoseconds(1))
        #expect(core.isIdle)
    }
}
