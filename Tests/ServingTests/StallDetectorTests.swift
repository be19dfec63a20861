import Testing
@testable import Serving

private let ms: UInt64 = 1_000_000

@Suite struct StallDetectorTests {
    @Test func theFloorHoldsUntilBatchesAreSlow() {
        var detector = StallDetector(floorNanos: 5_000 * ms)
        #expect(detector.thresholdNanos == 5_000 * ms, "no history: the floor")
        for _ in 0..<20 { detector.record(batchNanos: 8 * ms) }
        #expect(detector.p99Nanos == 8 * ms)
        #expect(detector.thresholdNanos == 5_000 * ms, "10 × 8 ms is under the floor")
        #expect(!detector.isStalled(heldNanos: 4_999 * ms))
        #expect(detector.isStalled(heldNanos: 5_001 * ms))
    }

    @Test func slowBatchesRaiseTheThresholdToTenTimesTheirP99() {
        var detector = StallDetector(floorNanos: 1_000 * ms)
        for _ in 0..<64 { detector.record(batchNanos: 300 * ms) }
        #expect(detector.p99Nanos == 300 * ms)
        #expect(detector.thresholdNanos == 3_000 * ms)
        #expect(!detector.isStalled(heldNanos: 2_900 * ms))
        #expect(detector.isStalled(heldNanos: 3_100 * ms))
        // Over 64 samples the nearest-rank p99 is the slowest one: one slow batch (under the
        // threshold) makes the rule more patient, never less.
        detector.record(batchNanos: 900 * ms)
        #expect(detector.p99Nanos == 900 * ms)
        #expect(!detector.isStalled(heldNanos: 8_000 * ms))
    }

    @Test func aBatchAnsweredAfterAStallDoesNotRaiseTheThreshold() {
        var detector = StallDetector(floorNanos: 1_000 * ms)
        for _ in 0..<10 { detector.record(batchNanos: 5 * ms) }
        detector.record(batchNanos: 60_000 * ms)   // SIGSTOPped for a minute, then answered
        #expect(detector.thresholdNanos == 1_000 * ms)
    }

    @Test func onlyTheLastSixtyFourBatchesCount() {
        var detector = StallDetector(floorNanos: 100 * ms)
        for _ in 0..<64 { detector.record(batchNanos: 50 * ms) }
        #expect(detector.thresholdNanos == 500 * ms)
        for _ in 0..<64 { detector.record(batchNanos: 1 * ms) }
        #expect(detector.p99Nanos == 1 * ms)
        #expect(detector.thresholdNanos == 100 * ms)
    }
}
