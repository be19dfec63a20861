import ArgumentParser
import Foundation
import Histogram
import JSON
import Serving

/// `fusion-serve bench`: a load generator for a running server (like Triton's perf_analyzer).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load-test a running server's POST /infer (or the v2 infer route): closed loop (N concurrent) or open loop (fixed rate).",
        discussion: """
        Closed loop: --concurrency N clients each send the next request when the last is answered. \
        Open loop: --rate R requests per second whatever the answers, latency measured from each \
        request's intended send time so queueing is not hidden. Prints throughput, HdrHistogram \
        percentiles (p50/p90/p99/p99.9), errors by status, mean batch size and requests per worker. \
        --protocol v2 sends POST /v2/models/{name}/infer with the image and text as binary tensor \
        data, --items copies per request (the Open Inference Protocol, as Triton's perf_analyzer).
        """)

    @Option(help: "Server host.") var host = "127.0.0.1"
    @Option(help: "Server port.") var port: Int = 8080
    @Option(help: "Image file sent with every request.") var image: String
    @Option(help: "Text sent with every request.") var text = "a red circle"
    @Option(help: "Closed loop: concurrent clients (default 8 unless --rate).") var concurrency: Int?
    @Option(help: "Open loop: requests per second.") var rate: Double?
    @Option(help: "Open loop: connections (requests outstanding at once).") var connections: Int = 64
    @Option(help: "Measured seconds.") var duration: Double = 10
    @Option(help: "Warm-up seconds (not counted).") var warmup: Double = 2
    @Option(help: "Client timeout per request.") var timeoutMs: Int = 30_000
    @Flag(help: "Print the report as one JSON object.") var json = false
    @Option(name: .customLong("protocol"),
            help: "v1: POST /infer with JSON and a base64 image; v2: the Open Inference Protocol with binary tensors.")
    var wireProtocol = "v1"
    @Option(help: "v2: items (batch dimension N) per request.") var items = 1
    @Option(help: "v2: the model's name (default: the name GET /v1/model reports).")
    var modelName: String?

    func validate() throws {
        guard (1...65535).contains(port) else { throw ValidationError("--port: must be between 1 and 65535") }
        if let rate, rate <= 0 { throw ValidationError("--rate: must be positive") }
        if let concurrency, concurrency < 1 { throw ValidationError("--concurrency: must be at least 1") }
        if concurrency != nil && rate != nil { throw ValidationError("--concurrency and --rate exclude each other") }
        guard duration > 0, warmup >= 0 else { throw ValidationError("--duration must be positive, --warmup not negative") }
        guard connections >= 1 else { throw ValidationError("--connections: must be at least 1") }
        guard ["v1", "v2"].contains(wireProtocol) else { throw ValidationError("--protocol: v1 or v2, not \(wireProtocol)") }
        guard (1...4096).contains(items) else { throw ValidationError("--items: must be between 1 and 4096") }
        if items > 1 && wireProtocol != "v2" { throw ValidationError("--items needs --protocol v2") }
    }

    func run() throws {
        guard let bytes = FileManager.default.contents(atPath: image) else {
            throw ValidationError("--image: cannot read \(image)")
        }
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let request: [UInt8]
        if wireProtocol == "v2" {
            request = BenchRequests.openInference(host: host, model: try modelName ?? servedModelName(), image: [UInt8](bytes),
                                                  text: text, items: items)
        } else {
            let body = Array(#"{"image":"\#(bytes.base64EncodedString())","text":"\#(escaped)"}"#.utf8)
            request = Array("POST /infer HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        }
        let mode: LoadMode = rate.map { .openLoop(ratePerSecond: $0, connections: connections) }
            ?? .closedLoop(concurrency: concurrency ?? 8)

        var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        var statuses: [Int: Int] = [:]
        var batchSum = 0
        var batched = 0
        var perWorker: [Int: Int] = [:]
        let generator = LoadGenerator(
            configuration: .init(host: host, port: UInt16(port), request: request, mode: mode, durationSeconds: duration,
                                 warmupSeconds: warmup, timeoutMilliseconds: timeoutMs)
        ) { sample in
            guard !sample.warmup else { return }
            _ = histogram.record(max(1, sample.latency.unsignedNanoseconds / 1000))   // microseconds
            statuses[sample.status, default: 0] += 1
            if let size = sample.batchSize { batchSum += size; batched += 1 }
            if let worker = sample.worker { perWorker[worker, default: 0] += 1 }
        }
        let seconds = generator.run()
        let total = statuses.values.reduce(0, +)
        let ok = statuses[200] ?? 0
        func ms(_ p: Double) -> Double { Double(histogram.valueAtPercentile(p)) / 1000 }
        let modeText: String
        switch mode {
        case .closedLoop(let n): modeText = "closed loop, \(n) concurrent"
        case .openLoop(let r, let c): modeText = "open loop, \(r) req/s over up to \(c) connections"
        }
        let errors = statuses.filter { $0.key != 200 }.sorted { $0.key < $1.key }
        if json {
            let errorText = errors.map { "\"\($0.key == 0 ? "transport" : "\($0.key)")\":\($0.value)" }.joined(separator: ",")
            let workerText = perWorker.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
            print(#"{"mode":"\#(modeText)","protocol":"\#(wireProtocol)","items_per_request":\#(items),"item_throughput":\#(Double(ok * items) / seconds),"seconds":\#(seconds),"requests":\#(total),"ok":\#(ok),"throughput":\#(Double(ok) / seconds),"p50_ms":\#(ms(50)),"p90_ms":\#(ms(90)),"p99_ms":\#(ms(99)),"p999_ms":\#(ms(99.9)),"max_ms":\#(Double(histogram.max) / 1000),"mean_batch":\#(batched > 0 ? Double(batchSum) / Double(batched) : 0),"errors":{\#(errorText)},"per_worker":{\#(workerText)}}"#)
            return
        }
        print("fusion-serve bench: \(modeText), \(String(format: "%.1f", seconds)) s measured after \(warmup) s warm-up")
        print("requests \(total), ok \(ok), throughput \(String(format: "%.1f", Double(ok) / seconds)) req/s"
              + (items > 1 ? String(format: " = %.1f items/s (%d per request)", Double(ok * items) / seconds, items) : ""))
        print(String(format: "latency ms  p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  mean %.2f",
                     ms(50), ms(90), ms(99), ms(99.9), Double(histogram.max) / 1000, histogram.mean / 1000))
        if batched > 0 { print(String(format: "mean batch size %.2f", Double(batchSum) / Double(batched))) }
        if !perWorker.isEmpty {
            print("requests per worker: " + perWorker.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        }
        print(errors.isEmpty ? "errors: none"
              : "errors: " + errors.map { "\($0.key == 0 ? "transport" : "\($0.key)") × \($0.value)" }.joined(separator: ", "))
    }

    /// The model name the server reports at `GET /v1/model` (for the v2 path).
    private func servedModelName() throws -> String {
        let client = try BenchClient(host: host, port: UInt16(port), timeoutMilliseconds: timeoutMs)
        let response = try client.exchange(Array("GET /v1/model HTTP/1.1\r\nHost: \(host)\r\n\r\n".utf8))
        guard response.status == 200, let json = try? JSONParser.parse(response.body), case .string(let name)? = json["name"] else {
            throw ValidationError("GET /v1/model answered \(response.status); give the model's name with --model-name")
        }
        return name
    }
}
