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
        // Eight megabytes touched here must show in our own RssAnon.
        let before = try #require(SystemMemory.anonymousResidentBytes(pid: getpid()))
        var block = [UInt8](repeating: 1, count: 8 << 20)
        block[block.count - 1] = 2
        let after = try #require(SystemMemory.anonymousResidentBytes(pid: getpid()))
        #expect(after >= before + (4 << 20), "\(before) → \(after)")
        #expect(block.last == 2)
        let free = try #require(SystemMemory.freeBytes())
        #expect(free > 0 && free <= (SystemMemory.availableBytes() ?? .max))
        #expect(SystemMemory.anonymousResidentBytes(pid: -1) == nil)
    }
}
