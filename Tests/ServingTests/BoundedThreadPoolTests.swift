import Foundation
import Locking
import Testing
@testable import Serving

@Suite struct BoundedThreadPoolTests {
    @Test func runsEverythingAndRefusesBeyondItsQueue() {
        let pool = BoundedThreadPool(name: "test", threads: 1, queueCapacity: 2)
        let gate = Gate()
        let state = Counter()
        let blocker: @Sendable () -> Void = {
            gate.waitOpen()
            state.add()
        }
        #expect(pool.submit(blocker))
        // Wait (bounded) until the thread has taken the first task and blocks in it.
        let taken = Date().addingTimeInterval(5)
        while pool.waiting > 0, Date() < taken { usleep(1000) }
        #expect(pool.submit { state.add() })
        #expect(pool.submit { state.add() })
        #expect(!pool.submit { state.add() }, "queue of 2 is full")
        gate.open()
        let end = Date().addingTimeInterval(5)
        while state.value < 3, Date() < end { usleep(1000) }
        #expect(state.value == 3)
        pool.stop()
        #expect(!pool.submit { state.add() })
    }

    @Test func nicenessLowersOnlyThePoolsThreads() throws {
        let pool = BoundedThreadPool(name: "nice", threads: 1, queueCapacity: 1, niceness: 10)
        defer { pool.stop() }
        let seen = Counter()
        let done = Gate()
        #expect(pool.submit {
            // Field 19 of /proc/thread-self/stat is the thread's nice value.
            let stat = (try? String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8)) ?? ""
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            if fields.count > 16, let nice = Int(fields[16]) { for _ in 0..<nice { seen.add() } }
            done.open()
        })
        done.waitOpen()
        #expect(seen.value == 10, "the pool's thread runs at nice 10")
        let mine = (try? String(contentsOfFile: "/proc/thread-self/stat", encoding: .utf8)) ?? ""
        let fields = mine.split(separator: ")").last?.split(separator: " ") ?? []
        #expect(fields.count > 16 && fields[16] == "0", "the caller's thread is untouched")
    }
}

private final class Counter: Sendable {
    private let count = Locked(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
