import Foundation
import POSIX
import Testing
@testable import Serving

/// A model stand-in: label = number of tokens, logits = first pixel, embedding = pixel sum.
final class FakeExecutor: BatchExecutor, Sendable {
    let identity = WorkerIdentity(pid: 0, modelName: "fake", imageSize: 8, maxTextLength: 16, labelCount: 2,
                                  embeddingSize: 4)
    let failOn: Int32?

    init(failOn: Int32? = nil) { self.failOn = failOn }

    func run(_ batch: [InferencePayload]) throws -> [InferenceResult] {
        if let bad = failOn, batch.contains(where: { $0.tokenIds.contains(bad) }) {
            throw WireError.unexpected("token \(bad)")
        }
        return batch.map {
            InferenceResult(logits: [$0.image.floats.first ?? 0, 0], scores: [0.5, 0.5], label: $0.tokenIds.count,
                            gateImage: 0.5, gateText: 0.5, embedding: [$0.image.floats.reduce(0, +), 0, 0, 0])
        }
    }
}

/// Runs a worker loop on a thread over a socket pair; returns the server end.
private func startWorker(delayFactor: Double = 1, executor: FakeExecutor = FakeExecutor(),
                         loadError: Error? = nil) throws -> (FrameChannel, Thread) {
    let (server, worker) = try SocketPair.make(.stream)
    let thread = Thread {
        let loop = WorkerLoop(descriptor: worker, workerIndex: 0, maxBatch: 8, delayFactor: delayFactor)
        _ = try? loop.run {
            if let loadError { throw loadError }
            return executor
        }
        try? worker.close()
    }
    thread.start()
    let limits = WireLimits.forModel(imageSize: 8, maxTextLength: 16, maxOutputs: 4, maxBatch: 8)
    return (FrameChannel(descriptor: server, limits: limits), thread)
}

private func item(_ first: Float, tokens: Int, embedding: Bool = false) -> InferencePayload {
    InferencePayload(pixels: [first] + Array(repeating: 1, count: 191), tokenIds: Array(repeating: 7, count: tokens),
                     returnEmbedding: embedding)
}

@Suite struct WorkerLoopTests {
    @Test func handshakeThenBatchesInOrderThenShutdown() throws {
        let (channel, _) = try startWorker()
        try channel.send(.hello(protocolVersion: WireProtocol.version, workerIndex: 0))
        guard case .ready(let identity)? = try channel.receive() else { Issue.record("no ready"); return }
        #expect(identity.modelName == "fake" && identity.pid == ProcessControl.id)
        try channel.send(.batch(id: 1, items: [item(3, tokens: 2), item(5, tokens: 4, embedding: true)]))
        try channel.send(.batch(id: 2, items: [item(9, tokens: 1)]))
        guard case .results(let id1, _, let first)? = try channel.receive(),
              case .results(let id2, _, let second)? = try channel.receive() else { Issue.record("no results"); return }
        #expect(id1 == 1 && id2 == 2)
        #expect(first.map(\.label) == [2, 4] && first.map { $0.logits[0] } == [3, 5])
        #expect(first[0].embedding.isEmpty, "not asked for")
        #expect(first[1].embedding.first == 196, "asked for: 5 + 191")
        #expect(second.map(\.label) == [1])
        try channel.send(.shutdown)
        #expect(try channel.receive() == nil, "the worker closes after shutdown")
    }

    @Test func aModelErrorFailsOnlyThatBatch() throws {
        let executor = FakeExecutor(failOn: 666)
        let (channel, _) = try startWorker(executor: executor)
        try channel.send(.hello(protocolVersion: WireProtocol.version, workerIndex: 0))
        _ = try channel.receive()
        try channel.send(.batch(id: 5, items: [InferencePayload(pixels: [], tokenIds: [666], returnEmbedding: false)]))
        guard case .batchFailed(let id, let message)? = try channel.receive() else { Issue.record("expected failure"); return }
        #expect(id == 5 && message.contains("666"))
        try channel.send(.batch(id: 6, items: [item(1, tokens: 1)]))
        guard case .results(6, _, _)? = try channel.receive() else { Issue.record("worker should go on"); return }
        try channel.send(.shutdown)
    }

    @Test func loadFailuresAndVersionMismatchesAreReported() throws {
        let (channel, _) = try startWorker(loadError: WireError.unexpected("broken model"))
        try channel.send(.hello(protocolVersion: WireProtocol.version, workerIndex: 0))
        guard case .loadFailed(let message)? = try channel.receive() else { Issue.record("expected loadFailed"); return }
        #expect(message.contains("broken model"))

        let (other, _) = try startWorker()
        try other.send(.hello(protocolVersion: 999, workerIndex: 0))
        guard case .loadFailed(let mismatch)? = try other.receive() else { Issue.record("expected loadFailed"); return }
        #expect(mismatch.contains("999"))
    }

    @Test func theTestSlowdownMultipliesTheReportedTime() throws {
        let (channel, _) = try startWorker(delayFactor: 3)
        try channel.send(.hello(protocolVersion: WireProtocol.version, workerIndex: 0))
        _ = try channel.receive()
        let started = ContinuousClock.now
        try channel.send(.batch(id: 1, items: [item(1, tokens: 1)]))
        guard case .results(_, let reported, _)? = try channel.receive() else { Issue.record("no results"); return }
        #expect(ContinuousClock.now - started >= reported)
        try channel.send(.shutdown)
    }

    /// Measures the IPC cost the service pays per batch: a batch of 8 requests at 224 px
    /// (8 × 602 112 bytes of pixels) to an in-process worker that answers at once, round trip.
    @Test func transportRoundTripForABatchOf8At224Pixels() throws {
        let (server, worker) = try SocketPair.make(.stream)
        let limits = WireLimits.forModel(imageSize: 224, maxTextLength: 64, maxOutputs: 384, maxBatch: 8)
        let echo = Thread {
            let channel = FrameChannel(descriptor: worker, limits: limits)
            while let message = try? channel.receive(), case .batch(let id, let items) = message {
                let results = items.map { _ in
                    InferenceResult(logits: [0, 0], scores: [0.5, 0.5], label: 0, gateImage: 0.5, gateText: 0.5, embedding: [])
                }
                try? channel.send(.results(id: id, inferenceTime: .zero, items: results))
            }
        }
        echo.start()
        let channel = FrameChannel(descriptor: server, limits: limits)
        let batch = (0..<8).map { i in
            InferencePayload(pixels: Array(repeating: Float(i), count: 3 * 224 * 224), tokenIds: Array(repeating: 1000, count: 32),
                             returnEmbedding: false)
        }
        var samples: [UInt64] = []
        for round in 0..<30 {
            let started = ContinuousClock.now
            try channel.send(.batch(id: UInt64(round), items: batch))
            guard case .results(let id, _, let items)? = try channel.receive() else { Issue.record("no answer"); return }
            #expect(id == UInt64(round) && items.count == 8)
            samples.append((ContinuousClock.now - started).unsignedNanoseconds)
        }
        try server.close()
        var encodeNanos: [UInt64] = []
        var decodeNanos: [UInt64] = []
        for _ in 0..<10 {
            let t0 = ContinuousClock.now
            let frame = WireProtocol.encode(.batch(id: 1, items: batch))
            let t1 = ContinuousClock.now
            _ = try WireProtocol.decodePayload(type: 4, Array(frame.dropFirst(12)), limits: limits)
            let t2 = ContinuousClock.now
            encodeNanos.append((t1 - t0).unsignedNanoseconds)
            decodeNanos.append((t2 - t1).unsignedNanoseconds)
        }
        print("encode min \(Double(encodeNanos.min() ?? 0) / 1000) µs, decode (incl. one slice copy) min \(Double(decodeNanos.min() ?? 0) / 1000) µs")
        samples.sort()
        let median = Double(samples[samples.count / 2]) / 1000
        print("IPC round trip, batch of 8 at 224 px (4.8 MB): median \(median) µs, min \(Double(samples[0]) / 1000) µs")
        #expect(median > 0)
    }
}
