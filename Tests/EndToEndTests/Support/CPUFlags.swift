import Foundation

/// The CPU's feature flags as the kernel lists them (`flags` in /proc/cpuinfo, as `lscpu`
/// shows them): tests of modes that need an instruction set decide from these, independently of
/// the detection code under test. Empty where /proc/cpuinfo is unreadable.
let cpuFlags: Set<String> = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
          let colon = line.firstIndex(of: ":") else { return [] }
    return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
}()
