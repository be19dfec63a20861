import ClockTesting
import Foundation
import HTTP
import JSON
import Logging
import Model
import Locking
import Testing
@testable import Serving

/// Runs batches on the real tiny model, in this process, on a background thread.
private final class InProcessTransport: BatchTransport, @unchecked Sendable {
    // @unchecked: `FusionModelExecutor` declares no `Sendable`; it runs only on `queue`.
    /// The dispatcher holds the transport: a weak reference back, as the worker pool's.
    private struct State {
        weak var dispatcher: Dispatcher?
        var holding = false
    }

    let executor: FusionModelExecutor
    let queue = DispatchQueue(label: "in-process-worker")
    private let state = Locked(State())

    init(executor: FusionModelExecutor) { self.executor = executor }

    /// The dispatcher to answer (set once, before it starts).
    var dispatcher: Dispatcher? {
        get { state.withLock { $0.dispatcher } }
        set { state.withLock { $0.dispatcher = newValue } }
    }

    /// From now on batches are taken and never answered (a hung worker).
    func holdBatches() { state.withLock { $0.holding = true } }

    func send(batchID: UInt64, payloads: [InferencePayload], to worker: Int) {
        if state.withLock({ $0.holding }) { return }
        queue.async { [self] in
            do {
                let results = try executor.run(payloads)
                dispatcher?.batchFinished(batchID: batchID, worker: worker, results: results, inferenceTime: .microseconds(1))
            } catch {
                dispatcher?.batchFailed(batchID: batchID, worker: worker, message: "\(error)")
            }
        }
    }
}

private final class Replies: Sendable {
    private let responses = LockedCondition<[HTTPResponse]>([])

    func add(_ response: HTTPResponse) {
        responses.withLock { $0.append(response) }
        responses.broadcast()
    }

    var count: Int { responses.withLock { $0.count } }

    func wait(count: Int = 1) -> [HTTPResponse] {
        responses.withLock(waitingUntil: { $0.count >= count }, deadline: .now + .seconds(10)) { responses, _ in responses }
    }
}

private struct Harness {
    let service: InferenceService
    let dispatcher: Dispatcher
    let transport: InProcessTransport

    init(ready: Bool = true, timeout: Duration = .seconds(10), images: ImageAdmission = ImageAdmission(),
         largeImages: BoundedThreadPool? = nil, clock: any ServerClock = SystemServerClock()) throws {
        let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
        let preprocessing = try Preprocessing(config: config, vocabFile: Fixtures.tinyModel + "/vocab.txt")
        transport = InProcessTransport(executor: try FusionModelExecutor(directory: Fixtures.tinyModel))
        dispatcher = Dispatcher(configuration: .init(maxBatch: 8, maxDelay: .milliseconds(2), maxQueue: 16,
                                                     policy: .leastLoaded, workerCount: 1), clock: clock)
        transport.dispatcher = dispatcher
        dispatcher.start(transport: transport)
        if ready { dispatcher.workerReady(0) }
        let settings = ServiceSettings(requestTimeout: timeout, maxBatch: 8, maxDelayMilliseconds: 2, maxQueue: 16,
                                       maxBodyBytes: 1 << 20, router: .leastLoaded, workerCount: 1, images: images)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        service = InferenceService(model: config, settings: settings, preprocessing: preprocessing,
                                   pool: BoundedThreadPool(name: "pre", threads: 2, queueCapacity: 16), largeImages: largeImages,
                                   dispatcher: dispatcher, metrics: ServiceMetrics(maxBatch: 8), logger: logger,
                                   workers: { [] })
    }

    func send(_ method: String, _ target: String, body: [UInt8] = [], contentType: String? = nil) -> HTTPResponse {
        var headers = HTTPHeaders()
        if let contentType { headers.add(name: "Content-Type", value: contentType) }
        let replies = Replies()
        service.handle(HTTPRequest(method: method, target: target, headers: headers, body: body, requestID: "req-1")) {
            replies.add($0)
        }
        return replies.wait().first ?? HTTPResponse(status: HTTPStatus(code: 599), body: "no response")
    }

    func infer(_ json: String) -> HTTPResponse {
        send("POST", "/infer", body: Array(json.utf8), contentType: "application/json")
    }
}

private func body(_ response: HTTPResponse) -> JSONValue {
    (try? JSONParser.parse(response.body)) ?? .null
}

private func errorCode(_ response: HTTPResponse) -> String {
    guard case .string(let code)? = body(response)["error"]?["code"] else { return "(no code)" }
    return "\(response.status.code) \(code)"
}

/// Polls `condition` every millisecond for up to 10 s (another thread reaching a state, not a
/// timeout); true once it holds.
private func waitUntil(_ condition: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(10)
    while !condition() {
        guard Date() < end else { return false }
        usleep(1000)
    }
    return true
}

private let good = Fixtures.image("good/jpeg_progressive_320x240.jpg")
private func imageJSON(_ bytes: [UInt8], text: String = "a cat", extra: String = "") -> String {
    #"{"image":"\#(Data(bytes).base64EncodedString())","text":"\#(text)"\#(extra)}"#
}

@Suite struct InferenceServiceTests {
    @Test func answersInferWithTheDocumentedShape() throws {
        let h = try Harness()
        let response = h.infer(imageJSON(good, extra: #","id":"x-1","return_embedding":true"#))
        #expect(response.status.code == 200)
        let json = body(response)
        #expect(json["id"] == .string("x-1"))
        #expect(json["model"] == .string("tiny-f32"))
        guard case .string(let label)? = json["label"], case .object(let scores)? = json["scores"],
              case .array(let logits)? = json["logits"], case .array(let embedding)? = json["embedding"] else {
            Issue.record("missing fields: \(json)"); return
        }
        #expect(["cat", "dog", "other"].contains(label))
        #expect(scores.map(\.0) == ["cat", "dog", "other"])
        #expect(logits.count == 3 && embedding.count == 40)
        #expect(json["gate"]?["image"] != nil && json["gate"]?["text"] != nil)
        #expect(json["batch_size"] == .number("1", 1) && json["worker"] == .number("0", 0))
        for key in ["queue", "preprocess", "inference", "total"] { #expect(json["timing_ms"]?[key] != nil) }
        // Without return_embedding there is no embedding; without id, the request id is echoed.
        let plain = body(h.infer(imageJSON(good)))
        #expect(plain["embedding"] == nil && plain["id"] == .string("req-1"))
    }

    @Test func resultsMatchTheModelRunDirectly() throws {
        let h = try Harness()
        let json = body(h.infer(imageJSON(good, text: "a small dog")))
        let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
        let preprocessing = try Preprocessing(config: config, vocabFile: Fixtures.tinyModel + "/vocab.txt")
        let payload = try preprocessing.payload(for: InferRequest(image: good, text: "a small dog"))
        let direct = try FusionModelExecutor(directory: Fixtures.tinyModel).run([payload])[0]
        guard case .array(let logits)? = json["logits"] else { Issue.record("no logits"); return }
        let served = logits.compactMap { value -> Float? in
            if case .number(_, let number) = value { return Float(number) }
            return nil
        }
        #expect(served == direct.logits, "the JSON text reads back as the exact same Float")
    }

    @Test func imagesOverTheGuardAreRefusedFromTheirHeaderAndCounted() throws {
        let h = try Harness(images: ImageAdmission(maxPixels: 1_000_000))
        let huge = Fixtures.image("large/png_rgb_4000x4000.png")
        let refused = h.infer(imageJSON(huge))
        #expect(errorCode(refused) == "422 image_too_large")
        #expect(h.service.metrics.imagesRejected.value(["too_large"]) == 1)
        #expect(h.infer(imageJSON(good)).status.code == 200, "small images are unaffected")
    }

    @Test func largeImagesDecodeInTheirLaneAndAFullLaneAnswers503() throws {
        let lane = BoundedThreadPool(name: "lane", threads: 1, queueCapacity: 1)
        defer { lane.stop() }
        let h = try Harness(images: ImageAdmission(maxPixels: 20_000_000, largePixels: 100_000), largeImages: lane)
        let huge = imageJSON(Fixtures.image("large/png_rgb_4000x4000.png"))
        // Occupy the lane's thread and its one queue slot.
        let gate = Gate()
        #expect(lane.submit { gate.waitOpen() })
        let taken = Date().addingTimeInterval(5)
        while lane.waiting > 0, Date() < taken { usleep(1000) }
        #expect(lane.submit {})
        let busy = h.infer(huge)
        #expect(errorCode(busy) == "503 large_images_busy")
        #expect(busy.headers["Retry-After"] == "1")
        #expect(h.service.metrics.imagesRejected.value(["large_lane_full"]) == 1)
        // Small images do not wait for the lane.
        #expect(h.infer(imageJSON(good)).status.code == 200)
        gate.open()
        let served = h.infer(huge)
        #expect(served.status.code == 200)
        #expect(h.service.metrics.imagesThrottled.value() == 1)
    }

    @Test func routesAndMethods() throws {
        let h = try Harness()
        #expect(errorCode(h.send("GET", "/nope")) == "404 not_found")
        let wrong = h.send("GET", "/infer")
        #expect(errorCode(wrong) == "405 method_not_allowed")
        #expect(wrong.headers["Allow"] == "POST")
        #expect(h.send("POST", "/healthz").headers["Allow"] == "GET, HEAD")
        #expect(h.send("GET", "/livez").status.code == 200)
        #expect(body(h.send("GET", "/v1/model"))["labels"] == .array([.string("cat"), .string("dog"), .string("other")]))
        let metrics = String(decoding: h.send("GET", "/metrics").body, as: UTF8.self)
        #expect(metrics.contains("fusion_requests_total{route=\"other\",status=\"404\"} 1"))
        #expect(metrics.contains("fusion_queue_capacity 16"))
    }

    @Test func allowedMethodListsMatchWholeTokens() {
        #expect(InferenceService.allows("GET, HEAD", "GET"))
        #expect(InferenceService.allows("GET, HEAD", "HEAD"))
        #expect(InferenceService.allows("POST", "POST"))
        #expect(InferenceService.allows("GET,HEAD", "HEAD"))
        for method in ["", "GE", "GET,", "HEADX", "POST", " GET", "get"] {
            #expect(!InferenceService.allows("GET, HEAD", method), "\(method)")
        }
        #expect(!InferenceService.allows("", "GET"))
    }

    @Test func imageErrorsFollowTheMatrix() throws {
        let h = try Harness()
        #expect(errorCode(h.infer(imageJSON(Fixtures.image("bad/format.gif")))) == "415 unsupported_image_format")
        #expect(errorCode(h.infer(imageJSON(Fixtures.image("bad/truncated_header.jpg")))) == "422 undecodable_image")
        #expect(errorCode(h.infer(imageJSON(Fixtures.image("bad/bomb_60000x60000.png")))) == "422 image_too_large")
        #expect(errorCode(h.infer(imageJSON([]))) == "422 undecodable_image")
        #expect(errorCode(h.send("POST", "/infer", body: [1], contentType: "text/plain")) == "415 unsupported_media_type")
    }

    @Test func healthFollowsTheWorkersAndTheDrain() throws {
        let starting = try Harness(ready: false)
        let startingHealth = starting.send("GET", "/healthz")
        #expect(startingHealth.status.code == 503 && body(startingHealth)["status"] == .string("starting"))
        #expect(errorCode(starting.infer(imageJSON(good))) == "503 no_worker_ready")

        let h = try Harness()
        let ready = h.send("GET", "/healthz")
        #expect(ready.status.code == 200)
        #expect(body(ready)["workers"]?["ready"] == .number("1", 1))
        #expect(body(ready)["queue"]?["capacity"] == .number("16", 16))
        h.dispatcher.workerLost(0, reason: "test")
        #expect(body(h.send("GET", "/healthz"))["status"] == .string("unavailable"))
        h.dispatcher.workerReady(0)
        h.service.beginDrain()
        let draining = h.send("GET", "/healthz")
        #expect(draining.status.code == 503 && body(draining)["status"] == .string("draining"))
        let refused = h.infer(imageJSON(good))
        #expect(errorCode(refused) == "503 draining")
        #expect(refused.headers["Retry-After"] != nil)
    }

    @Test func aShortTimeoutExpiresWhileQueued() throws {
        let clock = ManualClock()
        let h = try Harness(clock: clock)
        h.transport.holdBatches()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        // A batch the worker never answers keeps it busy: the next request waits in the queue
        // (a partial batch goes only to an idle worker), and its deadline passes there.
        h.service.handle(HTTPRequest(method: "POST", target: "/infer", headers: headers,
                                     body: Array(imageJSON(good).utf8), requestID: "held")) { _ in }
        #expect(waitUntil { h.dispatcher.snapshot.inFlightPerWorker == [1] })
        let replies = Replies()
        h.service.handle(HTTPRequest(method: "POST", target: "/infer", headers: headers,
                                     body: Array(imageJSON(good, extra: #","timeout_ms":300"#).utf8), requestID: "short")) {
            replies.add($0)
        }
        #expect(waitUntil { h.dispatcher.snapshot.queueDepth == 1 })
        // 300 ms from its arrival: still waiting at 299 ms, answered 504 at 301 ms.
        clock.advance(by: .milliseconds(299))
        let early = clock.now
        #expect(waitUntil { h.dispatcher.hasDecided(at: early) })
        #expect(replies.count == 0 && h.dispatcher.snapshot.queueDepth == 1, "expired before its deadline")
        clock.advance(by: .milliseconds(2))
        let response = replies.wait().first ?? HTTPResponse(status: HTTPStatus(code: 599), body: "no response")
        #expect(errorCode(response) == "504 deadline_exceeded")
    }

    @Test func aHugeTimeoutKeepsTheServersDeadline() throws {
        let h = try Harness()
        // 18446744073710 ms × 10⁶ is just over 2⁶⁴ ns: a wrapping multiply made it ~0 and a 504.
        for timeout in ["18446744073710", "\(Int.max)"] {
            let response = h.infer(imageJSON(good, extra: #","timeout_ms":\#(timeout)"#))
            #expect(response.status.code == 200, "timeout_ms \(timeout): \(errorCode(response))")
        }
    }
}
