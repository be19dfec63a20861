import Foundation
import Testing
@testable import Serving

/// A transport that answers every batch at once (or holds them), echoing each request's
/// first pixel as its label so tests can check which result went where.
private final class EchoTransport: BatchTransport, @unchecked Sendable {
    weak var dispatcher: Dispatcher?
    let lock = NSLock()
    var batchSizes: [Int] = []
    var hold = false
    var held: [(UInt64, Int, [InferencePayload])] = []

    func send(batchID: UInt64, payloads: [InferencePayload], to worker: Int) {
        lock.lock()
        batchSizes.append(payloads.count)
        if hold {
            held.append((batchID, worker, payloads))
            lock.unlock()
            return
        }
        lock.unlock()
        answer(batchID, worker, payloads)
    }

    func answer(_ id: UInt64, _ worker: Int, _ payloads: [InferencePayload]) {
        let results = payloads.map {
            InferenceResult(logits: [], scores: [], label: Int($0.image.floats.first ?? -1), gateImage: 0, gateText: 0, embedding: [])
        }
        dispatcher?.batchFinished(batchID: id, worker: worker, results: results, inferenceNanos: 1000)
    }
}

private final class Outcomes: @unchecked Sendable {
    let lock = NSLock()
    var results: [String: Result<(InferenceResult, BatchInfo), InferenceFailure>] = [:]
    func record(_ id: String, _ r: Result<(InferenceResult, BatchInfo), InferenceFailure>) {
        lock.lock(); results[id] = r; lock.unlock()
    }
    var count: Int { lock.lock(); defer { lock.unlock() }; return results.count }
    func waitFor(_ n: Int, seconds: Double = 5) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while count < n, Date() < end { usleep(1000) }
        return count >= n
    }
}

private func job(_ i: Int, outcomes: Outcomes, timeout: UInt64 = 10_000_000_000) -> InferenceJob {
    InferenceJob(requestID: "r\(i)", payload: InferencePayload(pixels: [Float(i)], tokenIds: [101, 102], returnEmbedding: false),
                 deadline: Monotonic.now() + timeout) { outcomes.record("r\(i)", $0) }
}

/// Polls `condition` every millisecond for up to `seconds` (another thread reaching a state,
/// not a timeout); true once it holds.
private func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < end else { return false }
        usleep(1000)
    }
    return true
}

@Suite struct DispatcherTests {
    @Test func everyRequestGetsItsOwnResult() {
        let transport = EchoTransport()
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 8, maxDelayNanos: 2_000_000, maxQueue: 64,
                                                         policy: .leastLoaded, workerCount: 2))
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        dispatcher.workerReady(0)
        dispatcher.workerReady(1)
        let outcomes = Outcomes()
        for i in 0..<40 { #expect(dispatcher.submit(job(i, outcomes: outcomes)) == .accepted) }
        #expect(outcomes.waitFor(40))
        for i in 0..<40 {
            guard case .success(let (result, info))? = outcomes.results["r\(i)"] else {
                Issue.record("r\(i) failed"); continue
            }
            #expect(result.label == i)
            #expect(info.batchSize >= 1 && info.batchSize <= 8)
        }
        #expect(dispatcher.waitUntilIdle(timeout: .seconds(1)))
        dispatcher.stop()
    }

    @Test func batchesFillWhileWorkersAreBusy() {
        let transport = EchoTransport()
        transport.hold = true
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 8, maxDelayNanos: 1_000_000, maxQueue: 64,
                                                         policy: .pull, workerCount: 1))
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        dispatcher.workerReady(0)
        let outcomes = Outcomes()
        _ = dispatcher.submit(job(0, outcomes: outcomes))
        // The lone first request goes at once; the next eight queue behind the busy worker.
        #expect(waitUntil { transport.lock.withLock { transport.held.count == 1 } })
        for i in 1...8 { _ = dispatcher.submit(job(i, outcomes: outcomes)) }
        // Let the 1 ms batch delay pass many times over: with the worker busy, nothing may go.
        // (A sleep: the dispatcher reads the real `Monotonic` clock, not an injected one.)
        Thread.sleep(forTimeInterval: 0.05)
        transport.lock.lock()
        let first = transport.held.removeFirst()
        transport.hold = false
        transport.lock.unlock()
        transport.answer(first.0, first.1, first.2)
        #expect(outcomes.waitFor(9))
        transport.lock.lock()
        #expect(transport.batchSizes == [1, 8])
        transport.lock.unlock()
        dispatcher.stop()
    }

    @Test func deadlinesExpireWhileQueued() {
        let transport = EchoTransport()
        transport.hold = true
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 1, maxDelayNanos: 0, maxQueue: 8,
                                                         policy: .pull, workerCount: 1))
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        dispatcher.workerReady(0)
        let outcomes = Outcomes()
        _ = dispatcher.submit(job(0, outcomes: outcomes))
        _ = dispatcher.submit(job(1, outcomes: outcomes, timeout: 20_000_000))
        #expect(outcomes.waitFor(1, seconds: 2))
        guard case .failure(let failure)? = outcomes.results["r1"] else {
            Issue.record("expected r1 to time out"); dispatcher.stop(); return
        }
        #expect(failure == .deadlineExceeded)
        dispatcher.stop()
        #expect(outcomes.waitFor(2))
        guard case .failure(let stopped)? = outcomes.results["r0"] else { Issue.record("r0"); return }
        #expect(stopped == .shuttingDown)
    }

    @Test func workerLossRetriesOnTheOtherWorker() {
        let transport = EchoTransport()
        transport.hold = true
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 4, maxDelayNanos: 0, maxQueue: 8,
                                                         policy: .leastLoaded, workerCount: 2))
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        dispatcher.workerReady(0)
        let outcomes = Outcomes()
        for i in 0..<3 { _ = dispatcher.submit(job(i, outcomes: outcomes)) }
        // Worker 0 holds what it took before it is lost, and the rest waits in the queue: a busy
        // worker gets only full batches, so that state lasts (under TSan the first request can
        // go alone and the other two stay queued).
        #expect(waitUntil {
            let held = transport.lock.withLock { transport.held.map(\.2.count).reduce(0, +) }
            return held >= 1 && held + dispatcher.snapshot.queueDepth == 3
        })
        transport.lock.lock()
        transport.hold = false
        transport.held.removeAll()
        transport.lock.unlock()
        dispatcher.workerReady(1)
        dispatcher.workerLost(0, reason: "killed")
        #expect(outcomes.waitFor(3))
        for i in 0..<3 {
            guard case .success(let (result, info))? = outcomes.results["r\(i)"] else { Issue.record("r\(i)"); continue }
            #expect(result.label == i && info.worker == 1)
        }
        dispatcher.stop()
    }
}
