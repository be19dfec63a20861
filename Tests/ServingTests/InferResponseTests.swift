import JSON
import Testing
@testable import Serving

@Suite struct InferResponseTests {
    private func response(embedding: Bool, gate: Float = 0.25) -> InferResponse {
        InferResponse(id: "a\"b", model: "m", labels: ["no", "yes"],
                      result: InferenceResult(logits: [1.5, -0.5], scores: [0.88, 0.12], label: 0, gateImage: gate,
                                              gateText: 0.75, embedding: [0.1, 0.2]),
                      includeEmbedding: embedding,
                      batch: BatchInfo(batchSize: 3, worker: 1, queueTime: .nanoseconds(1_234_567), inferenceTime: .milliseconds(2)),
                      preprocessTime: .microseconds(500), totalTime: .milliseconds(4))
    }

    @Test func writesTheDocumentedFieldsInOrder() throws {
        let json = response(embedding: false).json
        #expect(json == #"{"id":"a\"b","model":"m","label":"no","scores":{"no":0.88,"yes":0.12},"logits":[1.5,-0.5],"gate":{"image":0.25,"text":0.75},"batch_size":3,"worker":1,"timing_ms":{"queue":1.235,"preprocess":0.5,"inference":2.0,"total":4.0}}"#)
        #expect(try JSONParser.parse(Array(json.utf8))["embedding"] == nil)
    }

    @Test func embeddingOnlyWhenAskedAndNonFiniteAsNull() throws {
        let parsed = try JSONParser.parse(Array(response(embedding: true, gate: .nan).json.utf8))
        #expect(parsed["embedding"] == .array([.number("0.1", 0.1), .number("0.2", 0.2)]))
        #expect(parsed["gate"]?["image"] == .null)
    }
}
