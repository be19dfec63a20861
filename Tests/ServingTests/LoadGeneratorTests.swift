import Foundation
import HTTP
import Locking
import Testing
@testable import Serving

/// The most requests the test server held at once.
private final class Concurrency: Sendable {
    private let state = Locked<(current: Int, peak: Int)>((0, 0))
    func enter() {
        state.withLock { state in
            state.current += 1
            state.peak = max(state.peak, state.current)
        }
    }
    func leave() { state.withLock { $0.current -= 1 } }
    var highest: Int { state.withLock { $0.peak } }
}

/// An HTTP server in this process answering like `/infer` after `delay` seconds.
private func withServer(delay: Double, concurrency: Concurrency = Concurrency(),
                        _ body: (UInt16) throws -> Void) throws {
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
    configuration.drainTimeout = .seconds(1)
    let server = try HTTPServer(configuration: configuration)
    let port = server.localAddress.port
    let thread = Thread {
        try? server.run { _, responder in
            // A thread of its own per answer: no shared pool to queue behind under test load.
            concurrency.enter()
            Thread {
                usleep(UInt32(delay * 1e6))
                concurrency.leave()
                responder.send(.json(.ok, #"{"batch_size":2,"worker":1}"#))
            }.start()
        }
    }
    thread.start()
    defer { server.beginShutdown() }
    try body(port)
}

private final class Samples: @unchecked Sendable {
    // @unchecked: appended to only by the generator's `record`, which it calls under its lock;
    // read after `run` returns.
    var all: [LoadSample] = []
}

private let request = Array("POST /infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".utf8)

@Suite(.serialized) struct LoadGeneratorTests {
    @Test func closedLoopKeepsEveryClientBusy() throws {
        let concurrency = Concurrency()
        try withServer(delay: 0.05, concurrency: concurrency) { port in
            let samples = Samples()
            let generator = LoadGenerator(configuration: .init(host: "127.0.0.1", port: port, request: request,
                                                               mode: .closedLoop(concurrency: 4), durationSeconds: 0.5,
                                                               warmupSeconds: 0.1, timeoutMilliseconds: 2000)) {
                samples.all.append($0)
            }
            let seconds = generator.run()
            let measured = samples.all.filter { !$0.warmup }
            // The measured window is the configured duration, whatever the tail of the last
            // requests (which end after it) took.
            #expect(seconds == 0.5)
            // Events, not a request rate (which a busy machine lowers): the four clients had
            // four requests in flight at once, and never more.
            #expect(concurrency.highest == 4, "at most \(concurrency.highest) requests in flight at once")
            #expect(!measured.isEmpty, "\(samples.all.count) samples, all in the warm-up")
            #expect(measured.allSatisfy { $0.status == 200 && $0.batchSize == 2 && $0.worker == 1 })
        }
    }

    @Test func openLoopMeasuresFromTheIntendedSendTime() throws {
        // One connection, 100 ms per answer, 40 arrivals per second: the server can do 10/s, so
        // requests queue in the client and their latency must grow well past 100 ms.
        try withServer(delay: 0.1) { port in
            let samples = Samples()
            let generator = LoadGenerator(configuration: .init(host: "127.0.0.1", port: port, request: request,
                                                               mode: .openLoop(ratePerSecond: 40, connections: 1),
                                                               durationSeconds: 0.5, warmupSeconds: 0, timeoutMilliseconds: 5000)) {
                samples.all.append($0)
            }
            _ = generator.run()
            let latencies = samples.all.map(\.latency).sorted()
            #expect(samples.all.count == 20, "every intended arrival is answered or counted: \(samples.all.count)")
            #expect((latencies.last ?? .zero) > .seconds(1), "the last arrival waited behind the others")
            #expect((latencies.first ?? .zero) >= .milliseconds(100))
        }
    }

    @Test func transportErrorsAreCountedAsStatusZero() throws {
        let samples = Samples()
        // Nothing listens on port 1.
        let generator = LoadGenerator(configuration: .init(host: "127.0.0.1", port: 1, request: request,
                                                           mode: .closedLoop(concurrency: 1), durationSeconds: 0.1,
                                                           warmupSeconds: 0, timeoutMilliseconds: 100)) {
            samples.all.append($0)
        }
        _ = generator.run()
        #expect(!samples.all.isEmpty && samples.all.allSatisfy { $0.status == 0 })
    }
}
