#if canImport(Glibc)
import Glibc
#endif
import POSIX

/// Pins a whole process, not just its calling thread.
enum ThreadPinning {
    /// Pins the calling thread (threads it starts later inherit the mask) and then every other
    /// thread already running in this process — OpenBLAS starts its pool when the library loads,
    /// before `main` — to `set`. Threads that end meanwhile are skipped.
    static func pinProcess(to set: CPUSet) throws {
        try setAffinity(pid: 0, set: set)
        guard let dir = opendir("/proc/self/task") else { return }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            guard let tid = Int32(name) else { continue }
            try? setAffinity(pid: tid, set: set)
        }
    }
}
