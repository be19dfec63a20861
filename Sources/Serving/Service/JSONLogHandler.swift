import Foundation
import HTTP
import JSON
import Locking
import Logging

/// A swift-log handler writing one JSON object per line to standard error
/// (`--log-format json`), for log shippers.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private let label: String
    /// One line at a time on standard error, whichever thread logs; guards the count of lines
    /// written (a `Locked<Void>` would do, but ThreadSanitizer misreads the exclusive access to
    /// a zero-size value as a race).
    private static let linesWritten = Locked<UInt64>(0)

    /// A handler for `label`.
    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level, message = event.message, extra = event.metadata
        var fields: [(String, String)] = [
            ("ts", JSONText.string(ISO8601DateFormatter.string(from: Date(), timeZone: .gmt,
                                                               formatOptions: [.withInternetDateTime, .withFractionalSeconds]))),
            ("level", JSONText.string(level.rawValue)),
            ("logger", JSONText.string(label)),
            ("msg", JSONText.string(message.description)),
        ]
        let merged = metadata.merging(extra ?? [:]) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            if Self.numericKeys.contains(key), case .string(let text) = value, let number = Double(text), number.isFinite {
                fields.append((key, text))
            } else {
                fields.append((key, Self.encode(value)))
            }
        }
        let line = JSONText.object(fields) + "\n"
        Self.linesWritten.withLock { count in
            FileHandle.standardError.write(Data(line.utf8))
            count &+= 1
        }
    }

    /// Metadata the service logs as text that is a number by nature: written as JSON numbers
    /// (always, so a field's type never changes from line to line).
    static let numericKeys: Set<String> = ["status", "latency_ms", "batch_size", "worker", "pid", "workers",
                                           "workers_ready", "max_batch", "backoff_ms", "failures", "signal", "batch"]

    private static func encode(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s):
            return JSONText.string(s)
        case .stringConvertible(let c): return JSONText.string(c.description)
        case .array(let values): return "[" + values.map(encode).joined(separator: ",") + "]"
        case .dictionary(let dict):
            return JSONText.object(dict.sorted { $0.key < $1.key }.map { ($0.key, encode($0.value)) })
        }
    }
}
