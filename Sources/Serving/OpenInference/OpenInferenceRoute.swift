/// A path of the Open Inference Protocol (everything at `/v2` and under `/v2/`).
public enum OpenInferenceRoute: Equatable, Sendable {
    /// `GET /v2`: server metadata.
    case server
    /// `GET /v2/health/live`.
    case live
    /// `GET /v2/health/ready`.
    case ready
    /// `GET /v2/models/stats`: statistics of every model.
    case allStatistics
    /// `/v2/models/{name}[/versions/{version}][/ready|/config|/stats|/infer]`.
    case model(name: String, version: String?, action: ModelAction)
    /// Any other path under `/v2` (404).
    case unknown

    /// What a model path asks for.
    public enum ModelAction: String, Sendable {
        case metadata, ready, config, stats, infer
    }

    /// Whether `path` belongs to the protocol: `/v2` and everything under `/v2/`.
    public static func isProtocolPath(_ path: some StringProtocol) -> Bool {
        path == "/v2" || path.hasPrefix("/v2/")
    }

    /// The route of a protocol path (`unknown` for one it does not define).
    public init(path: some StringProtocol) {
        let segments = String(path).split(separator: "/" as Character, omittingEmptySubsequences: false).dropFirst().map(String.init)
        switch segments.count {
        case 1 where segments[0] == "v2": self = .server
        case 3 where segments[0] == "v2" && segments[1] == "health":
            switch segments[2] {
            case "live": self = .live
            case "ready": self = .ready
            default: self = .unknown
            }
        case 3...6 where segments[0] == "v2" && segments[1] == "models":
            if segments.count == 3 && segments[2] == "stats" {
                self = .allStatistics
                return
            }
            guard let name = Self.percentDecoded(segments[2]), !name.isEmpty else {
                self = .unknown
                return
            }
            var rest = segments[3...]
            var version: String?
            if rest.first == "versions" {
                guard rest.count >= 2, let decoded = Self.percentDecoded(rest[rest.startIndex + 1]), !decoded.isEmpty else {
                    self = .unknown
                    return
                }
                version = decoded
                rest = rest.dropFirst(2)
            }
            switch rest.count {
            case 0: self = .model(name: name, version: version, action: .metadata)
            case 1:
                guard let action = ModelAction(rawValue: rest[rest.startIndex]), action != ModelAction.metadata else {
                    self = .unknown
                    return
                }
                self = .model(name: name, version: version, action: action)
            default: self = .unknown
            }
        default: self = .unknown
        }
    }

    /// The methods the route takes.
    public var allowedMethods: String {
        if case .model(_, _, .infer) = self { return "POST" }
        return "GET, HEAD"
    }

    /// The route's label in `fusion_requests_total` (model names and versions left out, so
    /// the label set stays bounded whatever clients send).
    public var metricsLabel: String {
        switch self {
        case .server: return "/v2"
        case .live: return "/v2/health/live"
        case .ready: return "/v2/health/ready"
        case .allStatistics: return "/v2/models/stats"
        case .model(_, _, let action):
            return action == .metadata ? "/v2/models/{name}" : "/v2/models/{name}/\(action.rawValue)"
        case .unknown: return "other"
        }
    }

    /// `metricsLabel` of every model's infer route.
    public static let inferLabel = "/v2/models/{name}/infer"

    /// Whether the route answers without a bearer token (like `/healthz` and `/livez`).
    public var isHealthProbe: Bool { self == .live || self == .ready }

    /// `%XX` escapes decoded (tritonclient quotes model names); nil for a bad escape or
    /// bytes that are not UTF-8.
    static func percentDecoded(_ text: String) -> String? {
        guard text.contains("%") else { return text }
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
