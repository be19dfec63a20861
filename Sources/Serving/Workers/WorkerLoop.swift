import POSIX

/// Runs one model inside a worker process; implemented over `FusionModel`, faked in tests.
public protocol BatchExecutor: AnyObject {
    /// The model's name and sizes (the pid is filled in by the worker loop).
    var identity: WorkerIdentity { get }
    /// Runs one batch; one result per payload, in order.
    func run(_ batch: [InferencePayload]) throws -> [InferenceResult]
}

/// The worker side of the IPC conversation: wait for `hello`, load the model, report `ready`,
/// then answer batches in order until `shutdown` or until the server goes away.
public struct WorkerLoop {
    /// How the conversation ended.
    public enum Ending: Equatable {
        /// The server asked us to stop.
        case shutdown
        /// The server closed the socket (it exited or was killed).
        case serverGone
    }

    let channel: FrameChannel
    let workerIndex: Int
    /// Test-only slowdown: each batch takes this many times its real duration (1 = none).
    let delayFactor: Double
    /// Test-only hang: the first batch is never answered (the process sleeps until killed).
    let hangOnFirstBatch: Bool
    /// Test-only hang: the model load never finishes (the process sleeps until killed).
    let hangWhileLoading: Bool

    /// A loop over `descriptor` (the socket pair end the server passed as fd 3).
    public init(descriptor: FileDescriptor, workerIndex: Int, maxBatch: Int, delayFactor: Double = 1,
                hangOnFirstBatch: Bool = false, hangWhileLoading: Bool = false) {
        // Until the model is loaded only the tiny hello/shutdown frames are expected.
        let bootstrap = WireLimits(maxBatch: 0, maxPixels: 0, maxTokens: 0, maxOutputs: 0)
        channel = FrameChannel(descriptor: descriptor, limits: bootstrap)
        self.workerIndex = workerIndex
        self.delayFactor = max(1, delayFactor)
        self.hangOnFirstBatch = hangOnFirstBatch
        self.hangWhileLoading = hangWhileLoading
        self.maxBatch = maxBatch
    }

    private let maxBatch: Int

    /// Runs the conversation. `load` is called after the server's hello; a load error is
    /// reported to the server as `loadFailed` and rethrown.
    public func run(load: () throws -> BatchExecutor) throws -> Ending {
        guard let hello = try channel.receive() else { return .serverGone }
        guard case .hello(let version, _) = hello else { throw WireError.unexpected(hello.name) }
        guard version == WireProtocol.version else {
            let mismatch = WireError.versionMismatch(got: version, expected: WireProtocol.version)
            try? channel.send(.loadFailed(mismatch.description))
            throw mismatch
        }
        if hangWhileLoading {
            // Like a model file on a stuck mount: alive, socket open, never ready.
            while true { sleep(3600) }
        }
        let executor: BatchExecutor
        do {
            executor = try load()
        } catch {
            try? channel.send(.loadFailed("\(error)"))
            throw error
        }
        var identity = executor.identity
        identity.pid = ProcessControl.id
        identity.protocolVersion = WireProtocol.version
        channel.limits = WireLimits.forModel(imageSize: identity.imageSize, maxTextLength: identity.maxTextLength,
                                             maxOutputs: max(identity.labelCount, identity.embeddingSize),
                                             maxBatch: maxBatch)
        try channel.send(.ready(identity))

        while true {
            guard let message = try channel.receive() else { return .serverGone }
            switch message {
            case .shutdown:
                return .shutdown
            case .batch(let id, let items):
                if hangOnFirstBatch {
                    // Like a deadlocked forward pass: alive, socket open, no answer, ever.
                    while true { sleep(3600) }
                }
                let started = ContinuousClock.now
                do {
                    var results = try executor.run(items)
                    for index in results.indices where !items[index].returnEmbedding {
                        results[index].embedding = []
                    }
                    let total = slowDown(ContinuousClock.now - started)
                    try channel.send(.results(id: id, inferenceTime: total, items: results))
                } catch let error as SystemCallError {
                    throw error
                } catch {
                    try channel.send(.batchFailed(id: id, message: "\(error)"))
                }
            default:
                throw WireError.unexpected(message.name)
            }
        }
    }

    /// Sleeps so the batch appears `delayFactor` times slower; returns the apparent duration.
    private func slowDown(_ elapsed: Duration) -> Duration {
        guard delayFactor > 1 else { return elapsed }
        let extra = UInt64(Double(elapsed.unsignedNanoseconds) * (delayFactor - 1))
        var request = timespec(tv_sec: Int(extra / 1_000_000_000), tv_nsec: Int(extra % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
        return elapsed + .nanoseconds(extra)
    }
}

#if canImport(Glibc)
import Glibc
#endif
