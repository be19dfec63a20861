import CSystemShims

/// Why a CPU list did not parse, with the offending text and its position.
public struct CPUSetError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The whole input.
    public let input: String
    /// Character offset of the problem in `input`.
    public let position: Int
    /// What is wrong.
    public let reason: String

    /// Creates an error.
    public init(input: String, position: Int, reason: String) {
        self.input = input
        self.position = position
        self.reason = reason
    }

    /// `"invalid CPU list "0-3;x" at character 4: expected a CPU number"`.
    public var description: String {
        "invalid CPU list \"\(input)\" at character \(position): \(reason)"
    }
}

/// A set of CPU numbers, written like Linux's `cpuset` lists: `"0-3,5"`. Several sets
/// (one per worker) are separated by `;`: `"0-3;4-7"`.
public struct CPUSet: Hashable, Sendable, CustomStringConvertible {
    /// The CPUs, ascending, without repeats.
    public let cpus: [Int]

    /// The largest CPU number + 1 the kernel's `cpu_set_t` holds (1024).
    public static var capacity: Int { Int(fs_cpu_setsize()) }

    /// A set of the given CPUs (each in `0..<capacity`).
    public init(_ cpus: some Sequence<Int>) throws(CPUSetError) {
        let sorted = Array(Set(cpus)).sorted()
        if let bad = sorted.first(where: { $0 < 0 || $0 >= Self.capacity }) {
            throw CPUSetError(input: "\(bad)", position: 0, reason: "CPU \(bad) is outside 0..<\(Self.capacity)")
        }
        self.cpus = sorted
    }

    private init(validated: [Int]) { cpus = validated }

    /// Parses one set: comma-separated CPU numbers and inclusive ranges (`"0-3,5,7-8"`).
    /// Spaces around items are allowed; empty items, reversed ranges, signs and numbers
    /// beyond the kernel's limit are errors.
    public init(parsing text: String) throws(CPUSetError) {
        self = try Self.parseSet(Array(text.utf8), input: text, offset: 0)
    }

    /// Parses several sets separated by `;` (`"0-3;4-7"`). Sets may not be empty.
    public static func parseList(_ text: String) throws(CPUSetError) -> [CPUSet] {
        let bytes = Array(text.utf8)
        var sets: [CPUSet] = []
        var start = 0
        for index in 0...bytes.count where index == bytes.count || bytes[index] == UInt8(ascii: ";") {
            sets.append(try parseSet(Array(bytes[start..<index]), input: text, offset: start))
            start = index + 1
        }
        return sets
    }

    private static func parseSet(_ bytes: [UInt8], input: String, offset: Int) throws(CPUSetError) -> CPUSet {
        func fail(_ at: Int, _ reason: String) -> CPUSetError {
            CPUSetError(input: input, position: offset + at, reason: reason)
        }
        var cpus = Set<Int>()
        var index = 0
        func skipSpaces() { while index < bytes.count, bytes[index] == UInt8(ascii: " ") { index += 1 } }
        func number() throws(CPUSetError) -> Int {
            let start = index
            var value = 0
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                if value >= capacity { throw fail(start, "CPU number is not below \(capacity)") }
                index += 1
            }
            if index == start {
                throw fail(start, index < bytes.count ? "expected a CPU number, found '\(Character(Unicode.Scalar(bytes[index])))'" : "expected a CPU number")
            }
            return value
        }
        if bytes.allSatisfy({ $0 == UInt8(ascii: " ") }) { throw fail(0, "empty CPU set") }
        while true {
            skipSpaces()
            let itemStart = index
            let first = try number()
            skipSpaces()
            var last = first
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
                index += 1
                skipSpaces()
                last = try number()
                if last < first { throw fail(itemStart, "range \(first)-\(last) is reversed") }
                skipSpaces()
            }
            for cpu in first...last { cpus.insert(cpu) }
            if index == bytes.count { break }
            guard bytes[index] == UInt8(ascii: ",") else {
                throw fail(index, "expected ',' or ';', found '\(Character(Unicode.Scalar(bytes[index])))'")
            }
            index += 1
        }
        return CPUSet(validated: cpus.sorted())
    }

    /// How many CPUs.
    public var count: Int { cpus.count }

    /// Whether `cpu` is in the set.
    public func contains(_ cpu: Int) -> Bool { cpus.contains(cpu) }

    /// Whether every CPU of `self` is in `other`.
    public func isSubset(of other: CPUSet) -> Bool { Set(cpus).isSubset(of: Set(other.cpus)) }

    /// Whether the two sets share a CPU.
    public func overlaps(_ other: CPUSet) -> Bool { !Set(cpus).isDisjoint(with: Set(other.cpus)) }

    /// Canonical list form with ranges: `"0-3,5"`.
    public var description: String {
        var parts: [String] = []
        var index = 0
        while index < cpus.count {
            var end = index
            while end + 1 < cpus.count, cpus[end + 1] == cpus[end] + 1 { end += 1 }
            parts.append(end == index ? "\(cpus[index])" : "\(cpus[index])-\(cpus[end])")
            index = end + 1
        }
        return parts.joined(separator: ",")
    }
}

/// The CPUs `pid` may run on (`sched_getaffinity`; 0 = the calling thread). Respects a
/// mask set from outside, e.g. systemd's `CPUAffinity=` or `taskset`.
public func currentAffinity(pid: Int32 = 0) throws -> CPUSet {
    var buffer = [Int32](repeating: 0, count: CPUSet.capacity)
    let count = try buffer.withUnsafeMutableBufferPointer { cpus in
        try syscallValue(name: "sched_getaffinity") { fs_sched_getaffinity(pid, cpus.baseAddress, Int32(cpus.count)) }
    }
    return try CPUSet(buffer.prefix(Int(count)).map { Int($0) })
}

/// Pins `pid` (0 = the calling thread; threads created afterwards inherit it) to `set`.
/// Pin a worker process early, before it starts thread pools (OpenBLAS threads created
/// earlier keep their old mask).
public func setAffinity(pid: Int32 = 0, set: CPUSet) throws {
    let cpus = set.cpus.map { Int32($0) }
    try cpus.withUnsafeBufferPointer { buffer in
        _ = try syscallValue(name: "sched_setaffinity") { fs_sched_setaffinity(pid, buffer.baseAddress, Int32(buffer.count)) }
    }
}
