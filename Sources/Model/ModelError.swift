import Tensors

/// Why a model could not be loaded or run. Every case names the file, field or tensor at fault.
public enum ModelError: Error, CustomStringConvertible {
    /// A file of the model directory could not be read.
    case io(path: String, reason: String)
    /// `config.json` is not valid JSON, misses a field, or a value breaks a rule.
    case invalidConfig(path: String, reason: String)
    /// A safetensors file is malformed or a tensor cannot be loaded.
    case weights(SafetensorsError)
    /// A tensor the model needs is in none of the weight files.
    case missingTensor(name: String, files: [String])
    /// A tensor has a different shape than the configuration implies.
    case wrongShape(name: String, file: String, expected: [Int], actual: [Int])
    /// Two weight entries provide the same (prefixed) tensor name.
    case duplicateTensor(name: String, first: String, second: String)
    /// A request of a batch is not a valid input for this model.
    case invalidInput(index: Int, reason: String)
    /// This machine cannot run the model in the requested precision.
    case unsupportedPrecision(Precision, reason: String)
    /// This machine cannot run the requested backend.
    case unsupportedBackend(Backend, reason: String)

    public var description: String {
        switch self {
        case let .io(path, reason):
            return "\(path): \(reason)"
        case let .invalidConfig(path, reason):
            return "\(path): \(reason)"
        case let .weights(error):
            return error.description
        case let .missingTensor(name, files):
            return "tensor \"\(name)\" is missing (looked in \(files.joined(separator: ", ")))"
        case let .wrongShape(name, file, expected, actual):
            return "\(file): tensor \"\(name)\" has shape \(actual), the configuration needs \(expected)"
        case let .duplicateTensor(name, first, second):
            return "tensor \"\(name)\" is provided by both \(first) and \(second)"
        case let .invalidInput(index, reason):
            return "input \(index): \(reason)"
        case let .unsupportedPrecision(precision, reason):
            return "precision \(precision) cannot run here: \(reason)"
        case let .unsupportedBackend(backend, reason):
            return "backend \(backend) cannot run here: \(reason)"
        }
    }
}
