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

    /// Memory that can be allocated now without swapping: `MemAvailable` of `/proc/meminfo`,
    /// or less when a cgroup limit leaves less room (its limit minus its current use). Nil
    /// if unknown.
    public static func freeBytes() -> Int? {
        var candidates: [Int] = []
        if let text = readFile("/proc/meminfo", limit: 16_384), let kib = field("MemAvailable:", in: text) {
            candidates.append(kib * 1024)
        }
        if let limit = readSmallFile("/sys/fs/cgroup/memory.max").flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
           let used = readSmallFile("/sys/fs/cgroup/memory.current").flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
           limit > 0, limit < 1 << 60 {
            candidates.append(max(0, limit - used))
        }
        return candidates.min()
    }

    /// A process's private resident memory (`RssAnon` of `/proc/PID/status`: heap, stacks,
    /// converted weights, activations; shared file mappings such as F32 weights are not in
    /// it). Nil if unknown.
    public static func anonymousResidentBytes(pid: Int32) -> Int? {
        guard let text = readFile("/proc/\(pid)/status", limit: 8192), let kib = field("RssAnon:", in: text) else { return nil }
        return kib * 1024
    }

    /// The number after `name` on its line ("MemAvailable:   123456 kB" → 123456).
    static func field(_ name: String, in text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix(name) {
            // Spaces in /proc/meminfo, a tab and spaces in /proc/PID/status.
            return line.dropFirst(name.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
        }
        return nil
    }

    private static func readFile(_ path: String, limit: Int) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { _ = Glibc.close(fd) }
        var bytes = [UInt8](repeating: 0, count: limit)
        var total = 0
        while total < limit {
            let count = bytes.withUnsafeMutableBytes { raw in raw.baseAddress.map { read(fd, $0 + total, limit - total) } ?? -1 }
            if count <= 0 { break }
            total += count
        }
        return total > 0 ? String(decoding: bytes[0..<total], as: UTF8.self) : nil
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
