import JSON
import Testing
@testable import Serving

@Suite struct ModelStatisticsTests {
    @Test func countsItemsRequestsAndBatches() throws {
        let statistics = ModelStatistics()
        // Two batches of 3 (two requests' items mixed) and one batch of 1.
        for _ in 0..<2 {
            for item in 0..<3 {
                statistics.recordItem(queue: .nanoseconds(100), preprocess: .nanoseconds(10 + item),
                                      batch: BatchInfo(batchSize: 3, worker: 0, queueTime: .nanoseconds(100),
                                                       inferenceTime: .nanoseconds(3_000)),
                                      output: .nanoseconds(1))
            }
        }
        statistics.recordItem(queue: .nanoseconds(50), preprocess: .nanoseconds(5),
                              batch: BatchInfo(batchSize: 1, worker: 1, queueTime: .nanoseconds(50), inferenceTime: .nanoseconds(900)))
        statistics.recordRequest(succeeded: true, duration: .nanoseconds(7_000))
        statistics.recordRequest(succeeded: true, duration: .nanoseconds(8_000))
        statistics.recordRequest(succeeded: false, duration: .nanoseconds(40))
        let s = statistics.snapshot
        #expect(s.inferenceCount == 7 && s.executionCount == 3)
        #expect(s.success == .init(count: 2, nanos: 15_000) && s.fail == .init(count: 1, nanos: 40))
        #expect(s.queue == .init(count: 7, nanos: 650) && s.computeInfer == .init(count: 7, nanos: 18_900))
        #expect(s.computeInput == .init(count: 7, nanos: 2 * (10 + 11 + 12) + 5) && s.computeOutput == .init(count: 7, nanos: 6))
        #expect(s.lastInferenceMillis > 1_700_000_000_000)

        let json = try JSONParser.parse(Array(statistics.json(model: "m", version: "1").utf8))
        guard case .array(let models)? = json["model_stats"], let model = models.first else { Issue.record("\(json)"); return }
        #expect(model["name"] == .string("m") && model["version"] == .string("1"))
        #expect(model["inference_count"] == .number("7", 7) && model["execution_count"] == .number("3", 3))
        #expect(model["inference_stats"]?["success"] == .object([("count", .number("2", 2)), ("ns", .number("15000", 15000))]))
        guard case .array(let batches)? = model["batch_stats"], batches.count == 2 else { Issue.record("\(model)"); return }
        #expect(batches[0]["batch_size"] == .number("1", 1))
        #expect(batches[1]["batch_size"] == .number("3", 3))
        // Two forward passes of 3 µs, though six items reported them.
        #expect(batches[1]["compute_infer"] == .object([("count", .number("2", 2)), ("ns", .number("6000", 6000))]))
    }

    @Test func startsEmpty() throws {
        let json = try JSONParser.parse(Array(ModelStatistics().json(model: "m", version: "1").utf8))
        guard case .array(let models)? = json["model_stats"] else { Issue.record("\(json)"); return }
        #expect(models.first?["last_inference"] == .number("0", 0) && models.first?["batch_stats"] == .array([]))
    }
}
