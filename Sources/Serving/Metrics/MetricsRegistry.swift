import Locking

/// A metric family: one name, one type, one set of label names, a value per label set.
public protocol MetricFamily: AnyObject, Sendable {
    var name: String { get }
    var help: String { get }
    var labelNames: [String] { get }
    /// The Prometheus type (`counter`, `gauge`, `histogram`).
    var typeName: String { get }
    /// Appends the family's sample lines, label sets in a stable order.
    func renderSamples(into out: inout String)
}

extension MetricFamily {
    func labelText(_ values: [String], extra: (String, String)? = nil) -> String {
        var pairs = zip(labelNames, values).map { ($0, $1) }
        if let extra { pairs.append(extra) }
        guard !pairs.isEmpty else { return "" }
        return "{" + pairs.map { "\($0)=\"\(MetricText.escape($1))\"" }.joined(separator: ",") + "}"
    }
}

/// Prometheus text-format helpers.
enum MetricText {
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

/// What tells a counter from a gauge: the Prometheus type name here, and the updates it
/// allows in the extensions of `LabelledMetric`.
public protocol LabelledMetricKind: Sendable {
    /// The Prometheus type (`counter`, `gauge`).
    static var typeName: String { get }
}

/// The kind of `CounterMetric`.
public enum CounterKind: LabelledMetricKind {
    public static var typeName: String { "counter" }
}

/// The kind of `GaugeMetric`.
public enum GaugeKind: LabelledMetricKind {
    public static var typeName: String { "gauge" }
}

/// A family with one value per label set: the one body of counters and gauges, which differ
/// only in their type name and which updates they allow.
public final class LabelledMetric<Kind: LabelledMetricKind>: MetricFamily {
    public let name: String
    public let help: String
    public let labelNames: [String]
    public var typeName: String { Kind.typeName }
    private let values = Locked<[[String]: Double]>([:])

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
    }

    /// Sets the series with `labels` (in `labelNames` order); for a counter, from an external
    /// monotonic count (e.g. a worker's restarts).
    public func set(_ labels: [String] = [], to value: Double) { values.withLock { $0[labels] = value } }

    /// The current value of a series.
    public func value(_ labels: [String] = []) -> Double { values.withLock { $0[labels] ?? 0 } }

    public func renderSamples(into out: inout String) {
        let snapshot = values.withLock { $0.sorted { $0.key.lexicographicallyPrecedes($1.key) } }
        for (labels, value) in snapshot {
            out += "\(name)\(labelText(labels)) \(MetricText.format(value))\n"
        }
    }

    fileprivate func add(_ labels: [String], _ amount: Double) { values.withLock { $0[labels, default: 0] += amount } }
}

extension LabelledMetric where Kind == CounterKind {
    /// Adds `amount` (≥ 0) to the series with `labels` (in `labelNames` order).
    public func increment(_ labels: [String] = [], by amount: Double = 1) { add(labels, max(0, amount)) }
}

/// A monotonically increasing count.
public typealias CounterMetric = LabelledMetric<CounterKind>

/// A value that goes up and down.
public typealias GaugeMetric = LabelledMetric<GaugeKind>

/// Counts observations into cumulative buckets (Prometheus histogram).
public final class HistogramMetric: MetricFamily {
    public let name: String
    public let help: String
    public let labelNames: [String]
    public var typeName: String { "histogram" }
    public let buckets: [Double]
    private struct Series { var counts: [UInt64]; var sum: Double; var count: UInt64 }
    private let series = Locked<[[String]: Series]>([:])

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.buckets = buckets.sorted()
    }

    /// Records one observation.
    public func observe(_ value: Double, _ labels: [String] = []) {
        let index = buckets.firstIndex(where: { value <= $0 })
        let bucketCount = buckets.count
        series.withLock { series in
            var s = series[labels] ?? Series(counts: Array(repeating: 0, count: bucketCount), sum: 0, count: 0)
            if let index { s.counts[index] += 1 }
            s.sum += value
            s.count += 1
            series[labels] = s
        }
    }

    /// Observations recorded in a series.
    public func count(_ labels: [String] = []) -> UInt64 {
        series.withLock { $0[labels]?.count ?? 0 }
    }

    public func renderSamples(into out: inout String) {
        let snapshot = series.withLock { $0.sorted { $0.key.lexicographicallyPrecedes($1.key) } }
        for (labels, s) in snapshot {
            var cumulative: UInt64 = 0
            for (bound, n) in zip(buckets, s.counts) {
                cumulative += n
                out += "\(name)_bucket\(labelText(labels, extra: ("le", MetricText.format(bound)))) \(cumulative)\n"
            }
            out += "\(name)_bucket\(labelText(labels, extra: ("le", "+Inf"))) \(s.count)\n"
            out += "\(name)_sum\(labelText(labels)) \(MetricText.format(s.sum))\n"
            out += "\(name)_count\(labelText(labels)) \(s.count)\n"
        }
    }
}

/// A small Prometheus registry: families in registration order, plus collectors that refresh
/// gauges from live state right before each scrape.
public final class MetricsRegistry: Sendable {
    private struct State {
        var families: [any MetricFamily] = []
        var collectors: [@Sendable () -> Void] = []
    }

    private let state = Locked(State())

    /// An empty registry.
    public init() {}

    private func register<F: MetricFamily>(_ family: F) -> F {
        state.withLock { $0.families.append(family) }
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
        state.withLock { $0.collectors.append(collect) }
    }

    /// The text exposition format (version 0.0.4).
    public func render() -> String {
        let (families, collectors) = state.withLock { ($0.families, $0.collectors) }
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
