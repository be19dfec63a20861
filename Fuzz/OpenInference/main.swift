#if canImport(Glibc)
import Glibc
#endif
import CFuzzerDriver
import Model
import Serving

/// libFuzzer entry: an Open Inference Protocol `POST /v2/models/{name}/infer` body (JSON
/// inference header plus binary tensor data, `OpenInferenceRequest`) and its mapping onto a
/// small model's inputs (`OpenInferenceModel.items`).
///
/// The first byte picks how `Inference-Header-Content-Length` is sent: none (the whole body is
/// JSON), the true length of the JSON object at the start of the input, or a length taken from
/// the next two bytes. Any input must give tensors whose element counts equal their shapes, and
/// items the workers can run (token ids inside the vocabulary, at most the model's positions,
/// the right pixel count), or a 4xx; never a crash or a 5xx.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOpenInference(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    guard let mode = input.first else { return 0 }
    var body = Array(input.dropFirst())
    var lengths: [String] = []
    switch mode % 3 {
    case 0:
        break
    case 1:
        // The JSON object ends at the first "}" that closes the outermost brace.
        var depth = 0
        for (i, byte) in body.enumerated() {
            if byte == UInt8(ascii: "{") { depth += 1 }
            if byte == UInt8(ascii: "}") { depth -= 1; if depth == 0 { lengths = ["\(i + 1)"]; break } }
        }
    default:
        guard body.count >= 2 else { return 0 }
        lengths = ["\(Int(body[0]) << 8 | Int(body[1]))"]
        body.removeFirst(2)
    }
    do {
        let request = try OpenInferenceRequest.parse(body: body, headerLength: lengths, contentEncoding: nil)
        for tensor in request.inputs {
            precondition(tensor.values.count == tensor.shape.reduce(1, *), "\(tensor.name): elements disagree with the shape")
        }
        let (items, _) = try model.items(for: request)
        precondition((1...model.maxRequestItems).contains(items.count), "\(items.count) items")
        for item in items {
            switch item {
            case .encoded(let raw):
                precondition(raw.image.count <= body.count, "image longer than the body")
            case .tensors(let payload):
                guard case .tensor(let pixels) = payload.image else { preconditionFailure("v2 pixel_values must stay a float tensor") }
                precondition(pixels.count == 3 * 8 * 8 && pixels.allSatisfy(\.isFinite), "pixels")
                precondition((1...16).contains(payload.tokenIds.count), "\(payload.tokenIds.count) tokens")
                precondition(payload.tokenIds.allSatisfy { $0 >= 0 && $0 < 50 }, "token outside the vocabulary")
            }
        }
    } catch {
        precondition((400..<500).contains(error.status.code), "status \(error.status.code) for a bad body")
    }
    return 0
}

/// 8×8 images, a 50-token vocabulary, 16 positions, 4 items per request.
let model: OpenInferenceModel = {
    let config = ModelConfig(
        name: "fuzz", labels: ["a", "b"],
        imageEncoder: ImageEncoderConfig(imageSize: 8, patchSize: 4, hiddenSize: 8, numLayers: 1, numHeads: 2,
                                         intermediateSize: 16, layerNormEps: 1e-12),
        textEncoder: TextEncoderConfig(vocabSize: 50, hiddenSize: 8, numLayers: 1, numHeads: 2,
                                       intermediateSize: 16, maxPositionEmbeddings: 16, layerNormEps: 1e-12),
        fusion: FusionConfig(hiddenSize: 8, numHeads: 2, gateHidden: 4))
    let settings = ServiceSettings(requestTimeout: .seconds(1), maxBatch: 4, maxDelayMilliseconds: 0, maxQueue: 8,
                                   maxBodyBytes: 1 << 20, router: .leastLoaded, workerCount: 1, maxRequestItems: 4)
    return OpenInferenceModel(config: config, settings: settings)
}()

// SwiftPM gives the executable its own `main` (this file's top-level code), so it hands the
// command line to libFuzzer's driver (Fuzz/CFuzzerDriver) rather than linking libFuzzer's.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOpenInference))
