import HTTP
import Model
import Testing
@testable import Serving

private func call(count: Int) throws -> OpenInferenceCall {
    let config = try ModelConfig.load(path: Fixtures.tinyModel + "/config.json")
    let settings = ServiceSettings(requestTimeout: .seconds(1), maxBatch: 8, maxDelayMilliseconds: 0, maxQueue: 16,
                                   maxBodyBytes: 1 << 20, router: .leastLoaded, workerCount: 2)
    return OpenInferenceCall(request: HTTPRequest(method: "POST", target: "/v2/models/tiny-f32/infer"), send: { _ in },
                             started: .now, deadline: .now + .nanoseconds(1), parsed: OpenInferenceRequest(inputs: []),
                             model: OpenInferenceModel(config: config, settings: settings), count: count)
}

private func result(_ tag: Float) -> InferenceResult {
    InferenceResult(logits: [tag], scores: [1], label: 0, gateImage: 0.5, gateText: 0.5, embedding: [])
}

private func record(_ worker: Int) -> OpenInferenceCall.ItemRecord {
    OpenInferenceCall.ItemRecord(preprocessTime: .nanoseconds(1), batch: BatchInfo(batchSize: 2, worker: worker, queueTime: .zero, inferenceTime: .nanoseconds(5)))
}

@Suite struct OpenInferenceCallTests {
    @Test func itemsComingBackInAnyOrderAnswerOnceInRequestOrder() throws {
        let c = try call(count: 3)
        guard case .pending = c.complete(index: 2, result: result(2), record: record(1)) else { Issue.record("2"); return }
        guard case .pending = c.complete(index: 0, result: result(0), record: record(0)) else { Issue.record("0"); return }
        // The same item twice (a retried batch answering late) is not counted twice.
        guard case .alreadyAnswered = c.complete(index: 0, result: result(9), record: record(0)) else { Issue.record("dup"); return }
        guard case .done(let results, let records) = c.complete(index: 1, result: result(1), record: record(1)) else {
            Issue.record("not done"); return
        }
        #expect(results.map(\.logits) == [[0], [1], [2]])
        #expect(records.count == 3)
        #expect(c.abort() == nil, "an answered request cannot fail any more")
        #expect(!c.isAborted)
    }

    @Test func theFirstFailureAnswersAndLaterItemsAreOnlyCounted() throws {
        let c = try call(count: 3)
        _ = c.complete(index: 1, result: result(1), record: record(0))
        let counted = try #require(c.abort(), "the first failure answers")
        #expect(counted.count == 1, "the item already back is handed over to be counted")
        #expect(c.isAborted, "queued siblings now see the request as cancelled")
        #expect(c.abort() == nil, "a second failure answers nothing")
        guard case .alreadyAnswered = c.complete(index: 0, result: result(0), record: record(1)) else {
            Issue.record("an item after the failure must not answer"); return
        }
    }
}
