import Model
import POSIX

#if canImport(Glibc)
import Glibc
#endif

/// Why a worker process could not start.
public enum WorkerStartError: Error, CustomStringConvertible {
    case noChannel
    case badDelayFactor(String)
    case refusedByTestHook

    public var description: String {
        switch self {
        case .noChannel: return "fusion-serve worker is started by fusion-serve serve (descriptor 3 is not a socket)"
        case .badDelayFactor(let text):
            return "FUSION_TEST_WORKER_DELAY_FACTOR must be comma-separated numbers ≥ 1, one per worker, not \"\(text)\""
        case .refusedByTestHook:
            return "test hook \(WorkerTestHooks.failLoadUnlessFirstVariable): this worker refuses to load the model"
        }
    }
}

/// The body of `fusion-serve worker`: pin, size the BLAS pool, load the model, answer batches.
public enum WorkerMain {
    /// The descriptor the server passes the socket pair end on.
    public static let channelDescriptor: Int32 = 3

    /// Test-only slowdown for worker `index` from `FUSION_TEST_WORKER_DELAY_FACTOR`
    /// (e.g. `"3,1"`: worker 0 three times slower); 1 when unset or test hooks are off.
    public static func delayFactor(index: Int, environment: [String: String]) throws -> Double {
        guard WorkerTestHooks.areEnabled(environment: environment) else { return 1 }
        guard let text = environment["FUSION_TEST_WORKER_DELAY_FACTOR"], !text.isEmpty else { return 1 }
        let factors = text.split(separator: ",").map { Double($0.trimmingCharacters(in: " ")) }
        guard factors.allSatisfy({ ($0 ?? 0) >= 1 }) else { throw WorkerStartError.badDelayFactor(text) }
        return index < factors.count ? factors[index] ?? 1 : 1
    }

    /// Test-only hang from `FUSION_TEST_WORKER_HANG_ONCE=PATH` (worker 0 never answers its first
    /// batch) or `FUSION_TEST_WORKER_HANG_LOAD_ONCE=PATH` (worker 0 never finishes loading the
    /// model), if this is the first worker 0 to claim PATH (created exclusively). A restarted
    /// worker 0 finds the file and runs normally, so a test sees exactly one hang per PATH.
    /// Never when test hooks are off (no file is created then).
    public static func claimsHang(index: Int, environment: [String: String],
                                  variable: String = "FUSION_TEST_WORKER_HANG_ONCE") -> Bool {
        guard WorkerTestHooks.areEnabled(environment: environment) else { return false }
        guard index == 0, let path = environment[variable], !path.isEmpty else { return false }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        close(fd)
        return true
    }

    /// Runs the worker; returns when the server says shutdown or goes away.
    public static func run(modelDirectory: String, index: Int, cpus: CPUSet?, maxBatch: Int,
                           precision: Precision = .fp32, backend: Backend? = nil) throws {
        // Die with the server even if it is killed with SIGKILL (no chance to say shutdown).
        try? ProcessControl.setParentDeathSignal(SIGKILL, expectedParent: ProcessControl.parentID)
        var status = stat()
        guard fstat(channelDescriptor, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else {
            throw WorkerStartError.noChannel
        }
        if let cpus {
            try ThreadPinning.pinProcess(to: cpus)
            FusionModel.setThreads(cpus.count)
        }
        let environment = ProcessControl.environment()
        let factor = try delayFactor(index: index, environment: environment)
        let loop = WorkerLoop(descriptor: FileDescriptor(rawValue: channelDescriptor), workerIndex: index,
                              maxBatch: maxBatch, delayFactor: factor,
                              hangOnFirstBatch: claimsHang(index: index, environment: environment),
                              hangWhileLoading: claimsHang(index: index, environment: environment,
                                                           variable: "FUSION_TEST_WORKER_HANG_LOAD_ONCE"))
        _ = try loop.run {
            if WorkerTestHooks.refusesLoad(index: index, environment: environment) { throw WorkerStartError.refusedByTestHook }
            return try FusionModelExecutor(directory: modelDirectory, precision: precision, backend: backend)
        }
    }
}
