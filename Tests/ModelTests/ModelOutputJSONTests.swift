import Foundation
import Testing
@testable import Model

struct ModelOutputJSONTests {
    @Test func formatsAParseableObject() throws {
        let output = ModelOutput(logits: [1.5, -0.25], scores: [0.75, 0.25], label: 0,
                                 gate: (image: 0.5, text: 0.5), embedding: [1, .nan])
        let text = output.json(labels: ["a\"b", "c"], includeEmbedding: true)
        #expect(text == #"{"label":"a\"b","scores":{"a\"b":0.75,"c":0.25},"logits":[1.5,-0.25],"gate":{"image":0.5,"text":0.5},"embedding":[1.0,null]}"#)
        let parsed = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        #expect(parsed?["label"] as? String == "a\"b")
        #expect(!output.json(labels: ["x", "y"], includeEmbedding: false).contains("embedding"))
    }
}
