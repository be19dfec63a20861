import Testing
@testable import Serving

@Suite struct MetricsRegistryTests {
    @Test func rendersThePrometheusTextFormat() {
        let registry = MetricsRegistry()
        let requests = registry.counter("req_total", "Requests.", labels: ["status"])
        let depth = registry.gauge("depth", "Queue depth.")
        let latency = registry.histogram("lat_seconds", "Latency.", buckets: [0.1, 1])
        requests.increment(["200"])
        requests.increment(["200"])
        requests.increment(["5\"03"])
        depth.set(to: 3)
        latency.observe(0.05)
        latency.observe(0.5)
        latency.observe(7)
        let text = registry.render()
        #expect(text.contains("# TYPE req_total counter\nreq_total{status=\"200\"} 2\nreq_total{status=\"5\\\"03\"} 1\n"))
        #expect(text.contains("# TYPE depth gauge\ndepth 3\n"))
        #expect(text.contains("lat_seconds_bucket{le=\"0.1\"} 1\nlat_seconds_bucket{le=\"1\"} 2\nlat_seconds_bucket{le=\"+Inf\"} 3\n"))
        #expect(text.contains("lat_seconds_sum 7.55\nlat_seconds_count 3\n"))
    }

    @Test func collectorsRunBeforeEachRender() {
        let registry = MetricsRegistry()
        let gauge = registry.gauge("g", "G.")
        let box = Box()
        registry.addCollector { box.value += 1; gauge.set(to: Double(box.value)) }
        _ = registry.render()
        #expect(registry.render().contains("g 2\n"))
    }

    @Test func countersNeverGoDown() {
        let registry = MetricsRegistry()
        let counter = registry.counter("c", "C.")
        counter.increment(by: 2)
        counter.increment(by: -5)
        #expect(counter.value() == 2)
    }
}

private final class Box: @unchecked Sendable { var value = 0 }
