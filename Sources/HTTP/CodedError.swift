/// The kind of a `CodedError`; its raw value is the stable snake_case code (the JSON error
/// `code`, also a `/metrics` label).
public protocol ErrorKind: RawRepresentable, Hashable, Sendable, CaseIterable where RawValue == String {
    /// The error's one-line description from its detail (default `"code: detail"`).
    func describe(_ detail: String) -> String
}

extension ErrorKind {
    public func describe(_ detail: String) -> String { "\(rawValue): \(detail)" }
}

/// A refusal of client input: what kind of failure (with its stable code) and a human detail.
/// The one shape of `HTTPParseError` and `MultipartError`.
public struct CodedError<K: ErrorKind>: Error, CustomStringConvertible, Hashable, Sendable {
    /// The kind of failure.
    public typealias Kind = K

    /// What went wrong.
    public let kind: Kind
    /// Specifics for logs and the error message (e.g. the part index).
    public let detail: String

    /// Creates an error.
    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    /// The snake_case code (`kind.rawValue`).
    public var code: String { kind.rawValue }

    /// `"malformed_multipart_body: part 2: header line without a colon"`.
    public var description: String { kind.describe(detail) }
}
