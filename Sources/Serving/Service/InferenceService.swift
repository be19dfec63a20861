import Foundation
import HTTP
import Images
import JSON
import Logging
import Model
import Synchronization
import Locking

/// Settings the routes need (validated by `ServeConfiguration`).
public struct ServiceSettings: Sendable {
    /// Longest a request may wait for a worker (`--request-timeout-ms`).
    public var requestTimeout: Duration
    public var maxBatch: Int
    public var maxDelayMilliseconds: Int
    public var maxQueue: Int
    public var maxBodyBytes: Int
    public var router: RoutingPolicy
    public var workerCount: Int
    /// Which images are refused, and which decode in the large-image lane.
    public var images: ImageAdmission
    /// The workers' arithmetic, reported by `/v1/model`.
    public var precision = Precision.fp32
    /// The workers' fp32 product library, reported by `/v1/model`.
    public var backend = Backend.openblas
    /// Items one Open Inference Protocol request may hold (`--max-request-items`).
    public var maxRequestItems: Int

    /// Creates settings.
    public init(requestTimeout: Duration, maxBatch: Int, maxDelayMilliseconds: Int, maxQueue: Int,
                maxBodyBytes: Int, router: RoutingPolicy, workerCount: Int, images: ImageAdmission = ImageAdmission(),
                maxRequestItems: Int = 64) {
        self.images = images
        self.maxRequestItems = maxRequestItems
        self.requestTimeout = requestTimeout
        self.maxBatch = maxBatch
        self.maxDelayMilliseconds = maxDelayMilliseconds
        self.maxQueue = maxQueue
        self.maxBodyBytes = maxBodyBytes
        self.router = router
        self.workerCount = workerCount
    }
}

/// The HTTP routes: `POST /infer`, `GET /healthz`, `/livez`, `/metrics`, `/v1/model`.
///
/// `handle` runs on the event-loop thread and only routes: parsing, decoding and tokenizing go
/// to the preprocessing pool, inference to the dispatcher; the answer is sent from whichever
/// thread finishes the request.
public final class InferenceService: Sendable {
    /// The serving model's configuration (a reload may swap it; see `servingModel`).
    public var model: ModelConfig { servingModel.config }
    /// The model being served, its version and load time.
    public var servingModel: ServingModel { reloader?.current ?? initialModel }
    private let initialModel: ServingModel
    /// Re-reads the model directory (SIGHUP, `/v2/repository/...`); nil: reload unavailable.
    let reloader: ModelReloader?
    public let settings: ServiceSettings
    public let metrics: ServiceMetrics
    let preprocessing: Preprocessing
    let pool: BoundedThreadPool
    /// One low-priority thread for images over `settings.images.largePixels`; nil: every image
    /// decodes on `pool`.
    let largeImages: BoundedThreadPool?
    let dispatcher: Dispatcher
    /// Request arrival, deadlines and latencies: the dispatcher's clock, which judges the
    /// deadlines computed here.
    var clock: any ServerClock { dispatcher.clock }
    private let workers: @Sendable () -> [WorkerStatus]
    private let httpConnections: @Sendable () -> Int
    private let logger: Logger
    private let drainingFlag = Atomic<Bool>(false)
    private let tokens: BearerTokenStore?
    private let authMetrics: Bool
    private let healthCache = Locked(HealthCache())

    /// Wires the routes to their collaborators.
    public init(model: ModelConfig, settings: ServiceSettings, preprocessing: Preprocessing, pool: BoundedThreadPool,
                largeImages: BoundedThreadPool? = nil,
                dispatcher: Dispatcher, metrics: ServiceMetrics, logger: Logger,
                workers: @escaping @Sendable () -> [WorkerStatus],
                httpConnections: @escaping @Sendable () -> Int = { 0 },
                tokens: BearerTokenStore? = nil, authMetrics: Bool = false, reloader: ModelReloader? = nil) {
        self.reloader = reloader
        initialModel = reloader?.current ?? ServingModel(config: model, directory: "", version: "", loadedAt: Date())
        self.tokens = tokens
        self.authMetrics = authMetrics
        self.largeImages = largeImages
        self.settings = settings
        self.preprocessing = preprocessing
        self.pool = pool
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.logger = logger
        self.workers = workers
        self.httpConnections = httpConnections
        registerCollectors()
    }

    /// True from SIGTERM/SIGINT on: `/healthz` says draining and new `/infer` requests get 503.
    public var isDraining: Bool { drainingFlag.load(ordering: .acquiring) }

    /// Starts draining (idempotent).
    public func beginDrain() { drainingFlag.store(true, ordering: .releasing) }

    /// The `HTTPServer` handler.
    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        handle(request) { responder.send($0) }
    }

    /// Routes a request; `send` is called exactly once, possibly from another thread.
    func handle(_ request: HTTPRequest, send: @escaping @Sendable (HTTPResponse) -> Void) {
        let started = clock.now
        let path = String(request.path)
        let route: String
        let allowed: String
        switch path {
        case "/infer": route = path; allowed = "POST"
        case "/healthz", "/livez", "/metrics", "/v1/model", "/openapi.yaml": route = path; allowed = "GET, HEAD"
        case _ where OpenInferenceRoute.isProtocolPath(path) && OpenInferenceRoute(path: path) != .unknown:
            let v2 = OpenInferenceRoute(path: path)
            route = v2.metricsLabel; allowed = v2.allowedMethods
        default:
            guard let repository = ModelRepositoryRoutes.route(for: path) else {
                finish(request, route: "other", started: started, send: send, .failure(.notFound(path)))
                return
            }
            route = repository; allowed = "POST"  // management routes: the bearer token applies
        }
        // Health probes (and /v2/health/*) stay open (load balancers and kubelets carry no
        // token); /metrics too unless --auth-metrics; every other route needs a bearer token.
        if let tokens, path != "/livez", path != "/healthz", path != "/metrics" || authMetrics,
           !(OpenInferenceRoute.isProtocolPath(path) && OpenInferenceRoute(path: path).isHealthProbe) {
            let header = request.headers["Authorization"]
            guard tokens.authorizes(header) else {
                finish(request, route: route, started: started, send: send, .failure(.unauthorized(presented: header != nil)))
                return
            }
        }
        guard Self.allows(allowed, request.method) else {
            finish(request, route: route, started: started, send: send,
                   .failure(.methodNotAllowed(request.method, path: path, allow: allowed)))
            return
        }
        switch path {
        case "/infer": infer(request, started: started, send: send)
        case _ where route.hasPrefix("/v2/repository/"):
            repository(request, path: path, route: route, started: started, send: send)
        case _ where OpenInferenceRoute.isProtocolPath(path):
            handleOpenInference(OpenInferenceRoute(path: path), request, started: started, send: send)
        case "/openapi.yaml":
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/yaml")
            finish(request, route: route, started: started, send: send,
                   .success(HTTPResponse(status: .ok, headers: headers, body: Array(OpenAPIDocument.yaml.utf8))))
        case "/healthz": finish(request, route: route, started: started, send: send, .success(health()))
        case "/livez":
            finish(request, route: route, started: started, send: send, .success(.json(.ok, "{\"status\":\"alive\"}")))
        case "/metrics":
            let text = metrics.registry.render()
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/plain; version=0.0.4; charset=utf-8")
            finish(request, route: route, started: started, send: send,
                   .success(HTTPResponse(status: .ok, headers: headers, body: Array(text.utf8))))
        default:
            finish(request, route: route, started: started, send: send, .success(.json(.ok, modelDescription())))
        }
    }

    /// Whether `method` is one of the comma-separated `list` ("GET, HEAD"). Scans bytes: this
    /// runs for every probe, and splitting and trimming strings cost a third of `/healthz`.
    static func allows(_ list: String, _ method: String) -> Bool {
        var token = list.utf8[...]
        while !token.isEmpty {
            token = token.drop(while: { $0 == UInt8(ascii: " ") })
            let end = token.firstIndex(of: UInt8(ascii: ",")) ?? token.endIndex
            if token[..<end].elementsEqual(method.utf8) { return true }
            token = end == token.endIndex ? token[end...] : token[token.index(after: end)...]
        }
        return false
    }

    // MARK: /infer

    private func infer(_ request: HTTPRequest, started: ContinuousClock.Instant, send: @escaping @Sendable (HTTPResponse) -> Void) {
        if isDraining {
            finish(request, route: "/infer", started: started, send: send, .failure(.notAccepting(.draining)))
            return
        }
        let admission = dispatcher.snapshot.admission
        if admission != .open {
            finish(request, route: "/infer", started: started, send: send, .failure(.notAccepting(admission)))
            return
        }
        let accepted = pool.submit { [self] in
            preprocessAndSubmit(request, started: started, send: send)
        }
        if !accepted {
            finish(request, route: "/infer", started: started, send: send,
                   .failure(.queueFull(capacity: settings.maxQueue)))
        }
    }

    private func preprocessAndSubmit(_ request: HTTPRequest, started: ContinuousClock.Instant,
                                     send: @escaping @Sendable (HTTPResponse) -> Void) {
        if request.isCancelled {
            cancelled(request, stage: "preprocess", started: started, send: send)
            return
        }
        let preprocessStart = clock.now
        let parsed: InferRequest
        do {
            parsed = try InferRequest.parse(body: request.body, contentType: request.headers["Content-Type"])
        } catch {
            finish(request, route: "/infer", started: started, send: send, .failure(error))
            return
        }
        // Decide from the header alone, before decoding: a huge image must neither run on the
        // shared threads (every other client would queue behind it) nor be decoded at all.
        switch settings.images.route(for: parsed.image) {
        case .shared:
            decodeAndSubmit(parsed, request, started: started, preprocessStart: preprocessStart, send: send)
        case .tooLarge(let width, let height):
            metrics.imagesRejected.increment(["too_large"])
            finish(request, route: "/infer", started: started, send: send,
                   .failure(.from(ImageError.tooLarge(width: width, height: height, limit: settings.images.maxPixels))))
        case .largeLane:
            guard let lane = largeImages else {
                decodeAndSubmit(parsed, request, started: started, preprocessStart: preprocessStart, send: send)
                return
            }
            let accepted = lane.submit { [self] in
                decodeAndSubmit(parsed, request, started: started, preprocessStart: preprocessStart, send: send)
            }
            if accepted {
                metrics.imagesThrottled.increment()
            } else {
                metrics.imagesRejected.increment(["large_lane_full"])
                finish(request, route: "/infer", started: started, send: send,
                       .failure(.largeImagesBusy(pixels: settings.images.largePixels)))
            }
        }
    }

    /// Decodes, tokenizes and hands the request to the dispatcher (on a preprocessing thread
    /// or in the large-image lane).
    private func decodeAndSubmit(_ parsed: InferRequest, _ request: HTTPRequest, started: ContinuousClock.Instant, preprocessStart: ContinuousClock.Instant,
                                 send: @escaping @Sendable (HTTPResponse) -> Void) {
        let payload: InferencePayload
        do {
            payload = try preprocessing.payload(for: parsed)
        } catch {
            if error.code == "image_too_large" { metrics.imagesRejected.increment(["too_large"]) }
            finish(request, route: "/infer", started: started, send: send, .failure(error))
            return
        }
        let preprocessTime = clock.now - preprocessStart
        metrics.preprocessSeconds.observe(Double(preprocessTime.unsignedNanoseconds) / 1e9)

        var timeout = settings.requestTimeout
        // `Duration` holds any `Int` of milliseconds: a huge client timeout stays huge (it
        // never wraps into a tiny one and a bogus 504), and the server's bound wins.
        if let requested = parsed.timeoutMilliseconds { timeout = min(timeout, .milliseconds(requested)) }
        let deadline = started + timeout
        guard clock.now < deadline else {
            finish(request, route: "/infer", started: started, send: send, .failure(.deadlineExceeded))
            return
        }
        if request.isCancelled {
            cancelled(request, stage: "preprocess", started: started, send: send)
            return
        }
        let id = parsed.id ?? request.requestID
        let cancellation = request.cancellation
        let job = InferenceJob(requestID: id, payload: payload, deadline: deadline,
                               isCancelled: { cancellation.isCancelled }) { [self] outcome in
            switch outcome {
            case .success(let (result, info)):
                metrics.queueSeconds.observe(Double(info.queueTime.unsignedNanoseconds) / 1e9)
                let total = clock.now - started
                metrics.modelStatistics.recordItem(queue: info.queueTime, preprocess: preprocessTime, batch: info)
                let body = InferResponse(id: id, model: model.name, labels: model.labels, result: result,
                                         includeEmbedding: parsed.returnEmbedding, batch: info,
                                         preprocessTime: preprocessTime, totalTime: total)
                finish(request, route: "/infer", started: started, send: send, .success(.json(.ok, body.json)),
                       batch: info)
            case .failure(.cancelled):
                cancelled(request, stage: "queue", started: started, send: send)
            case .failure(let failure):
                finish(request, route: "/infer", started: started, send: send, .failure(.from(failure)))
            }
        }
        switch dispatcher.submit(job) {
        case .accepted:
            break
        case .queueFull:
            finish(request, route: "/infer", started: started, send: send, .failure(.queueFull(capacity: settings.maxQueue)))
        case .refused(let admission):
            finish(request, route: "/infer", started: started, send: send, .failure(.notAccepting(admission)))
        }
    }

    // MARK: Answering

    /// A request whose client went away, dropped at `stage` (preprocess: before decoding or
    /// before the queue; queue: before its batch formed) without being computed.
    private func cancelled(_ request: HTTPRequest, stage: String, started: ContinuousClock.Instant,
                           send: @Sendable (HTTPResponse) -> Void) {
        metrics.requestsCancelled.increment([stage])
        finish(request, route: "/infer", started: started, send: send, .failure(.clientClosedRequest))
    }

    func finish(_ request: HTTPRequest, route: String, started: ContinuousClock.Instant,
                send: @Sendable (HTTPResponse) -> Void, _ outcome: Result<HTTPResponse, APIError>,
                batch: BatchInfo? = nil) {
        let response: HTTPResponse
        var metadata: Logger.Metadata = [:]
        switch outcome {
        case .success(let ok): response = ok
        case .failure(let error):
            response = OpenInferenceRoute.isProtocolPath(request.path) ? error.openInferenceResponse : error.response
            metadata["error"] = "\(error.code)"
        }
        let elapsed = clock.now - started
        let nanos = elapsed.unsignedNanoseconds
        metrics.requests.increment([route, "\(response.status.code)"])
        if route == "/infer" { metrics.requestSeconds.observe(Double(nanos) / 1e9) }
        let isInference = route == "/infer" || route == OpenInferenceRoute.inferLabel
        if isInference && response.status.code != 401 && response.status.code != 405 {
            metrics.modelStatistics.recordRequest(succeeded: response.status.code == 200, duration: elapsed)
        }
        // Successful probes (/healthz, /livez, /metrics, /v1/model) log at debug: a load
        // balancer polling every second should not drown the inference lines.
        let level: Logger.Level = isInference || response.status.code >= 400 ? .info : .debug
        if logger.logLevel <= level {
            metadata["id"] = "\(request.requestID)"
            metadata["method"] = "\(request.method)"
            metadata["path"] = "\(request.path)"
            metadata["status"] = "\(response.status.code)"
            metadata["latency_ms"] = "\((Double(nanos) / 1e3).rounded() / 1e3)"
            if let batch {
                metadata["batch_size"] = "\(batch.batchSize)"
                metadata["worker"] = "\(batch.worker)"
            }
            logger.log(level: level, "request", metadata: metadata)
        }
        send(response)
    }

    // MARK: Health, model, metrics

    func health() -> HTTPResponse {
        let snapshot = dispatcher.snapshot
        let stalled = stalledWorkers()
        let healthy = max(0, snapshot.readyWorkers - stalled)
        let status: String
        if isDraining || snapshot.admission == .draining {
            status = "draining"
        } else if healthy > 0 && snapshot.admission == .open {
            status = "ready"
        } else if snapshot.readyWorkers > 0 && snapshot.admission == .open {
            // Every ready worker sits on a batch far longer than its batches take (SIGSTOPped,
            // livelocked): requests would only queue until they time out.
            status = "stalled"
        } else if snapshot.admission == .starting {
            status = "starting"
        } else {
            status = "unavailable"
        }
        // Load balancers poll this thousands of times a second and the answer rarely
        // changes: reuse the last response while every figure in it is the same.
        let key = HealthKey(status: status, ready: snapshot.readyWorkers, stalled: stalled,
                            total: snapshot.totalWorkers, depth: snapshot.queueDepth,
                            capacity: snapshot.queueCapacity)
        if let cached = healthCache.withLock({ $0.response(for: key) }) { return cached }
        let body = JSONText.object([
            ("status", JSONText.string(status)),
            ("workers", JSONText.object([("ready", "\(snapshot.readyWorkers)"), ("stalled", "\(stalled)"),
                                         ("total", "\(snapshot.totalWorkers)")])),
            ("queue", JSONText.object([("depth", "\(snapshot.queueDepth)"), ("capacity", "\(snapshot.queueCapacity)")])),
        ])
        let response = HTTPResponse.json(status == "ready" ? .ok : .serviceUnavailable, body)
        healthCache.withLock { $0.last = (key, response) }
        return response
    }

    /// Ready workers that hold a batch far longer than their recent batches took. Counted at
    /// most every 20 ms: stalls are judged over a second or more, and listing the workers
    /// (each with its CPU set) is the dearest part of a probe. A bound on real work, so real
    /// time (not the request clock).
    private func stalledWorkers() -> Int {
        let now = ContinuousClock.now
        if let count = healthCache.withLock({ $0.stalled(at: now) }) { return count }
        let count = workers().filter { $0.state == .ready && $0.stalled }.count
        healthCache.withLock { $0.stalledCount = (count, now) }
        return count
    }

    private func modelDescription() -> String {
        let serving = servingModel
        let model = serving.config
        return JSONText.object([
            ("name", JSONText.string(model.name)),
            ("version", JSONText.string(serving.version)),
            ("loaded_at", JSONText.string(serving.loadedAtText)),
            ("labels", "[" + model.labels.map(JSONText.string).joined(separator: ",") + "]"),
            ("image_size", "\(model.imageEncoder.imageSize)"),
            ("max_text_length", "\(model.preprocess.maxTextLength)"),
            ("embedding_size", "\(model.fusion.hiddenSize)"),
            ("image_encoder", JSONText.object([("hidden_size", "\(model.imageEncoder.hiddenSize)"),
                                               ("num_layers", "\(model.imageEncoder.numLayers)"),
                                               ("patch_size", "\(model.imageEncoder.patchSize)")])),
            ("text_encoder", JSONText.object([("hidden_size", "\(model.textEncoder.hiddenSize)"),
                                              ("num_layers", "\(model.textEncoder.numLayers)"),
                                              ("vocab_size", "\(model.textEncoder.vocabSize)")])),
            ("limits", JSONText.object([("max_batch", "\(settings.maxBatch)"),
                                        ("max_delay_ms", "\(settings.maxDelayMilliseconds)"),
                                        ("max_queue", "\(settings.maxQueue)"),
                                        ("max_body_bytes", "\(settings.maxBodyBytes)"),
                                          ("request_timeout_ms", "\(settings.requestTimeout.unsignedNanoseconds / 1_000_000)"),
                                          ("max_image_pixels", "\(settings.images.maxPixels)"),
                                          ("large_image_pixels", "\(settings.images.largePixels)")])),
            ("workers", "\(settings.workerCount)"),
            ("router", JSONText.string(settings.router.rawValue)),
            ("precision", JSONText.string(settings.precision.rawValue)),
            ("backend", JSONText.string(settings.precision.libraries(backend: settings.backend))),
        ])
    }

    private func registerCollectors() {
        metrics.queueCapacity.set(to: Double(settings.maxQueue))
        metrics.registry.addCollector { [weak self, dispatcher, workers, metrics, httpConnections] in
            let snapshot = dispatcher.snapshot
            metrics.queueDepth.set(to: Double(snapshot.queueDepth))
            metrics.largeImageLaneDepth.set(to: Double(self?.largeImages?.load ?? 0))
            metrics.workersReady.set(to: Double(snapshot.readyWorkers))
            var stalled = 0
            for (index, inFlight) in snapshot.inFlightPerWorker.enumerated() {
                metrics.workerInFlight.set(["\(index)"], to: Double(inFlight))
            }
            for worker in workers() {
                let label = ["\(worker.index)"]
                metrics.workerReady.set(label, to: worker.state == .ready ? 1 : 0)
                metrics.workerBusySeconds.set(label, to: Double(worker.busyTime.unsignedNanoseconds) / 1e9)
                metrics.workerBatches.set(label, to: Double(worker.batches))
                metrics.workerRestarts.set(label, to: Double(worker.restarts))
                metrics.workerTimeouts.set(label, to: Double(worker.timeouts))
                metrics.workerStalled.set(label, to: worker.stalled ? 1 : 0)
                metrics.workerStalls.set(label, to: Double(worker.stalls))
                if worker.state == .ready && worker.stalled { stalled += 1 }
            }
            metrics.workersHealthy.set(to: Double(max(0, snapshot.readyWorkers - stalled)))
            metrics.connectionsOpen.set(to: Double(httpConnections()))
            metrics.draining.set(to: self?.isDraining == true ? 1 : 0)
        }
    }
}

/// Every figure `/healthz` reports; equal keys give byte-identical answers.
private struct HealthKey: Equatable {
    var status: String
    var ready, stalled, total, depth, capacity: Int
}

/// The last `/healthz` answer and the last stalled-worker count, with when it was taken.
private struct HealthCache {
    static let stalledCountLifetime = Duration.milliseconds(20)
    var last: (key: HealthKey, response: HTTPResponse)?
    var stalledCount: (count: Int, at: ContinuousClock.Instant)?

    func response(for key: HealthKey) -> HTTPResponse? {
        guard let last, last.key == key else { return nil }
        return last.response
    }

    func stalled(at now: ContinuousClock.Instant) -> Int? {
        guard let stalledCount, now - stalledCount.at < Self.stalledCountLifetime else { return nil }
        return stalledCount.count
    }
}
