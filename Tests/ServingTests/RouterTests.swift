import Testing
@testable import Serving

/// Simulates workers on a deterministic clock: each worker takes `costPerRequest[i]` ns per
/// request and runs its batches one after another; the router decides where each batch goes.
private func simulate(policy: RoutingPolicy, costPerRequest: [UInt64], batches: Int,
                      batchSize: Int, arrivalEvery: UInt64) -> (perWorker: [Int], latencies: [UInt64]) {
    let n = costPerRequest.count
    var router = Router(policy: policy, workerCount: n)
    for i in 0..<n { router.setReady(i, true) }
    var queues = Array(repeating: [UInt64](), count: n)     // arrival time of each held batch
    var busyUntil = Array(repeating: UInt64(0), count: n)   // end of the running batch
    var perWorker = Array(repeating: 0, count: n)
    var latencies: [UInt64] = []
    var waiting: [UInt64] = []                               // batches no worker could take yet

    func cost(_ w: Int) -> UInt64 { costPerRequest[w] * UInt64(batchSize) }

    func nextCompletion() -> (worker: Int, at: UInt64)? {
        var best: (Int, UInt64)?
        for w in 0..<n where !queues[w].isEmpty {
            if best == nil || busyUntil[w] < best!.1 { best = (w, busyUntil[w]) }
        }
        return best
    }

    func complete(_ w: Int) {
        let end = busyUntil[w]
        let arrival = queues[w].removeFirst()
        latencies += Array(repeating: end - arrival, count: batchSize)
        router.didComplete(worker: w, requests: batchSize, inferenceTime: .nanoseconds(cost(w)))
        if !queues[w].isEmpty { busyUntil[w] = end + cost(w) }
    }

    func route(now: UInt64) {
        while let arrival = waiting.first, let w = router.choose(batchSize: batchSize) {
            waiting.removeFirst()
            router.didDispatch(to: w, requests: batchSize)
            if queues[w].isEmpty { busyUntil[w] = now + cost(w) }
            queues[w].append(arrival)
            perWorker[w] += 1
        }
    }

    for k in 0..<batches {
        let now = UInt64(k) * arrivalEvery
        while let (w, at) = nextCompletion(), at <= now {
            complete(w)
            route(now: at)
        }
        waiting.append(now)
        route(now: now)
    }
    while let (w, at) = nextCompletion() {
        complete(w)
        route(now: at)
    }
    return (perWorker, latencies)
}

private func percentile(_ values: [UInt64], _ p: Double) -> UInt64 {
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
}

@Suite struct RouterTests {
    @Test func leastLoadedBreaksTiesByIndex() {
        var router = Router(policy: .leastLoaded, workerCount: 3)
        for i in 0..<3 { router.setReady(i, true) }
        #expect(router.choose(batchSize: 4) == 0)
        router.didDispatch(to: 0, requests: 4)
        #expect(router.choose(batchSize: 4) == 1)
        router.didDispatch(to: 1, requests: 4)
        #expect(router.choose(batchSize: 4) == 2)
    }

    @Test func leastLoadedWeighsInFlightByMeasuredSpeed() {
        var router = Router(policy: .leastLoaded, workerCount: 2)
        router.setReady(0, true)
        router.setReady(1, true)
        // Worker 0 measured at 3 ms/request, worker 1 at 1 ms/request.
        router.didDispatch(to: 0, requests: 1)
        router.didComplete(worker: 0, requests: 1, inferenceTime: .nanoseconds(3_000_000))
        router.didDispatch(to: 1, requests: 1)
        router.didComplete(worker: 1, requests: 1, inferenceTime: .nanoseconds(1_000_000))
        // Worker 1 busy with 8: (8+8)×1 = 16 ms of work vs worker 0 idle: (0+8)×3 = 24 ms.
        router.didDispatch(to: 1, requests: 8)
        #expect(router.choose(batchSize: 8) == 1)
        // With a second batch on worker 1 it is full (two batches per worker): worker 0.
        router.didDispatch(to: 1, requests: 8)
        #expect(router.choose(batchSize: 8) == 0)
    }

    @Test func unmeasuredWorkersUseTheMeanOfTheMeasured() {
        var router = Router(policy: .leastLoaded, workerCount: 2)
        router.setReady(0, true)
        router.didDispatch(to: 0, requests: 2)
        router.didComplete(worker: 0, requests: 2, inferenceTime: .nanoseconds(4_000_000))
        router.setReady(1, true)
        // Both estimated at 2 ms/request and idle: tie → index 0.
        #expect(router.choose(batchSize: 1) == 0)
        router.didDispatch(to: 0, requests: 1)
        #expect(router.choose(batchSize: 1) == 1)
    }

    @Test func ewmaMovesTowardsNewSamples() {
        var router = Router(policy: .leastLoaded, workerCount: 1, smoothing: 0.5)
        router.setReady(0, true)
        router.didDispatch(to: 0, requests: 1)
        router.didComplete(worker: 0, requests: 1, inferenceTime: .nanoseconds(1000))
        router.didDispatch(to: 0, requests: 2)
        router.didComplete(worker: 0, requests: 2, inferenceTime: .nanoseconds(6000))
        #expect(router.workers[0].nanosPerRequest == 2000)
    }

    @Test func roundRobinTakesStrictTurnsAndWaitsForTheWorkerWhoseTurnItIs() {
        var router = Router(policy: .roundRobin, workerCount: 3, maxBatchesPerWorker: 1)
        for i in 0..<3 { router.setReady(i, true) }
        var order: [Int] = []
        for _ in 0..<3 {
            guard let w = router.choose(batchSize: 1) else { break }
            router.didDispatch(to: w, requests: 1)
            order.append(w)
        }
        #expect(order == [0, 1, 2])
        #expect(router.choose(batchSize: 1) == nil)
        router.didComplete(worker: 1, requests: 1, inferenceTime: .nanoseconds(10))
        #expect(router.choose(batchSize: 1) == nil, "worker 0's turn: it is busy, so the batch waits")
        router.didComplete(worker: 0, requests: 1, inferenceTime: .nanoseconds(10))
        #expect(router.choose(batchSize: 1) == 0)
        router.setReady(0, false)
        #expect(router.choose(batchSize: 1) == 1, "a worker that is not ready loses its turn")
    }

    @Test func leastLoadedWaitsForABusyWorkerThatWouldStillFinishFirst() {
        var router = Router(policy: .leastLoaded, workerCount: 2, maxBatchesPerWorker: 1)
        router.setReady(0, true)
        router.setReady(1, true)
        // Worker 0: 10 ms/request, worker 1: 1 ms/request.
        router.didDispatch(to: 0, requests: 1)
        router.didComplete(worker: 0, requests: 1, inferenceTime: .nanoseconds(10_000_000))
        router.didDispatch(to: 1, requests: 1)
        router.didComplete(worker: 1, requests: 1, inferenceTime: .nanoseconds(1_000_000))
        router.didDispatch(to: 1, requests: 4)
        // Idle slow worker: 4 × 10 = 40 ms; busy fast worker: (4 + 4) × 1 = 8 ms → wait for it.
        #expect(router.choose(batchSize: 4) == nil)
        router.didComplete(worker: 1, requests: 4, inferenceTime: .nanoseconds(4_000_000))
        #expect(router.choose(batchSize: 4) == 1)
        // When the fast worker's backlog outweighs the slow worker, the slow one gets the batch.
        var loaded = router
        loaded.didDispatch(to: 1, requests: 60)
        #expect(loaded.choose(batchSize: 4) == 0)
    }

    @Test func aBusyWorkerIsSentAPipelinedBatchOnlyWhenItIsFull() {
        for policy in [RoutingPolicy.leastLoaded, .roundRobin] {
            var router = Router(policy: policy, workerCount: 1, maxBatchesPerWorker: 2)
            router.setReady(0, true)
            #expect(router.choose(batchSize: 3, full: false) == 0, "\(policy): an idle worker takes a partial batch")
            router.didDispatch(to: 0, requests: 8)
            #expect(router.choose(batchSize: 3, full: false) == nil, "\(policy): a busy one does not")
            #expect(router.choose(batchSize: 8, full: true) == 0, "\(policy): a full batch is pipelined")
            router.didDispatch(to: 0, requests: 8)
            #expect(router.choose(batchSize: 8, full: true) == nil, "\(policy): at most two batches")
        }
    }

    @Test func leastLoadedKeepsItsChoiceForPartialBatches() {
        var router = Router(policy: .leastLoaded, workerCount: 2, maxBatchesPerWorker: 2)
        router.setReady(0, true)
        router.setReady(1, true)
        // Worker 0: 1 ms/request, worker 1: 10 ms/request.
        router.didDispatch(to: 0, requests: 1)
        router.didComplete(worker: 0, requests: 1, inferenceTime: .nanoseconds(1_000_000))
        router.didDispatch(to: 1, requests: 1)
        router.didComplete(worker: 1, requests: 1, inferenceTime: .nanoseconds(10_000_000))
        router.didDispatch(to: 0, requests: 8)
        // Busy fast worker: (8 + 3) × 1 = 11 ms; idle slow worker: 3 × 10 = 30 ms. The fast one
        // would finish first, but it is busy and the batch is partial: wait (it keeps filling).
        #expect(router.choose(batchSize: 3, full: false) == nil)
        #expect(router.choose(batchSize: 8, full: true) == 0, "a full batch is pipelined on the fast worker")
        // With a large backlog on the fast worker, the idle slow worker wins and takes it now.
        router.didDispatch(to: 0, requests: 30)
        #expect(router.choose(batchSize: 3, full: false) == 1)
    }

    @Test func pullGivesWorkOnlyToIdleWorkersLongestIdleFirst() {
        var router = Router(policy: .pull, workerCount: 2, maxBatchesPerWorker: 4)
        #expect(router.maxBatchesPerWorker == 1)
        router.setReady(1, true)
        router.setReady(0, true)
        #expect(router.choose(batchSize: 1) == 1, "worker 1 became idle first")
        router.didDispatch(to: 1, requests: 1)
        router.didDispatch(to: 0, requests: 1)
        #expect(!router.hasCapacity)
        router.didComplete(worker: 0, requests: 1, inferenceTime: .nanoseconds(5))
        router.didComplete(worker: 1, requests: 1, inferenceTime: .nanoseconds(5))
        #expect(router.choose(batchSize: 1) == 0)
    }

    @Test func workersThatAreNotReadyGetNothing() {
        var router = Router(policy: .leastLoaded, workerCount: 2)
        #expect(router.choose(batchSize: 1) == nil)
        router.setReady(1, true)
        #expect(router.choose(batchSize: 1) == 1)
        router.didDispatch(to: 1, requests: 3)
        router.setReady(1, false)
        #expect(router.workers[1].inFlightRequests == 0)
        #expect(!router.hasCapacity)
    }

    @Test func retriesAvoidTheWorkerThatFailedWhenAnotherCanTakeThem() {
        var router = Router(policy: .leastLoaded, workerCount: 2)
        router.setReady(0, true)
        router.setReady(1, true)
        #expect(router.choose(batchSize: 1, avoiding: 0) == 1)
        router.setReady(1, false)
        #expect(router.choose(batchSize: 1, avoiding: 0) == 0, "falls back when it is the only one")
    }

    @Test func withAThreeTimesSlowerWorkerLeastLoadedSendsItLessAndCutsTheTail() {
        let costs: [UInt64] = [3_000_000, 1_000_000]   // worker 0 is 3× slower per request
        let batches = 400
        let every: UInt64 = 7_000_000                    // ~86% of the pair's capacity for batches of 8
        let ll = simulate(policy: .leastLoaded, costPerRequest: costs, batches: batches, batchSize: 8, arrivalEvery: every)
        let rr = simulate(policy: .roundRobin, costPerRequest: costs, batches: batches, batchSize: 8, arrivalEvery: every)
        let pull = simulate(policy: .pull, costPerRequest: costs, batches: batches, batchSize: 8, arrivalEvery: every)
        #expect(ll.perWorker.reduce(0, +) == batches && rr.perWorker.reduce(0, +) == batches)
        #expect(ll.perWorker[0] < ll.perWorker[1], "the slow worker gets fewer batches: \(ll.perWorker)")
        let llP99 = percentile(ll.latencies, 0.99)
        let rrP99 = percentile(rr.latencies, 0.99)
        let pullP99 = percentile(pull.latencies, 0.99)
        print("3x-slow simulation p99 ms: least-loaded \(Double(llP99) / 1e6), round-robin \(Double(rrP99) / 1e6), pull \(Double(pullP99) / 1e6); batches per worker ll \(ll.perWorker) rr \(rr.perWorker) pull \(pull.perWorker)")
        #expect(llP99 * 2 <= rrP99, "least-loaded p99 \(llP99) vs round-robin \(rrP99)")
        #expect(llP99 <= pullP99, "least-loaded p99 \(llP99) vs pull \(pullP99)")
    }
}
