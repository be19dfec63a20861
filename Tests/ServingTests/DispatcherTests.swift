import ClockTesting
import Foundation
import HTTP
import Locking
import Testing
@testable import Serving

/// A transport that answers every batch at once (or holds them), echoing each request's
/// first pixel as its label so tests can check which result went where.
private final class EchoTransport: BatchTransport, Sendable {
    struct State {
        var batchSizes: [Int] = []
        var hold = false
        var held: [(UInt64, Int, [InferencePayload])] = []
    }

    /// The dispatcher holds the transport: a weak reference back, as the worker pool's.
    private struct Box {
        weak var dispatcher: Dispatcher?
        var state = State()
    }

    private let box = Locked(Box())

    /// The dispatcher to answer (set once, before it starts).
    var dispatcher: Dispatcher? {
        get { box.withLock { $0.dispatcher } }
        set { box.withLock { $0.dispatcher = newValue } }
    }

    /// Runs `body` on the transport's state under its lock.
    func withState<Result>(_ body: (inout State) -> Result) -> Result {
        box.withLock { body(&$0.state) }
    }

    func send(batchID: UInt64, payloads: [InferencePayload], to worker: Int) {
        let held = withState { state -> Bool in
            state.batchSizes.append(payloads.count)
            if state.hold { state.held.append((batchID, worker, payloads)) }
            return state.hold
        }
        if !held { answer(batchID, worker, payloads) }
    }

    func answer(_ id: UInt64, _ worker: Int, _ payloads: [InferencePayload]) {
        let results = payloads.map {
            InferenceResult(logits: [], scores: [], label: Int($0.image.floats.first ?? -1), gateImage: 0, gateText: 0, embedding: [])
        }
        dispatcher?.batchFinished(batchID: id, worker: worker, results: results, inferenceTime: .microseconds(1))
    }
}

private final class Outcomes: Sendable {
    private let state = Locked<[String: Result<(InferenceResult, BatchInfo), InferenceFailure>]>([:])
    func record(_ id: String, _ r: Result<(InferenceResult, BatchInfo), InferenceFailure>) {
        state.withLock { $0[id] = r }
    }
    var results: [String: Result<(InferenceResult, BatchInfo), InferenceFailure>] { state.withLock { $0 } }
    var count: Int { state.withLock { $0.count } }
    func waitFor(_ n: Int, seconds: Double = 5) -> Bool {
        let end = Date().addingTimeInterval(seconds)
        while count < n, Date() < end { usleep(1000) }
        return count >= n
    }
}

private func job(_ i: Int, outcomes: Outcomes, clock: any ServerClock = SystemServerClock(),
                 timeout: Duration = .seconds(10)) -> InferenceJob {
    InferenceJob(requestID: "r\(i)", payload: InferencePayload(pixels: [Float(i)], tokenIds: [101, 102], returnEmbedding: false),
                 deadline: clock.now + timeout) { outcomes.record("r\(i)", $0) }
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

/// Moves `clock` and waits until `dispatcher` has decided at the new time, so that what it did
/// not do by then it will not do at that time at all.
private func advance(_ clock: ManualClock, by duration: Duration, _ dispatcher: Dispatcher) -> Bool {
    clock.advance(by: duration)
    let now = clock.now
    return waitUntil { dispatcher.hasDecided(at: now) }
}

@Suite struct DispatcherTests {
    @Test func everyRequestGetsItsOwnResult() {
        let transport = EchoTransport()
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 8, maxDelay: .milliseconds(2), maxQueue: 64,
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
        let clock = ManualClock()
        let transport = EchoTransport()
        transport.withState { $0.hold = true }
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 8, maxDelay: .milliseconds(1), maxQueue: 64,
                                                         policy: .pull, workerCount: 1), clock: clock)
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        dispatcher.workerReady(0)
        let outcomes = Outcomes()
        _ = dispatcher.submit(job(0, outcomes: outcomes, clock: clock))
        // The lone first request goes at once; the next eight queue behind the busy worker.
        #expect(waitUntil { transport.withState { $0.held.count == 1 } })
        for i in 1...8 { _ = dispatcher.submit(job(i, outcomes: outcomes, clock: clock)) }
        // The 1 ms batch delay passes many times over: with the worker busy, nothing may go.
        #expect(advance(clock, by: .milliseconds(50), dispatcher))
        #expect(transport.withState { $0.held.count } == 1 && dispatcher.snapshot.queueDepth == 8)
        let first = transport.withState { state in
            state.hold = false
            return state.held.removeFirst()
        }
        transport.answer(first.0, first.1, first.2)
        #expect(outcomes.waitFor(9))
        #expect(transport.withState { $0.batchSizes } == [1, 8])
        dispatcher.stop()
    }

    @Test func deadlinesExpireWhileQueued() {
        let clock = ManualClock()
        let transport = EchoTransport()
        transport.withState { $0.hold = true }
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 1, maxDelay: .zero, maxQueue: 8,
                                                         policy: .pull, workerCount: 1), clock: clock)
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        dispatcher.workerReady(0)
        let outcomes = Outcomes()
        _ = dispatcher.submit(job(0, outcomes: outcomes, clock: clock))
        #expect(waitUntil { transport.withState { $0.held.count == 1 } })
        _ = dispatcher.submit(job(1, outcomes: outcomes, clock: clock, timeout: .milliseconds(20)))
        // Just before its deadline r1 still waits behind the held r0; just after, it is answered.
        #expect(advance(clock, by: .milliseconds(19), dispatcher))
        #expect(outcomes.count == 0 && dispatcher.snapshot.queueDepth == 1, "expired before its deadline")
        #expect(advance(clock, by: .milliseconds(2), dispatcher))
        #expect(outcomes.waitFor(1))
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
        transport.withState { $0.hold = true }
        let dispatcher = Dispatcher(configuration: .init(maxBatch: 4, maxDelay: .zero, maxQueue: 8,
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
            let held = transport.withState { $0.held.map(\.2.count).reduce(0, +) }
            return held >= 1 && held + dispatcher.snapshot.queueDepth == 3
        })
        transport.withState { state in
            state.hold = false
            state.held.removeAll()
        }
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
