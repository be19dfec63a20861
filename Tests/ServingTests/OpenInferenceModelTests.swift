import Foundation
import JSON
import Model
import Testing
@testable import Serving

private func tinyModel(maxRequestItems: Int = 4) throws -> OpenInferenceModel {
    let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
    let settings = ServiceSettings(requestTimeout: .seconds(5), maxBatch: 8, maxDelayMilliseconds: 2, maxQueue: 16,
                                   maxBodyBytes: 1 << 20, router: .leastLoaded, workerCount: 3, maxRequestItems: maxRequestItems)
    return OpenInferenceModel(config: config, settings: settings)
}

private func bytes(_ name: String, _ values: [[UInt8]], shape: [Int]? = nil, json: Bool = false) -> InputTensor {
    InputTensor(name: name, datatype: .bytes, shape: shape ?? [values.count], values: .bytes(values), fromJSON: json)
}

private func text(_ values: String...) -> InputTensor { bytes("text", values.map { Array($0.utf8) }) }

private func outcome(_ model: OpenInferenceModel, _ inputs: [InputTensor], outputs: [RequestedOutput]? = nil) -> String {
    do {
        let items = try model.items(for: OpenInferenceRequest(inputs: inputs, outputs: outputs)).items
        return "\(items.count) items"
    } catch {
        return "\(error.status.code) \(error.message)"
    }
}

/// Tensors of the tiny model: 32×32 pixels, 120-token vocabulary, 64 positions.
private func tensors(_ n: Int, length: Int, ids: [Int64]? = nil, mask: [Int64]? = nil,
                     pixels: [Float]? = nil) -> [InputTensor] {
    var inputs = [
        InputTensor(name: "pixel_values", datatype: .fp32, shape: [n, 3, 32, 32],
                    values: .fp32(pixels ?? (0..<(n * 3 * 32 * 32)).map { Float($0 % 7) / 7 }), fromJSON: false),
        InputTensor(name: "input_ids", datatype: .int64, shape: [n, length],
                    values: .int64(ids ?? (0..<(n * length)).map { Int64($0 % 100) }), fromJSON: false),
    ]
    if let mask {
        inputs.append(InputTensor(name: "attention_mask", datatype: .int32, shape: [n, length], values: .int64(mask), fromJSON: false))
    }
    return inputs
}

@Suite struct OpenInferenceModelTests {
    @Test func imageAndTextBecomeOneInferRequestPerItem() throws {
        let model = try tinyModel()
        let images: [[UInt8]] = [[0xFF, 0xD8, 1], [0x89, 0x50, 2]]
        let request = OpenInferenceRequest(inputs: [text("a cat", "a dog"), bytes("image", images, shape: [2, 1])],
                                           outputs: [RequestedOutput(name: "label")])
        let (items, embedding) = try model.items(for: request)
        #expect(!embedding, "the embedding is computed only when asked for")
        #expect(items == [.encoded(InferRequest(image: images[0], text: "a cat")), .encoded(InferRequest(image: images[1], text: "a dog"))])
        // A JSON image element is base64; with no outputs named, every one (embedding too) comes back.
        let json = OpenInferenceRequest(inputs: [bytes("image", [Array("/9gB".utf8)], json: true), text("x")])
        let decoded = try model.items(for: json)
        #expect(decoded.items == [.encoded(InferRequest(image: [0xFF, 0xD8, 0x01], text: "x", returnEmbedding: true))])
        #expect(decoded.returnEmbedding)
    }

    @Test func refusesInputsThatDoNotFitTheModelNamingWhatIsWrong() throws {
        let model = try tinyModel()
        let image = bytes("image", [[1]])
        #expect(outcome(model, [bytes("picture", [[1]]), text("a")]) == "400 unexpected inference input 'picture' for model 'tiny-f32'")
        #expect(outcome(model, [image]).hasPrefix("400 model 'tiny-f32' needs the input text"))
        #expect(outcome(model, [text("a")]).hasPrefix("400 model 'tiny-f32' needs the input image"))
        #expect(outcome(model, [image, text("a", "b")]).contains("have 1 and 2 items"))
        #expect(outcome(model, [bytes("image", [[1]], shape: [1, 2]), text("a")]).contains("must have shape [N] or [N,1]"))
        #expect(outcome(model, [bytes("image", [], shape: [0]), bytes("text", [], shape: [0])]).contains("1 to 4"))
        let five = (0..<5).map { _ in [UInt8(1)] }
        #expect(outcome(model, [bytes("image", five), bytes("text", five)]).contains("has 5 items; a request holds 1 to 4"))
        #expect(outcome(model, [image, InputTensor(name: "text", datatype: .fp32, shape: [1], values: .fp32([1]), fromJSON: false)])
                .contains("'text' must be BYTES, not FP32"))
        #expect(outcome(model, [image, bytes("text", [[0xC3]])]) == "400 item 0: input 'text' is not valid UTF-8")
        #expect(outcome(model, [bytes("image", [Array("*!".utf8)], json: true), text("a")]).contains("item 0: input 'image' sent as JSON must be base64"))
        #expect(outcome(model, [image, text("a")] + tensors(1, length: 2)).contains("not a mix"))
        #expect(outcome(model, [image, text("a")], outputs: [RequestedOutput(name: "probs")])
                .hasPrefix("400 unexpected inference output 'probs' for model 'tiny-f32'"))
    }

    @Test func preprocessedTensorsBecomePayloadsUpToTheMask() throws {
        let model = try tinyModel()
        let ids: [Int64] = [101, 7, 102, 0, 101, 5, 6, 102]
        let request = OpenInferenceRequest(inputs: tensors(2, length: 4, ids: ids, mask: [1, 1, 1, 0, 1, 1, 1, 1]),
                                           outputs: [RequestedOutput(name: "embedding")])
        let (items, embedding) = try model.items(for: request)
        #expect(embedding)
        guard case .tensors(let first) = items[0], case .tensors(let second) = items[1] else { Issue.record("\(items)"); return }
        #expect(first.tokenIds == [101, 7, 102] && second.tokenIds == [101, 5, 6, 102])
        #expect(first.image.floats.count == 3 * 32 * 32 && first.returnEmbedding)
        #expect(second.image.floats.first == Float(3 * 32 * 32 % 7) / 7, "item 1 starts where item 0's pixels end")
        // Without a mask every token counts; INT32 ids are fine too.
        let int32 = [tensors(1, length: 3)[0],
                     InputTensor(name: "input_ids", datatype: .int32, shape: [1, 3], values: .int64([1, 2, 3]), fromJSON: false)]
        #expect(try model.items(for: OpenInferenceRequest(inputs: int32)).items.count == 1)
    }

    @Test func refusesTensorsTheWorkersWouldChokeOn() throws {
        let model = try tinyModel()
        #expect(outcome(model, tensors(1, length: 2, ids: [1, 120])).contains("item 0: input 'input_ids' holds 120, outside the vocabulary (0..<120)"))
        #expect(outcome(model, tensors(1, length: 2, ids: [-1, 2])).contains("holds -1"))
        #expect(outcome(model, tensors(1, length: 65)).contains("65 tokens exceed the model's 64 positions"))
        #expect(outcome(model, tensors(1, length: 65, mask: Array(repeating: 1, count: 60) + [0, 0, 0, 0, 0])) == "1 items")
        var longMask = tensors(2, length: 2)
        longMask.append(InputTensor(name: "attention_mask", datatype: .int64, shape: [2, 3], values: .int64([1, 1, 1, 1, 1, 0]),
                                    fromJSON: false))
        #expect(outcome(model, longMask).contains("attention_mask' must have the shape of input_ids, [2,2], not [2,3]"))
        #expect(outcome(model, tensors(2, length: 2, mask: [1, 1, 1, 0, 1])).contains("a different number of elements"))
        #expect(outcome(model, tensors(2, length: 2, mask: [1, 1, 0, 1])).contains("item 1: input 'attention_mask' must be ones then zeros"))
        #expect(outcome(model, tensors(1, length: 2, mask: [0, 0])).contains("item 0: input 'attention_mask' masks every token"))
        #expect(outcome(model, tensors(1, length: 2, mask: [1, 2])).contains("only 0 and 1"))
        var nan = (0..<(2 * 3 * 32 * 32)).map { _ in Float(0) }
        nan[3 * 32 * 32 + 5] = .nan
        #expect(outcome(model, tensors(2, length: 1, pixels: nan)) == "400 item 1: input 'pixel_values' holds a value that is not finite")
        var wrongSize = tensors(1, length: 1)
        wrongSize[0].shape = [1, 3, 16, 64]
        #expect(outcome(model, wrongSize).contains("must have shape [N,3,32,32]"))
        #expect(outcome(model, [tensors(1, length: 1)[1]]).contains("needs the input pixel_values"))
    }

    @Test func outputsFollowTheRequestedSubsetAndBinaryChoice() throws {
        let model = try tinyModel()
        let results = [InferenceResult(logits: [1, 2, 3], scores: [0.1, 0.2, 0.7], label: 2, gateImage: 0.4, gateText: 0.6,
                                       embedding: Array(repeating: 0.5, count: 40)),
                       InferenceResult(logits: [4, 5, 6], scores: [0.3, 0.3, 0.4], label: 0, gateImage: 0.9, gateText: 0.1,
                                       embedding: Array(repeating: -1, count: 40))]
        let all = model.outputs(for: results, requested: nil, binaryDefault: true)
        #expect(all.map(\.tensor.name) == ["logits", "scores", "gate", "embedding", "label"] && all.allSatisfy(\.binary))
        #expect(all[0].tensor == OutputTensor(name: "logits", datatype: .fp32, shape: [2, 3], values: .fp32([1, 2, 3, 4, 5, 6])))
        #expect(all[2].tensor.values == .fp32([0.4, 0.6, 0.9, 0.1]) && all[2].tensor.shape == [2, 2])
        #expect(all[3].tensor.shape == [2, 40])
        #expect(all[4].tensor == OutputTensor(name: "label", datatype: .bytes, shape: [2], values: .bytes([Array("other".utf8), Array("cat".utf8)])))
        let some = model.outputs(for: results, requested: [RequestedOutput(name: "label", binary: true), RequestedOutput(name: "scores")],
                                 binaryDefault: false)
        #expect(some.map(\.tensor.name) == ["label", "scores"] && some.map(\.binary) == [true, false])
    }

    @Test func metadataAndConfigurationDescribeTheModelAndServer() throws {
        let model = try tinyModel(maxRequestItems: 16)
        let metadata = try JSONParser.parse(Array(model.metadataJSON.utf8))
        #expect(metadata["name"] == .string("tiny-f32") && metadata["versions"] == .array([.string("1")]))
        guard case .array(let inputs)? = metadata["inputs"], case .array(let outputs)? = metadata["outputs"] else {
            Issue.record("\(metadata)"); return
        }
        #expect(inputs.map { $0["name"] } == ["image", "text", "pixel_values", "input_ids", "attention_mask"].map { .string($0) })
        #expect(inputs[2]["shape"] == .array([-1, 3, 32, 32].map { .number("\($0)", Double($0)) }))
        #expect(outputs[3]["shape"] == .array([.number("-1", -1), .number("40", 40)]))
        let config = try JSONParser.parse(Array(model.configJSON.utf8))
        #expect(config["max_batch_size"] == .number("16", 16))
        #expect(config["dynamic_batching"]?["preferred_batch_size"] == .array([.number("8", 8)]))
        #expect(config["dynamic_batching"]?["max_queue_delay_microseconds"] == .number("2000", 2000))
        #expect(config["instance_group"] == .array([.object([("name", .string("tiny-f32")), ("kind", .string("KIND_CPU")),
                                                           ("count", .number("3", 3))])]))
        #expect(config["parameters"]?["labels"]?["string_value"] == .string("cat,dog,other"))
    }
}
