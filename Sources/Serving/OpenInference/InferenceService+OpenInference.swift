import HTTP
import Images
import JSON
import Logging

/// The Open Inference Protocol (KServe v2) routes, beside `/infer` on the same server, batcher
/// and workers: `GET /v2`, `/v2/health/{live,ready}`, `/v2/models/{name}[/versions/{v}]`
/// with `/ready`, `/config`, `/stats`, and `POST …/infer`. Each item of an inference request
/// goes the way of one `/infer` request — `ImageAdmission`, `Preprocessing` on the shared pool
/// (or the large-image lane), `Dispatcher.submit` — and joins the dynamic batcher alone.
extension InferenceService {
    /// The extensions `GET /v2` lists.
    static let openInferenceExtensions = ["binary_tensor_data", "statistics", "model_repository"]

    /// The protocol's view of the served model.
    var openInferenceModel: OpenInferenceModel {
        let serving = servingModel
        var bound = OpenInferenceModel(config: serving.config, settings: settings)
        bound.contentVersion = serving.version
        bound.loadedAt = serving.loadedAtText
        return bound
    }

    /// Answers a protocol route (the caller checked the method and the bearer token).
    func handleOpenInference(_ route: OpenInferenceRoute, _ request: HTTPRequest, started: ContinuousClock.Instant,
                             send: @escaping @Sendable (HTTPResponse) -> Void) {
        let label = route.metricsLabel
        let bound = openInferenceModel
        func answer(_ response: HTTPResponse) { finish(request, route: label, started: started, send: send, .success(response)) }
        switch route {
        case .unknown:
            finish(request, route: label, started: started, send: send, .failure(.notFound(String(request.path))))
        case .server:
            answer(.json(.ok, JSONText.object([
                ("name", JSONText.string("fusion-serve")),
                ("extensions", "[" + Self.openInferenceExtensions.map(JSONText.string).joined(separator: ",") + "]"),
            ])))
        case .live:
            answer(.json(.ok, #"{"live":true}"#))
        case .ready:
            let ready = isReadyForInference
            answer(.json(ready ? .ok : .serviceUnavailable, ready ? #"{"ready":true}"# : #"{"ready":false}"#))
        case .allStatistics:
            answer(.json(.ok, metrics.modelStatistics.json(model: bound.name, version: bound.version)))
        case .model(let name, let version, let action):
            guard name == bound.name, version == nil || version == bound.version else {
                let versionText = version.map { " version \($0)" } ?? ""
                finish(request, route: label, started: started, send: send,
                       .failure(APIError(.notFound, "model_not_found",
                                         "Request for unknown model: '\(name)'\(versionText) is not found; this server serves '\(bound.name)' version \(bound.version).")))
                return
            }
            switch action {
            case .metadata: answer(.json(.ok, bound.metadataJSON))
            case .config: answer(.json(.ok, bound.configJSON))
            case .stats: answer(.json(.ok, metrics.modelStatistics.json(model: bound.name, version: bound.version)))
            case .ready:
                let ready = isReadyForInference
                answer(.json(ready ? .ok : .serviceUnavailable,
                             JSONText.object([("name", JSONText.string(bound.name)), ("ready", ready ? "true" : "false")])))
            case .infer:
                openInferenceInfer(request, model: bound, label: label, started: started, send: send)
            }
        }
    }

    /// Whether an inference request would be taken now (`/healthz` would say ready).
    private var isReadyForInference: Bool { health().status == .ok }

    // MARK: Inference

    private func openInferenceInfer(_ request: HTTPRequest, model bound: OpenInferenceModel, label: String, started: ContinuousClock.Instant,
                                    send: @escaping @Sendable (HTTPResponse) -> Void) {
        if isDraining {
            finish(request, route: label, started: started, send: send, .failure(.notAccepting(.draining)))
            return
        }
        let admission = dispatcher.snapshot.admission
        if admission != .open {
            finish(request, route: label, started: started, send: send, .failure(.notAccepting(admission)))
            return
        }
        let accepted = pool.submit { [self] in
            parseAndFanOut(request, model: bound, label: label, started: started, send: send)
        }
        if !accepted {
            finish(request, route: label, started: started, send: send, .failure(.queueFull(capacity: settings.maxQueue)))
        }
    }

    /// On a preprocessing thread: decodes the request, then sends every item on its way.
    private func parseAndFanOut(_ request: HTTPRequest, model bound: OpenInferenceModel, label: String, started: ContinuousClock.Instant,
                                send: @escaping @Sendable (HTTPResponse) -> Void) {
        if request.isCancelled {
            metrics.requestsCancelled.increment(["preprocess"])
            finish(request, route: label, started: started, send: send, .failure(.clientClosedRequest))
            return
        }
        let parseStart = clock.now
        let parsed: OpenInferenceRequest
        let items: [OpenInferenceItem]
        do {
            parsed = try OpenInferenceRequest.parse(body: request.body,
                                                    headerLength: request.headers.values(for: "Inference-Header-Content-Length"),
                                                    contentEncoding: request.headers["Content-Encoding"])
            items = try bound.items(for: parsed).items
        } catch {
            finish(request, route: label, started: started, send: send, .failure(error))
            return
        }
        var timeout = settings.requestTimeout
        // `Duration` holds any `UInt64` of microseconds: a huge client timeout never wraps into
        // a tiny one, and the server's bound wins.
        if let micros = parsed.timeoutMicroseconds { timeout = min(timeout, .microseconds(micros)) }
        let call = OpenInferenceCall(request: request, send: send, started: started, deadline: started + timeout,
                                     parsed: parsed, model: bound, count: items.count)
        // The parse is shared work: each item is charged its part of it as preprocessing.
        let parseShare = (clock.now - parseStart) / items.count
        for (index, item) in items.enumerated() {
            if call.isAborted { return }
            switch item {
            case .tensors(let payload):
                submitItem(call, index: index, payload: payload, preprocessTime: parseShare, label: label)
            case .encoded(let raw):
                // The last item decodes on this thread, already a preprocessing thread: a
                // one-item request costs no more thread hops than `/infer`.
                routeImage(call, index: index, raw, parseShare: parseShare, label: label, inline: index == items.count - 1)
            }
        }
    }

    /// Decides where item `index`'s image decodes, from its header alone, as `/infer` does.
    private func routeImage(_ call: OpenInferenceCall, index: Int, _ raw: InferRequest, parseShare: Duration, label: String,
                            inline: Bool) {
        let decode: @Sendable () -> Void = { [self] in
            decodeItem(call, index: index, raw, parseShare: parseShare, label: label)
        }
        switch settings.images.route(for: raw.image) {
        case .tooLarge(let width, let height):
            metrics.imagesRejected.increment(["too_large"])
            fail(call, item: index, .from(ImageError.tooLarge(width: width, height: height, limit: settings.images.maxPixels)),
                 label: label)
        case .largeLane where largeImages != nil:
            if largeImages?.submit(decode) == true {
                metrics.imagesThrottled.increment()
            } else {
                metrics.imagesRejected.increment(["large_lane_full"])
                fail(call, item: index, .largeImagesBusy(pixels: settings.images.largePixels), label: label)
            }
        case .shared, .largeLane:
            // Items decode in parallel on the shared threads; with the queue full, here.
            if inline || !pool.submit(decode) { decode() }
        }
    }

    private func decodeItem(_ call: OpenInferenceCall, index: Int, _ raw: InferRequest, parseShare: Duration, label: String) {
        if call.isAborted { return }
        if call.request.isCancelled {
            clientGone(call, stage: "preprocess", label: label)
            return
        }
        let start = clock.now
        let payload: InferencePayload
        do {
            payload = try preprocessing.payload(for: raw)
        } catch {
            if error.code == "image_too_large" { metrics.imagesRejected.increment(["too_large"]) }
            fail(call, item: index, error, label: label)
            return
        }
        let decodeTime = clock.now - start
        metrics.preprocessSeconds.observe(Double(decodeTime.unsignedNanoseconds) / 1e9)
        submitItem(call, index: index, payload: payload, preprocessTime: parseShare + decodeTime, label: label)
    }

    private func submitItem(_ call: OpenInferenceCall, index: Int, payload: InferencePayload, preprocessTime: Duration,
                            label: String) {
        guard clock.now < call.deadline else {
            fail(call, item: index, .deadlineExceeded, label: label)
            return
        }
        let cancellation = call.request.cancellation
        let job = InferenceJob(requestID: "\(call.parsed.id ?? call.request.requestID)#\(index)", payload: payload,
                               deadline: call.deadline,
                               isCancelled: { cancellation.isCancelled || call.isAborted }) { [self] outcome in
            switch outcome {
            case .success(let (result, info)):
                metrics.queueSeconds.observe(Double(info.queueTime.unsignedNanoseconds) / 1e9)
                let record = OpenInferenceCall.ItemRecord(preprocessTime: preprocessTime, batch: info)
                switch call.complete(index: index, result: result, record: record) {
                case .pending: break
                case .alreadyAnswered: recordItems([record], output: .zero)
                case .done(let results, let records): answer(call, results: results, records: records, label: label)
                }
            case .failure(.cancelled):
                // Either the client left, or a sibling failed and the request was answered.
                if call.request.isCancelled { clientGone(call, stage: "queue", label: label) }
            case .failure(let failure):
                fail(call, item: index, .from(failure), label: label)
            }
        }
        switch dispatcher.submit(job) {
        case .accepted: break
        case .queueFull: fail(call, item: index, .queueFull(capacity: settings.maxQueue), label: label)
        case .refused(let admission): fail(call, item: index, .notAccepting(admission), label: label)
        }
    }

    // MARK: Answering

    private func answer(_ call: OpenInferenceCall, results: [InferenceResult], records: [OpenInferenceCall.ItemRecord],
                        label: String) {
        let encodeStart = clock.now
        let outputs = call.model.outputs(for: results, requested: call.parsed.outputs,
                                         binaryDefault: call.parsed.binaryDataOutput)
        let response = OpenInferenceResponse.encode(modelName: call.model.name, modelVersion: call.model.version,
                                                    id: call.parsed.id, outputs: outputs)
        recordItems(records, output: (clock.now - encodeStart) / max(1, records.count))
        finish(call.request, route: label, started: call.started, send: call.send, .success(response))
    }

    /// Fails the whole request for item `index` (only the first failure answers).
    private func fail(_ call: OpenInferenceCall, item index: Int, _ error: APIError, label: String) {
        guard let records = call.abort() else { return }
        recordItems(records, output: .zero)
        let named = APIError(error.status, error.code, "item \(index) of \(call.count): \(error.message)", headers: error.headers)
        finish(call.request, route: label, started: call.started, send: call.send, .failure(named))
    }

    private func clientGone(_ call: OpenInferenceCall, stage: String, label: String) {
        guard let records = call.abort() else { return }
        recordItems(records, output: .zero)
        metrics.requestsCancelled.increment([stage])
        finish(call.request, route: label, started: call.started, send: call.send, .failure(.clientClosedRequest))
    }

    private func recordItems(_ records: [OpenInferenceCall.ItemRecord], output: Duration) {
        for record in records {
            metrics.modelStatistics.recordItem(queue: record.batch.queueTime, preprocess: record.preprocessTime,
                                               batch: record.batch, output: output)
        }
    }
}
