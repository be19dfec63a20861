/// The service's metrics, registered once in a `MetricsRegistry`.
public final class ServiceMetrics: Sendable {
    public let registry: MetricsRegistry
    public let requests: CounterMetric
    public let requestSeconds: HistogramMetric
    public let queueSeconds: HistogramMetric
    public let preprocessSeconds: HistogramMetric
    public let inferenceSeconds: HistogramMetric
    public let batchSize: HistogramMetric
    public let queueDepth: GaugeMetric
    public let queueCapacity: GaugeMetric
    public let workersReady: GaugeMetric
    public let workerInFlight: GaugeMetric
    public let workerReady: GaugeMetric
    public let workerBusySeconds: CounterMetric
    public let workerBatches: CounterMetric
    public let workerRestarts: CounterMetric
    public let workerTimeouts: CounterMetric
    public let workerStalled: GaugeMetric
    public let workerStalls: CounterMetric
    public let workersHealthy: GaugeMetric
    public let retriedRequests: CounterMetric
    public let imagesRejected: CounterMetric
    public let imagesThrottled: CounterMetric
    public let largeImageLaneDepth: GaugeMetric
    public let connectionsOpen: GaugeMetric
    public let requestsCancelled: CounterMetric
    public let http: HTTPLayerMetrics
    public let draining: GaugeMetric
    /// Model reloads (SIGHUP, the load route) by result: success or failure.
    public let modelReloads: CounterMetric
    /// Triton-style per-model statistics for `/v2/models/{name}/stats`.
    public let modelStatistics = ModelStatistics()

    private static let latencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    /// Registers every family.
    public init(maxBatch: Int) {
        let r = MetricsRegistry()
        registry = r
        requests = r.counter("fusion_requests_total", "HTTP requests answered, by route and status code.",
                             labels: ["route", "status"])
        requestSeconds = r.histogram("fusion_request_duration_seconds", "Time from a complete /infer request to its response.",
                                     buckets: Self.latencyBuckets)
        queueSeconds = r.histogram("fusion_queue_duration_seconds", "Time a request waited in the dispatcher queue.",
                                   buckets: Self.latencyBuckets)
        preprocessSeconds = r.histogram("fusion_preprocess_duration_seconds", "Image decode, resize and tokenization time.",
                                        buckets: Self.latencyBuckets)
        inferenceSeconds = r.histogram("fusion_inference_duration_seconds", "Forward-pass time per batch, measured by the worker.",
                                       buckets: Self.latencyBuckets)
        batchSize = r.histogram("fusion_batch_size", "Requests per batch sent to a worker.",
                                buckets: (1...max(1, maxBatch)).map(Double.init))
        queueDepth = r.gauge("fusion_queue_depth", "Requests waiting in the dispatcher queue.")
        queueCapacity = r.gauge("fusion_queue_capacity", "Capacity of the dispatcher queue (--max-queue).")
        workersReady = r.gauge("fusion_workers_ready", "Worker processes ready to take batches.")
        workerInFlight = r.gauge("fusion_worker_in_flight", "Requests sent to a worker and not answered yet.", labels: ["worker"])
        workerReady = r.gauge("fusion_worker_ready", "1 when the worker is ready, else 0.", labels: ["worker"])
        workerBusySeconds = r.counter("fusion_worker_busy_seconds_total", "Time the worker spent in forward passes.",
                                      labels: ["worker"])
        workerBatches = r.counter("fusion_worker_batches_total", "Batches the worker answered.", labels: ["worker"])
        workerRestarts = r.counter("fusion_worker_restarts_total", "Times the worker process was restarted after it ended.",
                                   labels: ["worker"])
        workerTimeouts = r.counter("fusion_worker_timeouts_total",
                                   "Times the worker was killed because it did not answer a batch, or did not become ready, within --worker-timeout-s.",
                                   labels: ["worker"])
        workerStalled = r.gauge("fusion_worker_stalled",
                                "1 while the worker holds a batch longer than max(--worker-stall-ms, 10x its recent p99 batch time).",
                                labels: ["worker"])
        workerStalls = r.counter("fusion_worker_stalls_total", "Times the worker became stalled.", labels: ["worker"])
        workersHealthy = r.gauge("fusion_workers_healthy", "Workers ready and not stalled; /healthz answers 503 at 0.")
        retriedRequests = r.counter("fusion_retried_requests_total",
                                    "Requests re-sent to another worker because the worker holding them died.")
        imagesRejected = r.counter("fusion_images_rejected_total",
                                   "Images refused before decoding: too_large (over --max-image-pixels, 422) or large_lane_full (503).",
                                   labels: ["reason"])
        imagesThrottled = r.counter("fusion_images_throttled_total",
                                    "Images over --large-image-pixels sent to the one-thread large-image lane.")
        largeImageLaneDepth = r.gauge("fusion_large_image_lane_depth", "Large images waiting or decoding in the lane.")
        connectionsOpen = r.gauge("fusion_http_connections_open", "Open HTTP connections.")
        requestsCancelled = r.counter("fusion_requests_cancelled_total",
                                      "Requests dropped uncomputed because their client went away, by stage: preprocess (before decoding or queueing), queue (before their batch formed).",
                                      labels: ["stage"])
        http = HTTPLayerMetrics(registry: r)
        draining = r.gauge("fusion_draining", "1 while the server drains after SIGTERM/SIGINT.")
        modelReloads = r.counter("fusion_model_reloads_total",
                                 "Model reloads (SIGHUP, POST /v2/repository/models/{name}/load) by result: success (an unchanged directory included) or failure (the previous model kept serving).",
                                 labels: ["result"])
        // Both series from the start, so a rate() or an alert sees 0 rather than no data.
        modelReloads.increment(["success"], by: 0)
        modelReloads.increment(["failure"], by: 0)
    }
}

/// The HTTP server's own counters (limits, refusals, timeouts), copied from
/// `HTTPServer.metrics` at each scrape.
public struct HTTPLayerMetrics: Sendable {
    public let connectionsRejected: CounterMetric
    public let connectionsEvicted: CounterMetric
    public let bufferedBodyBytes: GaugeMetric
    public let bufferedBodyBytesLimit: GaugeMetric
    public let bodiesRefused: CounterMetric
    public let abandonedRequests: CounterMetric
    public let timeouts: CounterMetric
    public let parseErrors: CounterMetric
    public let tlsHandshakes: CounterMetric

    init(registry r: MetricsRegistry) {
        connectionsRejected = r.counter("fusion_http_connections_rejected_total",
                                        "Connections refused with 503: every slot busy (limit) or the address at --max-connections-per-ip (per_ip).",
                                        labels: ["reason"])
        connectionsEvicted = r.counter("fusion_http_connections_evicted_total",
                                       "Idle connections closed to admit a new one at --max-connections.")
        bufferedBodyBytes = r.gauge("fusion_http_buffered_body_bytes", "Request body bytes held now (declared lengths of bodies being read, and bodies not answered yet).")
        bufferedBodyBytesLimit = r.gauge("fusion_http_buffered_body_bytes_limit", "The body-bytes budget (--max-buffered-bytes).")
        bodiesRefused = r.counter("fusion_http_bodies_refused_total", "Requests refused with 503 server_busy because their body would exceed --max-buffered-bytes.")
        abandonedRequests = r.counter("fusion_http_requests_abandoned_total", "Requests dropped unfinished because the client closed its sending side mid-request.")
        timeouts = r.counter("fusion_http_timeouts_total", "Connections cut off, by reason: header, body, write, idle, drain.", labels: ["reason"])
        tlsHandshakes = r.counter("fusion_http_tls_handshakes_total",
                                  "TLS handshakes by result: ok (full), resumed (from a ticket), failed (plain HTTP, old protocol, no client certificate, …).",
                                  labels: ["result"])
        parseErrors = r.counter("fusion_http_parse_errors_total", "Requests refused by the HTTP parser, by error code (request_timeout for 408s).", labels: ["code"])
    }
}
