import Foundation
import Locking
import Logging
import POSIX

#if canImport(Glibc)
import Glibc
#endif

/// What `/healthz` and `/metrics` show about one worker.
public struct WorkerStatus: Sendable, Equatable {
    /// Lifecycle of a worker slot.
    public enum State: String, Sendable {
        case starting, ready, restarting, failed, stopped
    }
    public var index: Int
    public var state: State
    public var pid: Int32?
    public var cpus: String
    /// Times the process was started again after it ended unexpectedly.
    public var restarts: Int
    /// Times the process was killed by the worker timeout: a batch unanswered, or no ready
    /// message, that long.
    public var timeouts: Int = 0
    /// Sum of the worker's own measurement of its batches' inference time.
    public var busyTime: Duration
    public var batches: Int
    /// It has held a batch far longer than its recent batches took (`StallDetector`): ready,
    /// but not answering. `/healthz` does not count it as healthy.
    public var stalled: Bool = false
    /// Times it became stalled.
    public var stalls: Int = 0
}

/// Starts, feeds and supervises the worker processes (`fusion-serve worker`), one per replica.
///
/// Each slot has a supervising thread (spawn, handshake, then read answers until the process
/// ends, then restart with backoff) and a writer thread (encodes batches and writes them, so
/// the dispatcher never blocks on a socket). A worker that dies is reported to the dispatcher,
/// which re-sends the batches it held once to another worker.
public final class WorkerPool: BatchTransport, Sendable {
    /// Pool settings.
    public struct Configuration: Sendable {
        /// The `fusion-serve` binary to run as `worker`.
        public var executable: String
        public var modelDirectory: String
        /// One set per worker; its size is also the worker's OpenBLAS thread count.
        public var cpuSets: [CPUSet]
        public var maxBatch: Int
        /// The model as the server loaded it; a worker reporting anything else is refused.
        public var expectedModel: WorkerIdentity
        /// Extra environment for the workers (on top of this process's).
        public var environment: [String: String]
        public var initialBackoff = Duration.milliseconds(100)
        public var maxBackoff = Duration.seconds(5)
        /// A worker that fails this many times in a row before becoming ready is given up.
        public var maxConsecutiveStartFailures = 5
        /// A worker that has not answered a batch this long after it could start it (its
        /// previous answer, or the batch's send, whichever is later), or has not said ready
        /// this long after it was spawned, is taken for hung and killed; nil: never.
        public var workerTimeout: Duration? = .seconds(60)
        /// The least time a worker must sit on a batch to count as stalled (`StallDetector`).
        public var stallFloor: Duration = StallDetector.defaultFloor

        /// Creates a configuration.
        public init(executable: String, modelDirectory: String, cpuSets: [CPUSet], maxBatch: Int,
                    expectedModel: WorkerIdentity, environment: [String: String] = [:]) {
            self.executable = executable
            self.modelDirectory = modelDirectory
            self.cpuSets = cpuSets
            self.maxBatch = maxBatch
            self.expectedModel = expectedModel
            self.environment = environment
        }

        var limits: WireLimits {
            .forModel(imageSize: expectedModel.imageSize, maxTextLength: expectedModel.maxTextLength,
                      maxOutputs: max(expectedModel.labelCount, expectedModel.embeddingSize), maxBatch: maxBatch)
        }
    }

    private let configuration: Configuration
    private let dispatcher: Dispatcher
    private let logger: Logger
    private let slots: [WorkerSlot]
    private struct State {
        var stopping = false
        var runningSupervisors = 0
    }

    private let state = LockedCondition(State())

    private let onBatchAnswered: @Sendable (_ worker: Int, _ inferenceTime: Duration) -> Void

    /// Creates the pool; nothing starts until `start()`. `onBatchAnswered` observes each batch's
    /// inference time as the worker measured it (for metrics).
    public init(configuration: Configuration, dispatcher: Dispatcher, logger: Logger,
                onBatchAnswered: @escaping @Sendable (_ worker: Int, _ inferenceTime: Duration) -> Void = { _, _ in }) {
        self.onBatchAnswered = onBatchAnswered
        self.configuration = configuration
        self.dispatcher = dispatcher
        self.logger = logger
        slots = configuration.cpuSets.enumerated().map {
            WorkerSlot(index: $0.offset, cpus: $0.element,
                       stalls: StallDetector(floor: configuration.stallFloor))
        }
    }

    /// Spawns every worker (each in its supervising thread).
    public func start() {
        for slot in slots {
            startSupervisor(slot, generation: slot.generation, handedOver: nil)
            let writer = Thread { [self] in writeLoop(slot) }
            writer.name = "worker-\(slot.index)-writer"
            writer.start()
        }
        let watchdog = Thread { [self] in watchForHungWorkers(timeout: configuration.workerTimeout) }
        watchdog.name = "worker-watchdog"
        watchdog.start()
    }

    /// A supervisor thread's last step: `stop` waits for `runningSupervisors` to reach 0.
    private func supervisorEnded() {
        state.withLock { $0.runningSupervisors -= 1 }
        state.broadcast()
    }

    /// A supervising thread for `slot` while it is in `generation`; with `handedOver`, it starts
    /// by serving that (already ready) process instead of spawning one.
    private func startSupervisor(_ slot: WorkerSlot, generation: Int, handedOver: StartedWorker?) {
        state.withLock { $0.runningSupervisors += 1 }
        let supervisor = Thread { [self] in
            supervise(slot, generation: generation, handedOver: handedOver)
            supervisorEnded()
        }
        supervisor.name = "worker-\(slot.index)-supervisor"
        supervisor.start()
    }

    /// The state of every worker.
    public var status: [WorkerStatus] { slots.map { $0.status } }

    // MARK: BatchTransport

    public func send(batchID: UInt64, payloads: [InferencePayload], to worker: Int) {
        guard slots.indices.contains(worker) else { return }
        if !slots[worker].enqueue(.batch(id: batchID, items: payloads)) {
            // Not ready any more, or its outbox is full (it stopped reading): the supervisor
            // reports the loss, and the dispatcher re-sends the batch.
            logger.warning("worker outbox refused a batch", metadata: ["worker": "\(worker)", "batch": "\(batchID)"])
            slots[worker].abortConnection()
        }
    }

    // MARK: Shutdown

    /// Asks every worker to exit, waits up to `grace`, then kills what is left.
    /// Returns when every worker process has been reaped.
    public func shutdown(grace: Duration) {
        state.withLock { $0.stopping = true }
        state.broadcast()
        for slot in slots { slot.beginShutdown() }
        _ = state.wait(until: { $0.runningSupervisors == 0 }, deadline: .now + grace)
        for slot in slots { slot.kill() }
        _ = state.wait(until: { $0.runningSupervisors == 0 })
        for slot in slots { slot.closeOutbox() }
    }

    private var isStopping: Bool {
        state.withLock { $0.stopping }
    }

    /// Sleeps for `duration` unless the pool starts stopping.
    private func pause(_ duration: Duration) {
        _ = state.wait(until: { $0.stopping }, timeout: duration)
    }

    // MARK: Supervision

    /// Kills a worker that sits on a batch longer than `timeout`, or has not said ready that
    /// long after its start: a hung forward pass or model load (a deadlock, a livelocked BLAS
    /// thread, a stopped process, a model file on a stuck network mount) never closes the
    /// socket, so the reader alone would wait forever. Killing it turns the hang into a death,
    /// which the supervisor already handles: a held batch is retried once elsewhere and the
    /// worker restarts (a start that keeps hanging counts towards giving the worker up).
    ///
    /// Long before that, a worker sitting on a batch far longer than its recent batches took
    /// is marked stalled (logged once per stall, counted in `/metrics`), so `/healthz` stops
    /// calling a server whose only worker is stuck ready.
    private func watchForHungWorkers(timeout: Duration?) {
        // Ten checks per timeout (at most every 100 ms): a hang is caught within 110 % of it.
        let tick = min(.milliseconds(100), max(.milliseconds(1), timeout.map { $0 / 10 } ?? .milliseconds(100)))
        while !isStopping {
            let now = ContinuousClock.now
            for slot in slots {
                // A retired process holds at most two batches; one that has not finished them
                // within the worker timeout is hung.
                for pid in slot.killOverstayingRetired(now: now, limit: timeout ?? .seconds(60)) {
                    logger.error("retired worker did not exit in time: killing it",
                                 metadata: ["worker": "\(slot.index)", "pid": "\(pid)"])
                }
                if let stall = slot.checkStall(now: now) {
                    logger.warning("worker stalled: holding a batch far longer than its recent batches took", metadata: [
                        "worker": "\(slot.index)", "batch": "\(stall.batchID)",
                        "held_ms": "\(stall.held.unsignedNanoseconds / 1_000_000)", "threshold_ms": "\(stall.threshold.unsignedNanoseconds / 1_000_000)",
                    ])
                }
                guard let timeout else { continue }
                if let overdue = slot.overdueBatch(now: now, timeout: timeout) {
                    logger.error("worker did not answer a batch in time: killing it", metadata: [
                        "worker": "\(slot.index)", "batch": "\(overdue.batchID)", "pid": "\(overdue.pid)",
                        "waited_ms": "\(overdue.waited.unsignedNanoseconds / 1_000_000)", "timeout_ms": "\(timeout.unsignedNanoseconds / 1_000_000)",
                    ])
                    slot.kill(for: .batch(overdue.batchID), pid: overdue.pid)
                } else if let stuck = slot.overdueStart(now: now, timeout: timeout) {
                    logger.error("worker did not become ready in time: killing it", metadata: [
                        "worker": "\(slot.index)", "pid": "\(stuck.pid)",
                        "waited_ms": "\(stuck.waited.unsignedNanoseconds / 1_000_000)", "timeout_ms": "\(timeout.unsignedNanoseconds / 1_000_000)",
                    ])
                    slot.kill(for: .start, pid: stuck.pid)
                }
            }
            pause(tick)
        }
    }

    private func supervise(_ slot: WorkerSlot, generation: Int, handedOver: StartedWorker?) {
        var backoff = configuration.initialBackoff
        var startFailures = 0
        var pending = handedOver
        while !isStopping {
            // A reload gave the slot a new process (and a new supervisor) while this one was
            // waiting to restart its own: the slot is no longer ours.
            guard slot.generation == generation else { return }
            let started = ContinuousClock.now
            let outcome = runOnce(slot, generation: generation, handedOver: pending)
            pending = nil
            if outcome == .retired || slot.generation != generation { return }
            if isStopping { break }
            if outcome == .served {
                startFailures = 0
                // A worker that ran for a while earns a fresh, short backoff.
                if ContinuousClock.now - started > .seconds(10) { backoff = configuration.initialBackoff }
            } else {
                startFailures += 1
                if startFailures >= configuration.maxConsecutiveStartFailures {
                    slot.setState(.failed, generation: generation)
                    logger.error("worker gave up after repeated start failures",
                                 metadata: ["worker": "\(slot.index)", "failures": "\(startFailures)"])
                    if slots.allSatisfy({ $0.status.state == .failed }) { dispatcher.setAdmission(.unavailable) }
                    return
                }
            }
            slot.setState(.restarting, generation: generation)
            slot.countRestart()
            logger.warning("restarting worker", metadata: ["worker": "\(slot.index)",
                                                           "backoff_ms": "\(backoff.unsignedNanoseconds / 1_000_000)"])
            pause(backoff)
            backoff = min(backoff * 2, configuration.maxBackoff)
        }
        if let pending {
            // Handed a process as the pool began to stop: it never served.
            _ = try? pending.child.signal(SIGKILL)
            try? pending.channel.descriptor.close()
            _ = try? pending.child.wait()
        }
        slot.setState(.stopped, generation: generation)
    }

    /// How one process's life in a slot ended.
    private enum RunOutcome {
        /// It never became ready.
        case failedToStart
        /// It was ready, then ended (crash, kill, shutdown).
        case served
        /// A reload replaced it; the slot's new process has its own supervisor.
        case retired
    }

    /// A process spawned and connected, not yet (or just) handshaken.
    struct StartedWorker: @unchecked Sendable {
        // @unchecked: handed once from the thread that started it to its slot; not shared after.
        let child: ChildProcess
        let channel: FrameChannel
    }

    /// Spawns a worker process for `slot` on the model directory.
    private func spawn(_ slot: WorkerSlot) throws -> StartedWorker {
        let pair = try SocketPair.make(.stream)
        var environment = ProcessControl.environment()
        for (key, value) in configuration.environment { environment[key] = value }
        // One BLAS thread per CPU of the set (never OPENBLAS_CORETYPE: that is the user's).
        environment["OPENBLAS_NUM_THREADS"] = "\(slot.cpus.count)"
        let child: ChildProcess
        do {
            child = try ChildProcess.spawn(
                executable: configuration.executable,
                arguments: ["worker", "--model", configuration.modelDirectory, "--index", "\(slot.index)",
                            "--cpus", slot.cpus.description, "--max-batch", "\(configuration.maxBatch)"],
                environment: environment, fileDescriptors: [3: pair.1])
        } catch {
            try? pair.0.close()
            try? pair.1.close()
            throw error
        }
        try? pair.1.close()
        return StartedWorker(child: child, channel: FrameChannel(descriptor: pair.0, limits: configuration.limits))
    }

    /// `hello` → `ready` with the expected model, or a typed error (`loadFailed` carries the
    /// worker's reason, which names the file at fault).
    private func handshake(_ channel: FrameChannel, slot: WorkerSlot) throws {
        try channel.send(.hello(protocolVersion: WireProtocol.version, workerIndex: UInt32(slot.index)))
        guard let first = try channel.receive() else { throw WorkerPoolError.exitedBeforeReady }
        switch first {
        case .ready(let identity):
            guard identity.protocolVersion == WireProtocol.version else {
                throw WireError.versionMismatch(got: identity.protocolVersion, expected: WireProtocol.version)
            }
            guard identity.describesSameModel(as: configuration.expectedModel) else {
                throw WorkerPoolError.modelMismatch(expected: configuration.expectedModel, got: identity)
            }
        case .loadFailed(let message):
            throw WorkerPoolError.loadFailed(message)
        default:
            throw WireError.unexpected(first.name)
        }
    }

    /// Spawns one worker process (or takes the one a reload handed over, already ready) and
    /// serves it until it ends.
    private func runOnce(_ slot: WorkerSlot, generation: Int, handedOver: StartedWorker?) -> RunOutcome {
        let worker: StartedWorker
        if let handedOver {
            worker = handedOver  // `replaceWorkers` attached it to the slot as ready
        } else {
            do {
                worker = try spawn(slot)
            } catch {
                logger.error("cannot start worker", metadata: ["worker": "\(slot.index)", "error": "\(error)"])
                return .failedToStart
            }
            guard slot.attach(child: worker.child, channel: worker.channel, generation: generation) else {
                discard(worker)  // a reload gave the slot a new process while this one spawned
                return .retired
            }
        }
        let child = worker.child
        let channel = worker.channel
        var becameReady = false
        var reason = "connection closed"
        do {
            if handedOver == nil {
                try handshake(channel, slot: slot)
                // A reload may have replaced this process while it loaded.
                guard slot.markReady(channel: channel) else { throw WorkerPoolError.superseded }
                logger.info("worker ready", metadata: ["worker": "\(slot.index)", "pid": "\(child.pid)",
                                                       "cpus": "\(slot.cpus)"])
            } else {
                logger.info("worker ready on the reloaded model", metadata: [
                    "worker": "\(slot.index)", "pid": "\(child.pid)", "cpus": "\(slot.cpus)"])
            }
            becameReady = true
            dispatcher.workerReady(slot.index)
            while let message = try channel.receive() {
                switch message {
                case .results(let id, let time, let items):
                    slot.recordBatch(id: id, time: time)
                    onBatchAnswered(slot.index, time)
                    dispatcher.batchFinished(batchID: id, worker: slot.index, results: items, inferenceTime: time)
                case .batchFailed(let id, let message):
                    slot.recordBatch(id: id, time: .zero)
                    dispatcher.batchFailed(batchID: id, worker: slot.index, message: message)
                default:
                    throw WireError.unexpected(message.name)
                }
            }
        } catch {
            reason = "\(error)"
        }
        if case .retired(let lost) = slot.end(channel: channel) {
            // Replaced by a reload: it was told to finish its batches and exit (or killed, if it
            // was still loading or overstayed). Batches it never answered go to the new ones.
            try? channel.descriptor.shutdown(.both)
            try? channel.descriptor.close()
            let status = (try? child.wait()).map { "\($0)" } ?? "unknown"
            slot.retiredReaped()
            if !lost.isEmpty {
                logger.warning("retired worker ended before answering its batches; retrying them", metadata: [
                    "worker": "\(slot.index)", "pid": "\(child.pid)", "batches": "\(lost.count)", "reason": "\(reason)"])
                dispatcher.batchesLost(lost, worker: slot.index, reason: reason)
            }
            logger.info("retired worker exited", metadata: ["worker": "\(slot.index)", "pid": "\(child.pid)",
                                                            "status": "\(status)"])
            return .retired
        }
        let seconds = Double((configuration.workerTimeout ?? .zero).unsignedNanoseconds) / 1e9
        switch slot.takeWatchdogKill() {
        case .batch(let hung)?: reason = "batch \(hung) not answered within \(seconds) s (worker timeout): killed"
        case .start?: reason = "not ready within \(seconds) s of its start (worker timeout): killed"
        case nil: break
        }
        if becameReady {
            dispatcher.workerLost(slot.index, reason: reason)
            // A reload switched the slot between `end` and this report: its new process is
            // ready, so the index is too (what the loss re-queued runs again, nothing fails).
            if slot.generation != generation { dispatcher.workerReady(slot.index) }
        }
        try? channel.descriptor.shutdown(.both)
        try? channel.descriptor.close()
        let status = (try? child.wait()).map { "\($0)" } ?? "unknown"
        if isStopping {
            logger.info("worker stopped", metadata: ["worker": "\(slot.index)", "status": "\(status)"])
        } else {
            logger.error("worker ended", metadata: ["worker": "\(slot.index)", "pid": "\(child.pid)",
                                                    "status": "\(status)", "reason": "\(reason)"])
        }
        return becameReady ? .served : .failedToStart
    }

    // MARK: Reload

    /// Replaces every worker process with a new one on the model directory as it is now.
    ///
    /// A new process is started for every slot (same CPU set, index and flags) while the old
    /// ones keep serving; only when every new one has said ready with the expected model does
    /// each slot switch to it: new batches go to the new process from then on, and the old one
    /// is sent `shutdown` behind the batches it holds, so it answers them and exits (a batch
    /// it never answers is retried on the new ones). If any new process fails to start, load
    /// or say ready within the worker timeout, every new process is killed, the old ones are
    /// untouched and the error names the worker and the reason.
    ///
    /// Memory: for the time it takes the new set to load, old and new processes coexist (2 × N
    /// workers; the weights of both versions in the page cache). When the free memory cannot
    /// hold N more workers but holds one, the slots are replaced one at a time instead
    /// (`replaceOneAtATime`); when it cannot hold even one, the reload is refused.
    public func replaceWorkers() throws {
        guard !isStopping else { throw WorkerPoolError.stopping }
        switch try reloadPlan() {
        case .together:
            try replace(slots)
        case .oneAtATime(let needed, let free):
            logger.notice("not enough free memory for a second set of workers: replacing them one at a time", metadata: [
                "workers": "\(slots.count)", "needed_mib": "\(needed >> 20)", "free_mib": "\(free >> 20)"])
            try replaceOneAtATime()
        }
    }

    /// How a reload replaces the workers, given the free memory.
    enum ReloadPlan: Equatable {
        /// A whole second set fits (or nothing is known): all new processes start at once and
        /// the switch is atomic.
        case together
        /// Only one more worker fits: `needed` is what a whole set would take, `free` what is free.
        case oneAtATime(needed: Int, free: Int)
    }

    /// `.together` when N more workers fit in the free memory, `.oneAtATime` when only one
    /// does, `notEnoughMemory` when not even one does (see `memoryShortfall`).
    static func reloadPlan(privateBytes: [Int?], workers: Int, freeBytes: Int?) throws(WorkerPoolError) -> ReloadPlan {
        guard let short = memoryShortfall(privateBytes: privateBytes, workers: workers, freeBytes: freeBytes) else {
            return .together
        }
        if workers > 1, memoryShortfall(privateBytes: privateBytes, workers: 1, freeBytes: freeBytes) == nil {
            return .oneAtATime(needed: short.needed, free: short.free)
        }
        let one = memoryShortfall(privateBytes: privateBytes, workers: 1, freeBytes: freeBytes) ?? short
        throw .notEnoughMemory(neededBytes: one.needed, freeBytes: one.free)
    }

    private func reloadPlan() throws -> ReloadPlan {
        // Only live workers: the pid of one that ended may already belong to another process.
        let pids = slots.map(\.status).filter { $0.state == .ready }.compactMap(\.pid)
        let privateBytes = pids.map { SystemMemory.anonymousResidentBytes(pid: $0) }
        var free = SystemMemory.freeBytes()
        if let workers = WorkerTestHooks.reloadFreeWorkers(environment: ProcessInfo.processInfo.environment),
           let largest = privateBytes.compactMap({ $0 }).max() {
            free = largest * workers  // the test hook: room for exactly that many more workers
        }
        return try Self.reloadPlan(privateBytes: privateBytes, workers: slots.count, freeBytes: free)
    }

    /// The reload when memory holds only one more worker: slot by slot, a new process starts
    /// next to the old one, the slot switches when it is ready, and the old process must have
    /// finished its batches and exited before the next slot starts (N + 1 processes at the
    /// peak). The first slot validates the new model while every old process still serves, so
    /// a model that does not load fails the reload with nothing switched, as in `.together`.
    /// Past the first slot the two versions serve side by side until the last slot switches;
    /// a later slot that fails to start (the model loaded once already, so this is a passing
    /// fault such as memory) is tried again, and after `attemptsPerLaterSlot` failures the
    /// reload stops with `partiallyReloaded`: the slots before it serve the new model, the
    /// others the old one (a new load call replaces them all again).
    private func replaceOneAtATime() throws {
        for (position, slot) in slots.enumerated() {
            if position > 0 {
                do {
                    try waitForRetiredExit(slots[position - 1])
                } catch .stopping {
                    throw WorkerPoolError.stopping
                } catch {
                    throw WorkerPoolError.partiallyReloaded(switched: position, of: slots.count, reason: error.description)
                }
            }
            var attempt = 0
            while true {
                do {
                    if position > 0 {
                        // The previous old process's memory is back by now: check again that
                        // one more worker fits before starting it.
                        _ = try reloadPlan()
                    }
                    try replace([slot])
                    break
                } catch let error as WorkerPoolError {
                    if position == 0 { throw error }
                    if case .stopping = error { throw error }
                    attempt += 1
                    guard attempt < Self.attemptsPerLaterSlot else {
                        throw WorkerPoolError.partiallyReloaded(switched: position, of: slots.count, reason: error.description)
                    }
                    logger.warning("new worker failed to start during a one-at-a-time reload; trying again", metadata: [
                        "worker": "\(slot.index)", "attempt": "\(attempt)", "error": "\(error.description)"])
                    pause(configuration.initialBackoff * (1 << attempt))
                    if isStopping { throw WorkerPoolError.stopping }
                }
            }
        }
    }

    /// Tries per slot after the first in a one-at-a-time reload.
    static let attemptsPerLaterSlot = 3

    /// Waits until the process a reload retired from `slot` has exited (its memory is free),
    /// at most the worker timeout and a little more (the watchdog kills a retired process
    /// that overstays the worker timeout).
    private func waitForRetiredExit(_ slot: WorkerSlot) throws(WorkerPoolError) {
        let limit = (configuration.workerTimeout ?? .seconds(60)) + .seconds(5)
        let deadline = ContinuousClock.now + limit
        while slot.isRetiring {
            if isStopping { throw .stopping }
            guard ContinuousClock.now < deadline else {
                throw .reloadFailed(worker: slot.index, reason: "the process it replaced did not exit", modelFault: false)
            }
            pause(.milliseconds(10))
        }
    }

    /// Starts a new process for each slot of `group` next to its current one and switches
    /// them all when every new one is ready, or none (see `replaceWorkers`).
    private func replace(_ group: [WorkerSlot]) throws {
        let starts = StandbyStarts(count: group.count)
        for (position, slot) in group.enumerated() {
            // This thread spawns the new process and, if the reload goes through, stays as its
            // supervisor: a worker dies with the thread that spawned it (PR_SET_PDEATHSIG
            // follows the spawning thread, not the process), so that thread must outlive it.
            let thread = Thread { [self] in
                let worker: StartedWorker
                do {
                    worker = try spawn(slot)
                } catch {
                    starts.finish(position, .failure(error))
                    return
                }
                guard starts.spawned(position, worker.child) else {
                    discard(worker)  // the reload already gave up
                    return
                }
                do {
                    try handshake(worker.channel, slot: slot)
                } catch {
                    discard(worker)
                    starts.finish(position, .failure(error))
                    return
                }
                starts.finish(position, .success(worker))
                guard let generation = starts.verdict(for: position) else {
                    discard(worker)
                    return
                }
                supervise(slot, generation: generation, handedOver: worker)
                supervisorEnded()
            }
            thread.name = "worker-\(slot.index)-supervisor"
            thread.start()
        }
        let timeout = configuration.workerTimeout ?? .seconds(60)
        let results = starts.wait(timeout: timeout)
        var started: [StartedWorker] = []
        var failure: (index: Int, error: any Error)?
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let worker)?: started.append(worker)
            case .failure(let error)?: if failure == nil { failure = (index, error) }
            case nil: break
            }
        }
        // A slot without a result was still loading: the reason only if nothing failed outright
        // (a failure ends the wait early, leaving slower slots unfinished).
        if failure == nil, let index = results.firstIndex(where: { $0 == nil }) {
            failure = (index, WorkerPoolError.notReadyInTime(seconds: Double(timeout.unsignedNanoseconds) / 1e9))
        }
        let stoppingNow = state.withLock { state in
            let stoppingNow = state.stopping
            if failure == nil, !stoppingNow {
                var generations: [Int] = []
                for (slot, worker) in zip(group, started) {
                    let (generation, unready) = slot.swap(to: worker.child, channel: worker.channel)
                    // An old process still loading serves nothing: it is killed rather than drained.
                    if let unready { _ = try? unready.signal(SIGKILL) }
                    state.runningSupervisors += 1
                    generations.append(generation)
                }
                starts.decide(generations)
            } else {
                starts.decide(nil)  // the threads of the processes that started discard them
            }
            return stoppingNow
        }
        if let failure {
            if let worker = failure.error as? WorkerPoolError, case .stopping = worker { throw worker }
            var modelFault = false
            if let error = failure.error as? WorkerPoolError {
                switch error {
                case .loadFailed, .modelMismatch: modelFault = true
                default: break
                }
            }
            throw WorkerPoolError.reloadFailed(worker: group[failure.index].index, reason: "\(failure.error)", modelFault: modelFault)
        }
        if stoppingNow { throw WorkerPoolError.stopping }
    }

    /// Whether a second set of `workers` would not fit: each new worker is taken to need as
    /// much private memory (`RssAnon`) as the largest current one (`privateBytes`, one per
    /// running worker); the weights' shared file pages are not counted (page cache, reclaimable).
    /// Nil when it fits or when nothing is known (no measurement, no free figure).
    static func memoryShortfall(privateBytes: [Int?], workers: Int, freeBytes: Int?) -> (needed: Int, free: Int)? {
        guard let free = freeBytes, let largest = privateBytes.compactMap({ $0 }).max() else { return nil }
        let (needed, overflow) = largest.multipliedReportingOverflow(by: workers)
        if overflow { return (.max, free) }
        return needed > free ? (needed, free) : nil
    }

    /// Ends a new process that will not be used (idle: it never got a batch).
    private func discard(_ worker: StartedWorker) {
        _ = try? worker.child.signal(SIGKILL)
        try? worker.channel.descriptor.shutdown(.both)
        try? worker.channel.descriptor.close()
        _ = try? worker.child.wait()
    }

    // MARK: Writing

    private func writeLoop(_ slot: WorkerSlot) {
        while let (message, channel) = slot.nextOutgoing() {
            do {
                try channel.send(message)
            } catch {
                logger.warning("writing to worker failed", metadata: ["worker": "\(slot.index)", "error": "\(error)"])
                // The connection it was queued for, which may be a process a reload retired.
                try? channel.descriptor.shutdown(.both)
            }
        }
    }
}

/// The new processes of one reload as they start, one entry per slot (guarded by a condition).
final class StandbyStarts: Sendable {
    private struct State {
        var results: [Result<WorkerPool.StartedWorker, any Error>?]
        var children: [ChildProcess?]
        var abandoned = false
        /// nil until decided; then the generations to serve the slots in, or nil: discard.
        var decision: [Int]??

        var failed: Bool { results.contains { if case .failure? = $0 { return true } else { return false } } }
    }

    private let state: LockedCondition<State>

    init(count: Int) {
        state = LockedCondition(State(results: Array(repeating: nil, count: count),
                                      children: Array(repeating: nil, count: count)))
    }

    /// Records a spawned process; false if the reload already gave up (the caller kills it).
    func spawned(_ index: Int, _ child: ChildProcess) -> Bool {
        state.withLock { state in
            state.children[index] = child
            return !state.abandoned
        }
    }

    /// Tells the threads of the started processes whether they serve (each its slot's new
    /// generation) or discard their process.
    func decide(_ generations: [Int]?) {
        state.withLock { $0.decision = .some(generations) }
        state.broadcast()
    }

    /// Blocks until `decide`; the generation slot `index` serves in, or nil to discard.
    func verdict(for index: Int) -> Int? {
        state.withLock(waitingUntil: { $0.decision != nil }) { state, _ in
            guard case .some(.some(let generations)) = state.decision, index < generations.count else { return nil }
            return generations[index]
        }
    }

    func finish(_ index: Int, _ result: Result<WorkerPool.StartedWorker, any Error>) {
        state.withLock { $0.results[index] = result }
        state.broadcast()
    }

    /// Waits until every slot has a result, one fails, or `timeout` passed. Processes still
    /// loading then are killed (their threads see the socket close and finish). Returns what is
    /// known; nil for a slot that did not finish.
    func wait(timeout: Duration) -> [Result<WorkerPool.StartedWorker, any Error>?] {
        let deadline = ContinuousClock.now + timeout
        let complete = state.withLock(waitingUntil: { !$0.results.contains(where: { $0 == nil }) || $0.failed },
                                      deadline: deadline) { state, _ -> [Result<WorkerPool.StartedWorker, any Error>?]? in
            guard state.results.contains(where: { $0 == nil }) else { return state.results }
            state.abandoned = true
            for (index, child) in state.children.enumerated() where state.results[index] == nil {
                _ = try? child?.signal(SIGKILL)
            }
            return nil
        }
        if let complete { return complete }
        // The killed ones finish quickly (their read ends); wait for them so none is left
        // half-registered, but never forever.
        return state.withLock(waitingUntil: { state in
            !state.results.enumerated().contains(where: { $0.element == nil && state.children[$0.offset] != nil })
        }, deadline: .now + .seconds(5)) { state, _ in state.results }
    }
}

/// Why a worker start was refused.
public enum WorkerPoolError: Error, CustomStringConvertible {
    case exitedBeforeReady
    case loadFailed(String)
    case modelMismatch(expected: WorkerIdentity, got: WorkerIdentity)
    /// A reload replaced the process while it was still loading.
    case superseded
    /// A new process started for a reload did not say ready within the worker timeout.
    case notReadyInTime(seconds: Double)
    /// A reload's new process `worker` could not be started; the old processes keep serving.
    /// `modelFault`: the model itself was refused (it failed to load, or is another model).
    case reloadFailed(worker: Int, reason: String, modelFault: Bool)
    /// The pool is shutting down.
    case stopping
    /// Not even one more worker would fit in the free memory (`reloadPlan`).
    case notEnoughMemory(neededBytes: Int, freeBytes: Int)
    /// A one-at-a-time reload stopped after switching the first `switched` of `of` slots.
    case partiallyReloaded(switched: Int, of: Int, reason: String)

    public var description: String {
        switch self {
        case .superseded: return "replaced by a reload while it was loading"
        case .notReadyInTime(let seconds): return "the worker did not become ready within \(seconds) s (worker timeout)"
        case .reloadFailed(let worker, let reason, _): return "new worker \(worker): \(reason)"
        case .stopping: return "the server is shutting down"
        case .notEnoughMemory(let needed, let free):
            return "not enough memory to start even one new worker next to the serving ones (about \(needed >> 20) MiB needed, \(free >> 20) MiB free); the previous model stays in service (restart the server to switch models)"
        case .partiallyReloaded(let switched, let total, let reason):
            return "the one-at-a-time reload stopped at worker \(switched) of \(total) (\(reason)): workers 0 to \(switched - 1) serve the new model, the others the previous one; load again to finish"
        case .exitedBeforeReady: return "the worker exited before it was ready"
        case .loadFailed(let message): return "the worker could not load the model: \(message)"
        case .modelMismatch(let expected, let got):
            return "the worker loaded model \(got.modelName) (\(got.imageSize) px, \(got.labelCount) labels), expected \(expected.modelName) (\(expected.imageSize) px, \(expected.labelCount) labels)"
        }
    }
}

/// What the worker watchdog killed a process for.
enum WatchdogKill: Equatable {
    /// It sat on this batch longer than the worker timeout.
    case batch(UInt64)
    /// It did not say ready within the worker timeout of its spawn (a hung model load).
    case start
}

/// One replica: its current process and connection, its outbox and its counters.
final class WorkerSlot: Sendable {
    let index: Int
    let cpus: CPUSet

    private struct State {
        var state: WorkerStatus.State = .starting
        var child: ChildProcess?
        var channel: FrameChannel?
        var outbox: [(WireMessage, FrameChannel)] = []
        var outboxClosed = false
        var restarts = 0
        var timeouts = 0
        var busyTime = Duration.zero
        var batches = 0
        /// Batches handed to the current process and not answered yet: id and when it was queued
        /// for writing, oldest first (at most the dispatcher's two per worker, plus a retry).
        var unanswered: [(id: UInt64, sentAt: ContinuousClock.Instant)] = []
        /// Recent batch times and the stall rule.
        var stallDetector: StallDetector
        /// Whether the last `checkStall` found it stalled (to count each stall once).
        var stallReported = false
        var stallCount = 0
        /// When the current process last answered a batch (or was attached; every process is
        /// attached before it can hold a batch or be checked for a hung start).
        var lastAnswerAt = ContinuousClock.now
        /// Why the watchdog killed the current process, until the supervisor reads it.
        var watchdogKill: WatchdogKill?
        /// Bumped each time a reload hands the slot a new process: a supervisor of an older
        /// generation stops restarting.
        var generationNumber = 0
        /// Processes a reload replaced that have not exited yet: each finishes the batches it held
        /// (`unanswered`) and exits on the `shutdown` queued behind them.
        /// `since` is nil once the watchdog killed it for overstaying (killed only once).
        var retiring: [(channel: FrameChannel, child: ChildProcess, unanswered: [UInt64], since: ContinuousClock.Instant?)] = []
        /// Retired processes not reaped yet: their connection may have ended (`retiring` no
        /// longer lists them) before `waitpid` returned, and only then is their memory free.
        var retiredUnreaped = 0

        /// The oldest unanswered batch of a ready worker and how long the worker has been on it:
        /// since it was sent or since the batch before it was answered, whichever is later.
        func heldBatch(now: ContinuousClock.Instant) -> (id: UInt64, held: Duration)? {
            guard state == .ready, let oldest = unanswered.first else { return nil }
            let started = max(oldest.sentAt, lastAnswerAt)
            return (oldest.id, now > started ? now - started : .zero)
        }
    }

    private let locked: LockedCondition<State>
    /// The dispatcher keeps at most two batches per worker; a little slack covers the shutdown
    /// message and a retry racing a restart.
    private let outboxCapacity = 8

    init(index: Int, cpus: CPUSet, stalls: StallDetector = StallDetector()) {
        self.index = index
        self.cpus = cpus
        locked = LockedCondition(State(stallDetector: stalls))
    }

    var status: WorkerStatus {
        locked.withLock { slot in
            WorkerStatus(index: index, state: slot.state, pid: slot.child?.pid, cpus: cpus.description,
                         restarts: slot.restarts, timeouts: slot.timeouts, busyTime: slot.busyTime, batches: slot.batches,
                         stalled: slot.heldBatch(now: ContinuousClock.now).map { slot.stallDetector.isStalled(held: $0.held) } ?? false,
                         stalls: slot.stallCount)
        }
    }

    /// Counts and returns a stall when the worker has just become stalled (once per stall).
    func checkStall(now: ContinuousClock.Instant) -> (batchID: UInt64, held: Duration, threshold: Duration)? {
        locked.withLock { slot in
            guard let held = slot.heldBatch(now: now), slot.stallDetector.isStalled(held: held.held) else {
                slot.stallReported = false
                return nil
            }
            guard !slot.stallReported else { return nil }
            slot.stallReported = true
            slot.stallCount += 1
            return (held.id, held.held, slot.stallDetector.threshold)
        }
    }

    /// Sets the state, unless a reload moved the slot past `generation` (a supervisor of a
    /// replaced process must not touch its successor's state).
    func setState(_ newState: WorkerStatus.State, generation: Int) {
        locked.withLock { slot in
            if generation == slot.generationNumber { slot.state = newState }
        }
    }

    func countRestart() {
        locked.withLock { $0.restarts += 1 }
    }

    func recordBatch(id: UInt64, time: Duration) {
        locked.withLock { slot in
            if let r = slot.retiring.firstIndex(where: { $0.unanswered.contains(id) }) {
                // Answered by a process a reload retired: counted, but it says nothing about the
                // current process's health.
                slot.retiring[r].unanswered.removeAll { $0 == id }
                slot.busyTime += time
                slot.batches += 1
                return
            }
            let now = ContinuousClock.now
            if let held = slot.heldBatch(now: now), held.id == id { slot.stallDetector.record(batchTime: held.held) }
            slot.busyTime += time
            slot.batches += 1
            slot.unanswered.removeAll { $0.id == id }
            slot.lastAnswerAt = now
            slot.stallReported = false
        }
    }

    /// The oldest unanswered batch if the process has been on it longer than `timeout`. The
    /// clock for a batch starts when it was sent or when the batch before it was answered,
    /// whichever is later, so a second batch waiting behind a long first one is not blamed.
    func overdueBatch(now: ContinuousClock.Instant, timeout: Duration) -> (batchID: UInt64, pid: Int32, waited: Duration)? {
        locked.withLock { slot in
            guard slot.state == .ready, slot.watchdogKill == nil, let oldest = slot.unanswered.first,
                  let child = slot.child else { return nil }
            let started = max(oldest.sentAt, slot.lastAnswerAt)
            guard now > started, now - started > timeout else { return nil }
            return (oldest.id, child.pid, now - started)
        }
    }

    /// The current process if it was spawned longer than `timeout` ago and has not said ready.
    /// Only while its connection is attached: after `end` the process may be reaped and its
    /// pid reused.
    func overdueStart(now: ContinuousClock.Instant, timeout: Duration) -> (pid: Int32, waited: Duration)? {
        locked.withLock { slot in
            guard slot.state == .starting, slot.watchdogKill == nil, slot.channel != nil, let child = slot.child else { return nil }
            guard now > slot.lastAnswerAt, now - slot.lastAnswerAt > timeout else { return nil }
            return (child.pid, now - slot.lastAnswerAt)
        }
    }

    /// SIGKILL for the worker process `pid`, stuck on a batch or on its start; its supervisor
    /// sees the connection end, reports the loss (a held batch is retried) and restarts it.
    /// Nothing happens if that process already ended and another took the slot meanwhile.
    func kill(for why: WatchdogKill, pid: Int32) {
        let target = locked.withLock { slot -> (ChildProcess, FrameChannel?)? in
            guard let child = slot.child, child.pid == pid, slot.channel != nil, slot.watchdogKill == nil else { return nil }
            slot.watchdogKill = why
            slot.timeouts += 1
            return (child, slot.channel)
        }
        guard let (child, channel) = target else { return }
        _ = try? child.signal(SIGKILL)
        try? channel?.descriptor.shutdown(.both)
    }

    /// Why the watchdog killed the current process, if it did (once).
    func takeWatchdogKill() -> WatchdogKill? {
        locked.withLock { slot in
            let why = slot.watchdogKill
            slot.watchdogKill = nil
            return why
        }
    }

    /// Makes a freshly spawned process the slot's current one, unless a reload moved the slot
    /// past `generation` meanwhile (then false: the caller discards the process).
    func attach(child: ChildProcess, channel: FrameChannel, generation: Int) -> Bool {
        locked.withLock { slot in
            guard generation == slot.generationNumber else { return false }
            slot.child = child
            slot.channel = channel
            slot.state = .starting
            slot.unanswered.removeAll()
            slot.lastAnswerAt = ContinuousClock.now
            slot.watchdogKill = nil
            return true
        }
    }

    /// How a process's connection ended, decided under the slot's lock (a reload may race).
    enum ConnectionEnd: Equatable {
        /// A reload had retired it; these batches it never answered.
        case retired(lost: [UInt64])
        /// It was the slot's process (or a stale one): forgotten, its queued frames dropped
        /// (the dispatcher re-routes them).
        case current
    }

    /// Forgets the process on `channel` once its connection has ended.
    func end(channel: FrameChannel) -> ConnectionEnd {
        locked.withLock { slot in
            slot.outbox.removeAll { $0.1 === channel }
            if let r = slot.retiring.firstIndex(where: { $0.channel === channel }) {
                let lost = slot.retiring[r].unanswered
                slot.retiring.remove(at: r)
                return .retired(lost: lost)
            }
            if slot.channel === channel {
                slot.channel = nil
                slot.unanswered.removeAll()
                if slot.state == .ready { slot.state = .restarting }
            }
            return .current
        }
    }

    /// Whether a process a reload replaced in this slot is still running.
    var isRetiring: Bool {
        locked.withLock { $0.retiredUnreaped > 0 }
    }

    /// A retired process was reaped (its supervisor's `waitpid` returned).
    func retiredReaped() {
        locked.withLock { $0.retiredUnreaped = max(0, $0.retiredUnreaped - 1) }
    }

    /// The slot's generation (see `swap`).
    var generation: Int {
        locked.withLock { $0.generationNumber }
    }

    /// Marks the process on `channel` ready; false if a reload replaced it meanwhile.
    func markReady(channel: FrameChannel) -> Bool {
        locked.withLock { slot in
            guard slot.channel === channel else { return false }
            slot.state = .ready
            return true
        }
    }

    /// Makes a new, ready process the slot's current one (a reload). The old process, if it
    /// was ready, is retired: `shutdown` is queued behind the batches it holds. An old process
    /// still loading is retired too and returned, for the caller to kill. Returns the new
    /// generation for the new process's supervisor.
    func swap(to newChild: ChildProcess, channel newChannel: FrameChannel) -> (generation: Int, unready: ChildProcess?) {
        let (result, queued) = locked.withLock { slot in
            let now = ContinuousClock.now
            var unready: ChildProcess?
            var queued = false
            if let oldChannel = slot.channel, let oldChild = slot.child {
                slot.retiredUnreaped += 1
                if slot.state == .ready {
                    slot.retiring.append((oldChannel, oldChild, slot.unanswered.map(\.id), now))
                    slot.outbox.append((.shutdown, oldChannel))
                    queued = true
                } else {
                    slot.retiring.append((oldChannel, oldChild, [], now))
                    unready = oldChild
                }
            }
            slot.child = newChild
            slot.channel = newChannel
            slot.state = .ready
            slot.unanswered.removeAll()
            slot.lastAnswerAt = now
            slot.watchdogKill = nil
            slot.stallReported = false
            slot.generationNumber += 1
            return ((slot.generationNumber, unready), queued)
        }
        if queued { locked.signal() }
        return result
    }

    /// Retired processes still running `limit` after their retirement (a hung batch, a process
    /// that ignores `shutdown`): SIGKILLed, their batches then go to the new processes.
    func killOverstayingRetired(now: ContinuousClock.Instant, limit: Duration) -> [Int32] {
        let overdue = locked.withLock { slot in
            func overstays(_ since: ContinuousClock.Instant?) -> Bool { since.map { now - $0 > limit } ?? false }
            let overdue = slot.retiring.filter { overstays($0.since) }
            // Killed once: without `since` it is not picked again.
            for index in slot.retiring.indices where overstays(slot.retiring[index].since) {
                slot.retiring[index].since = nil
            }
            return overdue
        }
        for process in overdue {
            _ = try? process.child.signal(SIGKILL)
            try? process.channel.descriptor.shutdown(.both)
        }
        return overdue.map(\.child.pid)
    }

    /// Queues a message for the current connection; false if there is none or the outbox is full.
    func enqueue(_ message: WireMessage) -> Bool {
        let queued = locked.withLock { slot in
            guard slot.state == .ready, let channel = slot.channel, slot.outbox.count < outboxCapacity else { return false }
            slot.outbox.append((message, channel))
            if case .batch(let id, _) = message { slot.unanswered.append((id, ContinuousClock.now)) }
            return true
        }
        if queued { locked.signal() }
        return queued
    }

    /// Blocks for the next message to write; nil once the outbox is closed.
    func nextOutgoing() -> (WireMessage, FrameChannel)? {
        locked.withLock(waitingUntil: { !$0.outbox.isEmpty || $0.outboxClosed }) { slot, _ in
            slot.outbox.isEmpty ? nil : slot.outbox.removeFirst()
        }
    }

    /// Breaks the connection so the supervisor's read ends and it restarts the worker.
    func abortConnection() {
        let channel = locked.withLock { $0.channel }
        try? channel?.descriptor.shutdown(.both)
    }

    /// Sends `shutdown` to the current worker (if any).
    func beginShutdown() {
        locked.withLock { slot in
            if let channel = slot.channel { slot.outbox.append((.shutdown, channel)) }
        }
        locked.signal()
    }

    /// SIGKILL for a worker (and any process a reload retired) that did not exit in time.
    func kill() {
        let children = locked.withLock { slot in [slot.child].compactMap { $0 } + slot.retiring.map(\.child) }
        for child in children { _ = try? child.signal(SIGKILL) }
    }

    func closeOutbox() {
        locked.withLock { $0.outboxClosed = true }
        locked.broadcast()
    }
}
