import Testing
@testable import Serving

private let ms: UInt64 = 1_000_000

private func makeCore(workers: Int = 1, maxBatch: Int = 8, delay: UInt64 = 2 * ms, capacity: Int = 256,
                      policy: RoutingPolicy = .leastLoaded, perWorker: Int = 2) -> DispatchCore<Int> {
    var core = DispatchCore<Int>(queueCapacity: capacity, maxBatch: maxBatch, maxDelay: delay, policy: policy,
                                 workerCount: workers, maxBatchesPerWorker: perWorker)
    for i in 0..<workers { core.workerReady(i) }
    return core
}

@Suite struct DispatchCoreTests {
    @Test func refusesWhileStartingAndWhenFull() {
        var core = DispatchCore<Int>(queueCapacity: 2, maxBatch: 8, maxDelay: 0, policy: .pull, workerCount: 1)
        let whileStarting = core.submit(1, now: 0, deadline: .max)
        #expect(whileStarting == .refused(.starting))
        core.workerReady(0)
        let first = core.submit(1, now: 0, deadline: .max)
        #expect(first == .accepted)
        let second = core.submit(2, now: 0, deadline: .max)
        #expect(second == .accepted)
        let overflow = core.submit(3, now: 0, deadline: .max)
        #expect(overflow == .queueFull)
        core.admission = .draining
        let whileDraining = core.submit(4, now: 0, deadline: .max)
        #expect(whileDraining == .refused(.draining))
    }

    @Test func requestsWhoseClientLeftAreDroppedBeforeTheirBatchForms() {
        // Worker busy with one batch: 2, 3, 4 wait for the next; the clients of 2 and 4 leave.
        var core = makeCore(delay: 0, perWorker: 1)
        _ = core.submit(1, now: 0, deadline: .max)
        #expect(core.step(now: 0).sends.map { $0.requests.map(\.job) } == [[1]])
        for job in 2...4 { _ = core.submit(job, now: 1 * ms, deadline: .max) }
        let gone: Set<Int> = [2, 4]
        let waiting = core.step(now: 2 * ms, isCancelled: { gone.contains($0) })
        #expect(waiting.cancelled.map(\.job) == [2, 4])
        #expect(waiting.sends.isEmpty)
        #expect(core.queue.count == 1)
        _ = core.complete(batchID: 1, worker: 0, inferenceNanos: 1)
        let next = core.step(now: 3 * ms, isCancelled: { gone.contains($0) })
        #expect(next.sends.map { $0.requests.map(\.job) } == [[3]])
        #expect(next.cancelled.isEmpty)
    }

    @Test func aLoneRequestGoesAtOnceWhateverTheDelay() {
        // No idle wait: the clock does not move between the submission and the step.
        var core = makeCore(delay: 500 * ms)
        _ = core.submit(1, now: 7 * ms, deadline: .max)
        let step = core.step(now: 7 * ms)
        #expect(step.sends.map { $0.requests.map(\.job) } == [[1]])
        #expect(step.sends.first?.sentAt == 7 * ms)
    }

    @Test func requestsBehindALoneOneJoinItsBatch() {
        var core = makeCore(delay: 500 * ms)
        _ = core.submit(1, now: 0, deadline: .max)
        _ = core.submit(2, now: 0, deadline: .max)
        #expect(core.step(now: 0).sends.map { $0.requests.map(\.job) } == [[1, 2]])
    }

    @Test func requestsThatQueuedWhileEveryWorkerWasBusyWaitAtMostTheDelay() {
        var core = makeCore(workers: 1, maxBatch: 8, delay: 2 * ms, perWorker: 1)
        _ = core.submit(0, now: 0, deadline: .max)
        let running = core.step(now: 0).sends[0]
        _ = core.submit(1, now: 1 * ms, deadline: .max)
        _ = core.complete(batchID: running.id, worker: 0, inferenceNanos: 1 * ms)
        let freed = core.step(now: 1 * ms + ms / 2)
        #expect(freed.sends.isEmpty, "it arrived while the worker was busy: it may wait for companions")
        #expect(freed.wakeAt == 3 * ms)
        _ = core.submit(2, now: 2 * ms, deadline: .max)
        let due = core.step(now: 3 * ms)
        #expect(due.sends.map { $0.requests.map(\.job) } == [[1, 2]])
    }

    @Test func withZeroDelayABusyWorkersBacklogGoesAsSoonAsItIsFree() {
        var core = makeCore(workers: 1, maxBatch: 8, delay: 0, perWorker: 1)
        _ = core.submit(0, now: 0, deadline: .max)
        let running = core.step(now: 0).sends[0]
        _ = core.submit(1, now: 1 * ms, deadline: .max)
        #expect(core.step(now: 1 * ms).sends.isEmpty)
        _ = core.complete(batchID: running.id, worker: 0, inferenceNanos: 1 * ms)
        #expect(core.step(now: 2 * ms).sends.map { $0.requests.map(\.job) } == [[1]])
    }

    @Test func requestsAccumulateWhileEveryWorkerIsBusyAndBatchesFill() {
        var core = makeCore(workers: 1, maxBatch: 8, perWorker: 1)
        _ = core.submit(0, now: 0, deadline: .max)
        let first = core.step(now: 2 * ms)
        #expect(first.sends.count == 1)
        let firstID = first.sends[0].id
        for i in 1...20 { _ = core.submit(i, now: 3 * ms, deadline: .max) }
        let busy = core.step(now: 50 * ms)
        #expect(busy.sends.isEmpty, "no worker free: nothing cut, however long they wait")
        let finished = core.complete(batchID: firstID, worker: 0, inferenceNanos: 40 * ms)
        #expect(finished != nil)
        let next = core.step(now: 51 * ms)
        #expect(next.sends.map { $0.requests.count } == [8])
        #expect(core.queue.count == 12)
    }

    @Test func pushPoliciesKeepASecondBatchWaitingAtEachWorker() {
        var core = makeCore(workers: 2, maxBatch: 2, delay: 0)
        for i in 0..<10 { _ = core.submit(i, now: 0, deadline: .max) }
        let step = core.step(now: 0)
        #expect(step.sends.map(\.worker) == [0, 1, 0, 1])
        #expect(core.queue.count == 2)
    }

    @Test func aBusyWorkerGetsASecondBatchOnlyWhenItIsFull() {
        var core = makeCore(workers: 1, maxBatch: 8, perWorker: 2)
        for i in 0..<8 { _ = core.submit(i, now: 0, deadline: .max) }
        let first = core.step(now: 0)
        #expect(first.sends.map { $0.requests.count } == [8])
        for i in 8..<11 { _ = core.submit(i, now: 1 * ms, deadline: .max) }
        let partial = core.step(now: 50 * ms)
        #expect(partial.sends.isEmpty, "3 requests are not pipelined behind a running batch, however long they wait")
        for i in 11..<16 { _ = core.submit(i, now: 51 * ms, deadline: .max) }
        let full = core.step(now: 51 * ms)
        #expect(full.sends.map { $0.requests.map(\.job) } == [Array(8..<16)])
        #expect(full.sends.first?.worker == 0)
    }

    @Test func aPartialBatchGoesOutWhenTheBusyWorkerFreesUp() {
        var core = makeCore(workers: 1, maxBatch: 8, perWorker: 2)
        for i in 0..<8 { _ = core.submit(i, now: 0, deadline: .max) }
        let running = core.step(now: 0).sends[0]
        for i in 8..<11 { _ = core.submit(i, now: 1 * ms, deadline: .max) }
        #expect(core.step(now: 20 * ms).sends.isEmpty)
        _ = core.complete(batchID: running.id, worker: 0, inferenceNanos: 30 * ms)
        let idle = core.step(now: 30 * ms)
        #expect(idle.sends.map { $0.requests.map(\.job) } == [[8, 9, 10]],
                "an idle worker takes what waited --max-delay-ms")
    }

    @Test func aPartialBatchGoesToAnIdleWorkerRatherThanBehindABusyOne() {
        var core = makeCore(workers: 2, maxBatch: 8, perWorker: 2)
        for i in 0..<8 { _ = core.submit(i, now: 0, deadline: .max) }
        #expect(core.step(now: 0).sends.map(\.worker) == [0])
        for i in 8..<11 { _ = core.submit(i, now: 1 * ms, deadline: .max) }
        let partial = core.step(now: 3 * ms)
        #expect(partial.sends.map(\.worker) == [1])
        #expect(partial.sends.map { $0.requests.count } == [3])
    }

    @Test func expiredRequestsAreAnsweredInsteadOfRun() {
        var core = makeCore(workers: 1, perWorker: 1)
        _ = core.submit(1, now: 0, deadline: 1 * ms)
        _ = core.submit(2, now: 0, deadline: 100 * ms)
        let step = core.step(now: 2 * ms)
        #expect(step.expired.map(\.job) == [1])
        #expect(step.sends.map { $0.requests.map(\.job) } == [[2]])
    }

    @Test func wakesForTheEarliestDeadlineWhenNoWorkerIsFree() {
        var core = makeCore(workers: 1, perWorker: 1)
        _ = core.submit(1, now: 0, deadline: .max)
        _ = core.step(now: 2 * ms)
        _ = core.submit(2, now: 3 * ms, deadline: 30 * ms)
        let step = core.step(now: 4 * ms)
        #expect(step.sends.isEmpty)
        #expect(step.wakeAt == 30 * ms)
        let atDeadline = core.step(now: 30 * ms)
        #expect(atDeadline.expired.map(\.job) == [2])
    }

    @Test func aDeadWorkersBatchIsRetriedOnceOnAnotherWorker() {
        var core = makeCore(workers: 2, maxBatch: 4, delay: 0, perWorker: 1)
        for i in 0..<4 { _ = core.submit(i, now: 0, deadline: .max) }
        let sent = core.step(now: 0).sends
        #expect(sent.map(\.worker) == [0])
        let firstLoss = core.workerLost(0)
        #expect(firstLoss.failed.isEmpty && firstLoss.retried == 4, "first failure: retried, not failed")
        let retry = core.step(now: 1 * ms).sends
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
        var core = makeCore(workers: 1, maxBatch: 2, delay: 0, perWorker: 2)
        for i in 0..<4 { _ = core.submit(i, now: 0, deadline: .max) }
        let sent = core.step(now: 0).sends
        #expect(sent.map { $0.requests.map(\.job) } == [[0, 1], [2, 3]])
        _ = core.complete(batchID: sent[0].id, worker: 0, inferenceNanos: 1000)
        let lost = core.batchesLost([sent[1].id, 999], worker: 0)
        #expect(lost.retried == 2 && lost.failed.isEmpty)
        #expect(core.router.readyCount == 1, "the worker index stays ready")
        #expect(core.inFlightPerWorker == [0])
        let retry = core.step(now: 1 * ms).sends
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
        var core = makeCore(workers: 1, maxBatch: 2, delay: 0, perWorker: 1)
        _ = core.submit(1, now: 0, deadline: .max)
        _ = core.step(now: 0)
        _ = core.submit(2, now: 1, deadline: .max)
        let loss = core.workerLost(0)
        #expect(loss.failed.isEmpty && loss.retried == 1)
        let noWorker = core.step(now: 2)
        #expect(noWorker.sends.isEmpty, "no worker ready")
        core.workerReady(0)
        let sends = core.step(now: 3).sends
        #expect(sends.map { $0.requests.map(\.job) } == [[1]])
        #expect(sends.first?.attempt == 1)
    }

    @Test func aLateAnswerFromADeadWorkerIsIgnored() {
        var core = makeCore(workers: 2, delay: 0, perWorker: 1)
        _ = core.submit(1, now: 0, deadline: .max)
        let batch = core.step(now: 0).sends[0]
        _ = core.workerLost(batch.worker)
        let lateAnswer = core.complete(batchID: batch.id, worker: batch.worker, inferenceNanos: 1)
        #expect(lateAnswer == nil)
    }

    @Test func drainingFinishesWhatWasAccepted() {
        var core = makeCore(workers: 1, delay: 0, perWorker: 1)
        _ = core.submit(1, now: 0, deadline: .max)
        core.admission = .draining
        let afterDrain = core.submit(2, now: 0, deadline: .max)
        #expect(afterDrain == .refused(.draining))
        let batch = core.step(now: 0).sends[0]
        #expect(!core.isIdle)
        _ = core.complete(batchID: batch.id, worker: 0, inferenceNanos: 1)
        #expect(core.isIdle)
    }
}
