import Foundation

/// A metric family: one name, one type, one set of label names, a value per label set.
public class MetricFamily: @unchecked Sendable {
    public let name: String
    public let help: String
    public let labelNames: [String]
    let lock = NSLock()

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    var typeName: String { "untyped" }

    func renderSamples(into out: inout String) {}

    func labelText(_ values: [String], extra: (String, String)? = nil) -> String {
        var pairs = zip(labelNames, values).map { ($0, $1) }
        if let extra { pairs.append(extra) }
        guard !pairs.isEmpty else { return "" }
        return "{" + pairs.map { "\($0)=\"\(Self.escape($1))\"" }.joined(separator: ",") + "}"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}

/// A monotonically increasing count.
public final class CounterMetric: MetricFamily, @unchecked Sendable {
    private var values: [[String]: Double] = [:]
    override var typeName: String { "counter" }

    /// Adds `amount` (≥ 0) to the series with `labels` (in `labelNames` order).
    public func increment(_ labels: [String] = [], by amount: Double = 1) {
        lock.lock()
        values[labels, default: 0] += max(0, amount)
        lock.unlock()
    }

    /// Sets a series from an external monotonic count (e.g. a worker's restarts).
    public func set(_ labels: [String] = [], to value: Double) {
        lock.lock()
        values[labels] = value
        lock.unlock()
    }

    /// The current value of a series.
    public func value(_ labels: [String] = []) -> Double {
        lock.lock()
        defer { lock.unlock() }
        return values[labels] ?? 0
    }

    override func renderSamples(into out: inout String) {
        lock.lock()
        let snapshot = values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        lock.unlock()
        for (labels, value) in snapshot { out += "\(name)\(labelText(labels)) \(Self.format(value))\n" }
    }
}

/// A value that goes up and down.
public final class GaugeMetric: MetricFamily, @unchecked Sendable {
    private var values: [[String]: Double] = [:]
    override var typeName: String { "gauge" }

    /// Sets the series with `labels`.
    public func set(_ labels: [String] = [], to value: Double) {
        lock.lock()
        values[labels] = value
        lock.unlock()
    }

    /// The current value of a series.
    public func value(_ labels: [String] = []) -> Double {
        lock.lock()
        defer { lock.unlock() }
        return values[labels] ?? 0
    }

    override func renderSamples(into out: inout String) {
        lock.lock()
        let snapshot = values.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        lock.unlock()
        for (labels, value) in snapshot { out += "\(name)\(labelText(labels)) \(Self.format(value))\n" }
    }
}

/// Counts observations into cumulative buckets (Prometheus histogram).
public final class HistogramMetric: MetricFamily, @unchecked Sendable {
    public let buckets: [Double]
    private struct Series { var counts: [UInt64]; var sum: Double; var count: UInt64 }
    private var series: [[String]: Series] = [:]
    override var typeName: String { "histogram" }

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.buckets = buckets.sorted()
        super.init(name: name, help: help, labelNames: labelNames)
    }

    /// Records one observation.
    public func observe(_ value: Double, _ labels: [String] = []) {
        lock.lock()
        var s = series[labels] ?? Series(counts: Array(repeating: 0, count: buckets.count), sum: 0, count: 0)
        if let index = buckets.firstIndex(where: { value <= $0 }) { s.counts[index] += 1 }
        s.sum += value
        s.count += 1
        series[labels] = s
        lock.unlock()
    }

    /// Observations recorded in a series.
    public func count(_ labels: [String] = []) -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return series[labels]?.count ?? 0
    }

    override func renderSamples(into out: inout String) {
        lock.lock()
        let snapshot = series.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        lock.unlock()
        for (labels, s) in snapshot {
            var cumulative: UInt64 = 0
            for (bound, n) in zip(buckets, s.counts) {
                cumulative += n
                out += "\(name)_bucket\(labelText(labels, extra: ("le", Self.format(bound)))) \(cumulative)\n"
            }
            out += "\(name)_bucket\(labelText(labels, extra: ("le", "+Inf"))) \(s.count)\n"
            out += "\(name)_sum\(labelText(labels)) \(Self.format(s.sum))\n"
            out += "\(name)_count\(labelText(labels)) \(s.count)\n"
        }
    }
}

/// A small Prometheus registry: families in registration order, plus collectors that refresh
/// gauges from live state right before each scrape.
public final class MetricsRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var families: [MetricFamily] = []
    private var collectors: [@Sendable () -> Void] = []

    /// An empty registry.
    public init() {}

    private func register<F: MetricFamily>(_ family: F) -> F {
        lock.lock()
        families.append(family)
        lock.unlock()
        return family
    }

    /// Registers a counter family.
    public func counter(_ name: String, _ help: String, labels: [String] = []) -> CounterMetric {
        register(CounterMetric(name: name, help: help, labelNames: labels))
    }

    /// Registers a gauge family.
    public func gauge(_ name: String, _ help: String, labels: [String] = []) -> GaugeMetric {
        register(GaugeMetric(name: name, help: help, labelNames: labels))
    }

    /// Registers a histogram family with upper bucket bounds.
    public func histogram(_ name: String, _ help: String, labels: [String] = [], buckets: [Double]) -> HistogramMetric {
        register(HistogramMetric(name: name, help: help, labelNames: labels, buckets: buckets))
    }

    /// Runs `collect` before every render (to copy live state into gauges).
    public func addCollector(_ collect: @escaping @Sendable () -> Void) {
        lock.lock()
        collectors.append(collect)
        lock.unlock()
    }

    /// The text exposition format (version 0.0.4).
    public func render() -> String {
        lock.lock()
        let families = self.families
        let collectors = self.collectors
        lock.unlock()
        for collect in collectors { collect() }
        var out = ""
        for family in families {
            out += "# HELP \(family.name) \(family.help)\n"
            out += "# TYPE \(family.name) \(family.typeName)\n"
            family.renderSamples(into: &out)
        }
        return out
    }
}
