#if canImport(Glibc)
import Glibc
#endif

/// The worker's test hooks (`FUSION_TEST_WORKER_*`): fault injection for the resilience and
/// router tests. They change behaviour silently (the delay factor even inflates the reported
/// inference time) and are inherited by every worker, so they act only when
/// `FUSION_ENABLE_TEST_HOOKS=1` is set as well; a stray variable in a production environment is
/// then ignored, and the server says so at start (`startupWarnings`).
public enum WorkerTestHooks {
    /// The switch that lets the hooks act.
    public static let enableVariable = "FUSION_ENABLE_TEST_HOOKS"
    /// Worker 0 (or each listed worker) sleeps so that its batches take this many times their
    /// forward time, e.g. `"3,1"`.
    public static let delayFactorVariable = "FUSION_TEST_WORKER_DELAY_FACTOR"
    /// Worker 0 never answers its first batch, once per marker file PATH.
    public static let hangOnceVariable = "FUSION_TEST_WORKER_HANG_ONCE"
    /// Worker 0 never finishes loading the model, once per marker file PATH.
    public static let hangLoadOnceVariable = "FUSION_TEST_WORKER_HANG_LOAD_ONCE"
    /// (Server side.) A reload takes the free memory to hold exactly this many more workers of
    /// the largest current worker's size, e.g. `1` for a one-at-a-time reload, `0` to refuse.
    public static let reloadFreeWorkersVariable = "FUSION_TEST_RELOAD_FREE_WORKERS"
    /// Every worker but worker 0 refuses to load the model while the file PATH exists (a
    /// reload's later workers failing, for the one-at-a-time reload's part-way stop).
    public static let failLoadUnlessFirstVariable = "FUSION_TEST_WORKER_FAIL_LOAD_UNLESS_FIRST"
    /// Every hook variable, in the order the warnings name them.
    public static let hookVariables = [delayFactorVariable, hangOnceVariable, hangLoadOnceVariable,
                                       reloadFreeWorkersVariable, failLoadUnlessFirstVariable]

    /// Whether worker `index` must refuse to load (`failLoadUnlessFirstVariable`).
    public static func refusesLoad(index: Int, environment: [String: String]) -> Bool {
        guard areEnabled(environment: environment), index > 0,
              let path = environment[failLoadUnlessFirstVariable], !path.isEmpty else { return false }
        return access(path, F_OK) == 0
    }

    /// The `reloadFreeWorkersVariable` count when the hooks are enabled and it is a number.
    public static func reloadFreeWorkers(environment: [String: String]) -> Int? {
        guard areEnabled(environment: environment), let text = environment[reloadFreeWorkersVariable],
              let count = Int(text), count >= 0, count <= 1024 else { return nil }
        return count
    }

    /// Whether the hooks may act: `FUSION_ENABLE_TEST_HOOKS` is exactly `1`.
    public static func areEnabled(environment: [String: String]) -> Bool {
        environment[enableVariable] == "1"
    }

    /// The hook variables set (non-empty) in `environment`, enabled or not.
    public static func setVariables(environment: [String: String]) -> [String] {
        hookVariables.filter { !(environment[$0] ?? "").isEmpty }
    }

    /// What the server logs as warnings at start: one line per hook that is set, saying whether
    /// it acts (with its value) or is ignored because the switch is off. Empty when none is set.
    public static func startupWarnings(environment: [String: String]) -> [String] {
        let enabled = areEnabled(environment: environment)
        return setVariables(environment: environment).map { name in
            let value = environment[name] ?? ""
            return enabled
                ? "test hook active: \(name)=\(value) (\(enableVariable)=1); not for production"
                : "test hook ignored: \(name) is set but \(enableVariable) is not 1"
        }
    }
}
