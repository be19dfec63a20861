#if canImport(Glibc)
import Glibc
#endif

/// How much memory this process may use: the machine's RAM, or less when a cgroup (a
/// systemd `MemoryMax=`, a container limit) caps it.
public enum SystemMemory {
    /// The smaller of physical memory and the cgroup limit, in bytes (nil if unknown).
    public static func availableBytes() -> Int? {
        var candidates: [Int] = []
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        if pages > 0, pageSize > 0 { candidates.append(pages.multipliedReportingOverflow(by: pageSize).partialValue) }
        // cgroup v2, then v1; "max" or an absurd v1 value means no limit.
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = readSmallFile(path), let value = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)),
               value > 0, value < 1 << 60 {
                candidates.append(value)
            }
        }
        return candidates.min()
    }

    /// A short text file's contents (at most 4 KiB), or nil.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: bytes[0..<count], as: UTF8.self)
    }
}

private extension String {
    func trimmingCharacters(in set: Set<Character>) -> Substring {
        var view = self[...]
        while let first = view.first, set.contains(first) { view = view.dropFirst() }
        while let last = view.last, set.contains(last) { view = view.dropLast() }
        return view
    }
}

private extension Set where Element == Character {
    static let whitespacesAndNewlines: Set<Character> = [" ", "\n", "\t", "\r"]
}
