#if canImport(Glibc)
import Glibc
#endif
import CSystemShims
import Locking

/// How a child process ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called `exit(code)`.
    case exited(Int32)
    /// A signal killed it (e.g. 9 for `kill -9`).
    case signaled(Int32)

    /// Decodes a `waitpid` status word.
    package init(waitStatus status: Int32) {
        if fs_wifsignaled(status) != 0 {
            self = .signaled(fs_wtermsig(status))
        } else {
            self = .exited(fs_wexitstatus(status))
        }
    }

    /// `"exit code 0"` / `"signal 9"`.
    public var description: String {
        switch self {
        case .exited(let code): return "exit code \(code)"
        case .signaled(let signal): return "signal \(signal)"
        }
    }
}

/// A child process started with `posix_spawn`. The process is reaped exactly once (by
/// `tryWait`/`wait`); after that `signal` does nothing, so a recycled pid is never hit.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: Int32
    private let reaped: Locked<ExitStatus?>

    private init(pid: Int32) {
        self.pid = pid
        self.reaped = Locked(nil)
    }

    /// Starts `executable` with `arguments` (argv[1...]; argv[0] is `executable`) and
    /// `environment` (`nil` = inherit this process's). `fileDescriptors` maps a descriptor
    /// number in the child to a descriptor of ours (e.g. `[3: workerEnd]` for a socketpair);
    /// only those are inherited, everything else here is close-on-exec. The child starts
    /// with every signal at its default disposition and an empty signal mask.
    public static func spawn(
        executable: String, arguments: [String], environment: [String: String]? = nil,
        fileDescriptors: [Int32: FileDescriptor] = [:]
    ) throws -> ChildProcess {
        let argv = [executable] + arguments
        let env = (environment ?? ProcessControl.environment()).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let mapping = fileDescriptors.sorted { $0.key < $1.key }
        let sources = mapping.map { $0.value.rawValue }
        let targets = mapping.map { $0.key }
        var pid: pid_t = 0
        try withCStrings(argv) { argvPointer in
            try withCStrings(env) { envPointer in
                _ = try syscallValue(name: "posix_spawn") {
                    fs_spawn(&pid, executable, argvPointer, envPointer, sources, targets, Int32(sources.count))
                }
            }
        }
        // Keep the parent's descriptors alive until the child has its copies.
        withExtendedLifetime(fileDescriptors) {}
        return ChildProcess(pid: pid)
    }

    /// The exit status once reaped.
    public var exitStatus: ExitStatus? { reaped.withLock { $0 } }

    /// Reaps the child if it has exited (`waitpid(WNOHANG)`); `nil` while it runs.
    public func tryWait() throws -> ExitStatus? {
        try reaped.withLock { state -> ExitStatus? in
            if let state { return state }
            var status: Int32 = 0
            let result = try syscallValue(name: "waitpid") { waitpid(pid, &status, fs_wnohang()) }
            guard result == pid else { return nil }
            state = ExitStatus(waitStatus: status)
            return state
        }
    }

    /// Blocks until the child exits; returns its status.
    public func wait() throws -> ExitStatus {
        while true {
            if let status = try tryWait() { return status }
            // Wait without reaping (WNOWAIT) so the pid stays ours while `signal` may run.
            var info = siginfo_t()
            _ = try syscallValue(name: "waitid") { waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) }
        }
    }

    /// Sends `signal` unless the child was already reaped; returns whether it was sent.
    @discardableResult
    public func signal(_ signal: Int32) throws -> Bool {
        try reaped.withLock { state -> Bool in
            guard state == nil else { return false }
            do {
                try syscallValue(name: "kill") { Glibc.kill(pid, signal) }
            } catch {
                if (error as? SystemCallError)?.errno == ESRCH { return false }
                throw error
            }
            return true
        }
    }
}

/// Calls `body` with a NULL-terminated `char *[]` of `strings`.
private func withCStrings<R>(
    _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) throws -> R
) throws -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    if pointers.dropLast().contains(where: { $0 == nil }) { throw SystemCallError(call: "strdup", errno: ENOMEM) }
    return try pointers.withUnsafeBufferPointer { buffer in
        guard let base = buffer.baseAddress else { throw SystemCallError(call: "argv", errno: EINVAL) }
        return try body(base)
    }
}

/// Facts about and settings of the current process.
public enum ProcessControl {
    /// This process's id.
    public static var id: Int32 { getpid() }

    /// The parent's process id (1 or a subreaper once the parent died).
    public static var parentID: Int32 { getppid() }

    /// Absolute path of the running executable (`/proc/self/exe`), for re-spawning itself
    /// as a worker.
    public static func executablePath() throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = try buffer.withUnsafeMutableBufferPointer { pointer -> Int in
            guard let base = pointer.baseAddress else { return 0 }
            return try syscallValue(name: "readlink(/proc/self/exe)") { readlink("/proc/self/exe", base, pointer.count - 1) }
        }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// This process's environment.
    public static func environment() -> [String: String] {
        var result: [String: String] = [:]
        guard var entry = fs_environ() else { return result }
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return result
    }

    /// Asks the kernel to send `signal` to this process when its parent dies
    /// (`prctl(PR_SET_PDEATHSIG)`), so a worker never outlives its server. If the parent is
    /// already gone (it is not `expectedParent` any more), throws `ESRCH` — the caller
    /// should exit. Note: "parent" is the *thread* that spawned us; spawn workers from a
    /// long-lived thread.
    public static func setParentDeathSignal(_ signal: Int32, expectedParent: Int32? = nil) throws {
        try syscallValue(name: "prctl(PR_SET_PDEATHSIG)") { fs_prctl_set_pdeathsig(signal) }
        if let expectedParent, getppid() != expectedParent {
            throw SystemCallError(call: "prctl(PR_SET_PDEATHSIG): parent already exited", errno: ESRCH)
        }
    }
}
