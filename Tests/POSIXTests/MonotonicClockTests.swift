import Foundation
import Testing
import POSIX

@Suite struct MonotonicClockTests {
    @Test func advancesAndMatchesSleeps() {
        let a = MonotonicClock.nanoseconds()
        Thread.sleep(forTimeInterval: 0.02)
        let b = MonotonicClock.nanoseconds()
        #expect(b - a >= 19_000_000)
        #expect(MonotonicClock.milliseconds() >= b / 1_000_000)
    }

    @Test func durationNanoseconds() {
        #expect(Duration.milliseconds(1500).totalNanoseconds == 1_500_000_000)
        #expect(Duration.nanoseconds(7).totalNanoseconds == 7)
        #expect(Duration.seconds(Int64.max).totalNanoseconds == Int64.max)
    }
}
