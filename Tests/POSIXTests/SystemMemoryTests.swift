import Foundation
import Testing
@testable import POSIX

@Suite struct SystemMemoryTests {
    @Test func readsKibibyteFields() {
        let meminfo = "MemTotal:        8048576 kB\nMemFree:          123456 kB\nMemAvailable:    4000000 kB\n"
        #expect(SystemMemory.field("MemAvailable:", in: meminfo) == 4_000_000)
        #expect(SystemMemory.field("MemTotal:", in: meminfo) == 8_048_576)
        #expect(SystemMemory.field("SwapTotal:", in: meminfo) == nil)
        #expect(SystemMemory.field("RssAnon:", in: "VmRSS:\t    2076 kB\nRssAnon:\t     156 kB\n") == 156)
    }

    @Test func thisProcessHasPrivateMemoryAndTheMachineSomeFree() throws {
        // 32 MiB touched here must show in our own RssAnon. Other suites run in this process at
        // the same time and may free memory between the two readings, so a few tries are
        // allowed; a reader that does not follow the process's memory fails every one.
        var seen: [(Int, Int)] = []
        for _ in 0..<5 {
            let before = try #require(SystemMemory.anonymousResidentBytes(pid: getpid()))
            var block = [UInt8](repeating: 1, count: 32 << 20)
            block[block.count - 1] = 2
            let after = try #require(SystemMemory.anonymousResidentBytes(pid: getpid()))
            #expect(block.last == 2)
            seen.append((before, after))
            if after >= before + (16 << 20) { break }
        }
        #expect(seen.contains { $0.1 >= $0.0 + (16 << 20) }, "RssAnon before → after: \(seen)")
        let free = try #require(SystemMemory.freeBytes())
        #expect(free > 0 && free <= (SystemMemory.availableBytes() ?? .max))
        #expect(SystemMemory.anonymousResidentBytes(pid: -1) == nil)
    }
}
