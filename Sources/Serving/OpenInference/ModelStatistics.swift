import Foundation
import JSON
import Locking

/// The served model's counters for Triton's statistics extension
/// (`GET /v2/models/{name}/stats`), fed by `POST /infer` and `POST /v2/models/{name}/infer`.
///
/// `success` and `fail` count HTTP inference requests and their durations. `queue` and the
/// three `compute_*` count items — what the dynamic batcher schedules: a `/infer` request is one
/// item, a v2 request of N items is N — with each item's queue wait, its preprocessing
/// (`compute_input`), the forward pass of its batch (`compute_infer`, charged to every item of
/// the batch, as Triton charges each request) and its share of encoding the response
/// (`compute_output`). `execution_count` and `batch_stats` count forward passes, derived from
/// the items: a batch of k items is k items reporting batch size k.
public final class ModelStatistics: Sendable {
    /// A count and a cumulative duration.
    public struct Duration: Sendable, Equatable {
        public var count: UInt64 = 0
        public var nanos: UInt64 = 0

        mutating func add(_ nanos: UInt64) {
            count &+= 1
            self.nanos &+= nanos
        }
    }

    /// Items that reported one batch size, and the sum of their batches' forward passes.
    public struct BatchSizeCounters: Sendable, Equatable {
        public var items: UInt64 = 0
        public var inferNanos: UInt64 = 0
        public var inputNanos: UInt64 = 0
        public var outputNanos: UInt64 = 0
    }

    /// Everything counted so far.
    public struct Snapshot: Sendable, Equatable {
        public var success = Duration()
        public var fail = Duration()
        public var queue = Duration()
        public var computeInput = Duration()
        public var computeInfer = Duration()
        public var computeOutput = Duration()
        /// Items inferred.
        public var inferenceCount: UInt64 = 0
        /// Milliseconds since the Unix epoch of the last item inferred; 0: none yet.
        public var lastInferenceMillis: UInt64 = 0
        /// By batch size; at most `maxBatchSizes` sizes are kept (the dispatcher's `--max-batch`
        /// bounds them far below that).
        public var batches: [Int: BatchSizeCounters] = [:]

        /// Forward passes: every batch size's items divided by that size.
        public var executionCount: UInt64 {
            batches.reduce(0) { $0 + $1.value.items / UInt64(max(1, $1.key)) }
        }
    }

    static let maxBatchSizes = 1024
    private let state = Locked(Snapshot())

    /// Creates empty counters.
    public init() {}

    /// One item came back from its batch (the counters keep whole nanoseconds, as the
    /// statistics extension reports them).
    public func recordItem(queue: Swift.Duration, preprocess: Swift.Duration, batch: BatchInfo, output: Swift.Duration = .zero) {
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let queueNanos = queue.unsignedNanoseconds, preprocessNanos = preprocess.unsignedNanoseconds
        let inferenceNanos = batch.inferenceTime.unsignedNanoseconds, outputNanos = output.unsignedNanoseconds
        state.withLock { s in
            s.queue.add(queueNanos)
            s.computeInput.add(preprocessNanos)
            s.computeInfer.add(inferenceNanos)
            s.computeOutput.add(outputNanos)
            s.inferenceCount &+= 1
            s.lastInferenceMillis = now
            let size = batch.batchSize
            guard s.batches[size] != nil || s.batches.count < Self.maxBatchSizes else { return }
            s.batches[size, default: BatchSizeCounters()].items &+= 1
            s.batches[size, default: BatchSizeCounters()].inferNanos &+= inferenceNanos
            s.batches[size, default: BatchSizeCounters()].inputNanos &+= preprocessNanos
            s.batches[size, default: BatchSizeCounters()].outputNanos &+= outputNanos
        }
    }

    /// One HTTP inference request was answered.
    public func recordRequest(succeeded: Bool, duration: Swift.Duration) {
        let nanos = duration.unsignedNanoseconds
        state.withLock { s in
            if succeeded { s.success.add(nanos) } else { s.fail.add(nanos) }
        }
    }

    /// A consistent copy of the counters.
    public var snapshot: Snapshot { state.withLock { $0 } }

    /// The Triton statistics document for `model` at `version`.
    public func json(model: String, version: String) -> String {
        let s = snapshot
        func duration(_ d: Duration) -> String { JSONText.object([("count", "\(d.count)"), ("ns", "\(d.nanos)")]) }
        let batchStats = s.batches.keys.sorted().map { size -> String in
            let counters = s.batches[size] ?? BatchSizeCounters()
            let executions = counters.items / UInt64(max(1, size))
            return JSONText.object([
                ("batch_size", "\(size)"),
                // Every item of a batch reported the batch's forward pass: the sum over items
                // is size × the sum over batches. Input and output work is the items' own.
                ("compute_input", duration(Duration(count: executions, nanos: counters.inputNanos))),
                ("compute_infer", duration(Duration(count: executions, nanos: counters.inferNanos / UInt64(max(1, size))))),
                ("compute_output", duration(Duration(count: executions, nanos: counters.outputNanos))),
            ])
        }
        let model = JSONText.object([
            ("name", JSONText.string(model)),
            ("version", JSONText.string(version)),
            ("last_inference", "\(s.lastInferenceMillis)"),
            ("inference_count", "\(s.inferenceCount)"),
            ("execution_count", "\(s.executionCount)"),
            ("inference_stats", JSONText.object([
                ("success", duration(s.success)),
                ("fail", duration(s.fail)),
                ("queue", duration(s.queue)),
                ("compute_input", duration(s.computeInput)),
                ("compute_infer", duration(s.computeInfer)),
                ("compute_output", duration(s.computeOutput)),
                ("cache_hit", duration(Duration())),
                ("cache_miss", duration(Duration())),
            ])),
            ("batch_stats", "[" + batchStats.joined(separator: ",") + "]"),
        ])
        return JSONText.object([("model_stats", "[" + model + "]")])
    }
}
