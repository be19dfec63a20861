import HTTP
import Synchronization
import Locking

/// One `POST /v2/models/{name}/infer` in flight: its N items travel through preprocessing and
/// the dynamic batcher on their own, and come back here, in any order, to be answered in
/// request order. The first failure answers the request; items still queued then leave the
/// queue uncomputed (`isAborted` is part of their jobs' cancellation check).
final class OpenInferenceCall: Sendable {
    /// Statistics of an item that came back, kept until the request is answered so that its
    /// share of the response encoding can be charged to it.
    struct ItemRecord: Sendable {
        var preprocessTime: Duration
        var batch: BatchInfo
    }

    /// What `complete` tells the caller to do.
    enum Completion {
        /// Wait for more items.
        case pending
        /// Every item is back: answer with these results (in order) and record these items.
        case done([InferenceResult], [ItemRecord])
        /// The request was already answered (a sibling failed): just record the item.
        case alreadyAnswered
    }

    private struct State {
        var results: [InferenceResult?]
        var records: [ItemRecord] = []
        var remaining: Int
        var answered = false
    }

    let request: HTTPRequest
    let send: @Sendable (HTTPResponse) -> Void
    let started: ContinuousClock.Instant
    let deadline: ContinuousClock.Instant
    let parsed: OpenInferenceRequest
    let model: OpenInferenceModel
    let count: Int
    private let state: Locked<State>
    private let abortedFlag = Atomic<Bool>(false)

    init(request: HTTPRequest, send: @escaping @Sendable (HTTPResponse) -> Void, started: ContinuousClock.Instant, deadline: ContinuousClock.Instant,
         parsed: OpenInferenceRequest, model: OpenInferenceModel, count: Int) {
        self.request = request
        self.send = send
        self.started = started
        self.deadline = deadline
        self.parsed = parsed
        self.model = model
        self.count = count
        state = Locked(State(results: Array(repeating: nil, count: count), remaining: count))
    }

    /// True once the request was answered with an error.
    var isAborted: Bool { abortedFlag.load(ordering: .acquiring) }

    /// Item `index` came back with `result`.
    func complete(index: Int, result: InferenceResult, record: ItemRecord) -> Completion {
        state.withLock { s in
            if s.answered { return .alreadyAnswered }
            guard s.results.indices.contains(index), s.results[index] == nil else { return .alreadyAnswered }
            s.results[index] = result
            s.records.append(record)
            s.remaining -= 1
            guard s.remaining == 0 else { return .pending }
            s.answered = true
            return .done(s.results.compactMap { $0 }, s.records)
        }
    }

    /// Marks the request failed. Returns the records of items already back (to be counted)
    /// for the first failure, nil when the request was answered before (only the first
    /// failure answers).
    func abort() -> [ItemRecord]? {
        let records: [ItemRecord]? = state.withLock { s in
            if s.answered { return nil }
            s.answered = true
            defer { s.records = [] }
            return s.records
        }
        if records != nil { abortedFlag.store(true, ordering: .releasing) }
        return records
    }
}
