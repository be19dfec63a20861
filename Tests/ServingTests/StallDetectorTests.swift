import Testing
@testable import Serving

@Suite struct StallDetectorTests {
    @Test func theFloorHoldsUntilBatchesAreSlow() {
        var detector = StallDetector(floor: .milliseconds(5_000))
        #expect(detector.threshold == .milliseconds(5_000), "no history: the floor")
        for _ in 0..<20 { detector.record(batchTime: .milliseconds(8)) }
        #expect(detector.p99 == .milliseconds(8))
        #expect(detector.threshold == .milliseconds(5_000), "10 × 8 ms is under the floor")
        #expect(!detector.isStalled(held: .milliseconds(4_999)))
        #expect(detector.isStalled(held: .milliseconds(5_001)))
    }

    @Test func slowBatchesRaiseTheThresholdToTenTimesTheirP99() {
        var detector = StallDetector(floor: .milliseconds(1_000))
        for _ in 0..<64 { detector.record(batchTime: .milliseconds(300)) }
        #expect(detector.p99 == .milliseconds(300))
        #expect(detector.threshold == .milliseconds(3_000))
        #expect(!detector.isStalled(held: .milliseconds(2_900)))
        #expect(detector.isStalled(held: .milliseconds(3_100)))
        // Over 64 samples the nearest-rank p99 is the slowest one: one slow batch (under the
        // threshold) makes the rule more patient, never less.
        detector.record(batchTime: .milliseconds(900))
        #expect(detector.p99 == .milliseconds(900))
        #expect(!detector.isStalled(held: .milliseconds(8_000)))
    }

    @Test func aBatchAnsweredAfterAStallDoesNotRaiseTheThreshold() {
        var detector = StallDetector(floor: .milliseconds(1_000))
        for _ in 0..<10 { detector.record(batchTime: .milliseconds(5)) }
        detector.record(batchTime: .milliseconds(60_000))   // SIGSTOPped for a minute, then answered
        #expect(detector.threshold == .milliseconds(1_000))
    }

    @Test func onlyTheLastSixtyFourBatchesCount() {
        var detector = StallDetector(floor: .milliseconds(100))
        for _ in 0..<64 { detector.record(batchTime: .milliseconds(50)) }
        #expect(detector.threshold == .milliseconds(500))
        for _ in 0..<64 { detector.record(batchTime: .milliseconds(1)) }
        #expect(detector.p99 == .milliseconds(1))
        #expect(detector.threshold == .milliseconds(100))
    }
}
