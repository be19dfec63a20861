import Foundation

extension ModelConfig {
    /// Largest `config.json` accepted; real ones are a few hundred bytes.
    public static let maxFileSize = 1 << 20

    /// Reads, decodes and validates the `config.json` at `path`.
    public static func load(path: String) throws(ModelError) -> ModelConfig {
        guard FileManager.default.fileExists(atPath: path) else { throw .io(path: path, reason: "file does not exist") }
        let data: Data
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let size = attributes[.size] as? Int, size > maxFileSize {
                throw ModelError.invalidConfig(path: path, reason: "file is \(size) bytes, larger than the \(maxFileSize)-byte limit")
            }
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch let error as ModelError {
            throw error
        } catch {
            throw .io(path: path, reason: "cannot read: \((error as NSError).localizedDescription)")
        }
        guard data.count <= maxFileSize else {
            throw .invalidConfig(path: path, reason: "file is larger than the \(maxFileSize)-byte limit")
        }
        return try decode(data, path: path)
    }

    /// Decodes and validates a configuration; `path` names it in errors.
    public static func decode(_ data: Data, path: String = "config.json") throws(ModelError) -> ModelConfig {
        let config: ModelConfig
        do {
            config = try JSONDecoder().decode(ModelConfig.self, from: data)
        } catch let error as DecodingError {
            throw .invalidConfig(path: path, reason: describe(error, syntaxValid: (try? JSONSerialization.jsonObject(with: data)) != nil))
        } catch {
            throw .invalidConfig(path: path, reason: "\(error)")
        }
        try config.validate(path: path)
        return config
    }

    private static func describe(_ error: DecodingError, syntaxValid: Bool) -> String {
        func field(_ path: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = (path + (last.map { [$0] } ?? [])).map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            return keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case let .keyNotFound(key, context):
            return "missing field \(field(context.codingPath, key))"
        case let .typeMismatch(_, context) where context.codingPath.isEmpty:
            return "top level must be a JSON object"
        case let .typeMismatch(type, context):
            return "field \(field(context.codingPath)) must be \(typeName(type))"
        case let .valueNotFound(type, context):
            return "field \(field(context.codingPath)) must be \(typeName(type)), not null"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                // swift-corelibs-foundation reports a number that does not fit the field's type
                // (8.5 for an integer) this way, without the field's path.
                return syntaxValid ? "a number does not fit its field (integer fields need whole numbers)" : "not valid JSON"
            }
            return "field \(field(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type: return "an integer"
        case is Float.Type, is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        default: return type is any Collection.Type ? "an array" : "an object"
        }
    }
}
