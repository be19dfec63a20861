import Foundation
import Testing
@testable import Serving

@Suite struct WorkerMainTests {
    @Test func theTestSlowdownIsPerWorkerIndex() throws {
        let env = ["FUSION_TEST_WORKER_DELAY_FACTOR": "3, 1.5"]
        #expect(try WorkerMain.delayFactor(index: 0, environment: env) == 3)
        #expect(try WorkerMain.delayFactor(index: 1, environment: env) == 1.5)
        #expect(try WorkerMain.delayFactor(index: 2, environment: env) == 1, "workers past the list run at full speed")
        #expect(try WorkerMain.delayFactor(index: 0, environment: [:]) == 1)
    }

    @Test func theTestHangIsClaimedOnceByWorkerZero() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hang-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = ["FUSION_TEST_WORKER_HANG_ONCE": path]
        #expect(!WorkerMain.claimsHang(index: 1, environment: env), "only worker 0 hangs")
        #expect(WorkerMain.claimsHang(index: 0, environment: env))
        #expect(!WorkerMain.claimsHang(index: 0, environment: env), "a restarted worker 0 runs normally")
        #expect(!WorkerMain.claimsHang(index: 0, environment: [:]))
    }

    @Test func theLoadHangHasItsOwnVariableAndMarker() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hang-load-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = ["FUSION_TEST_WORKER_HANG_LOAD_ONCE": path]
        let variable = "FUSION_TEST_WORKER_HANG_LOAD_ONCE"
        #expect(!WorkerMain.claimsHang(index: 0, environment: env), "the batch hang is not set")
        #expect(WorkerMain.claimsHang(index: 0, environment: env, variable: variable))
        #expect(!WorkerMain.claimsHang(index: 0, environment: env, variable: variable), "once per marker")
    }

    @Test(arguments: ["fast", "0.5", "2,x", "-3"])
    func badSlowdownsAreRefused(_ text: String) {
        #expect(throws: WorkerStartError.self) {
            try WorkerMain.delayFactor(index: 0, environment: ["FUSION_TEST_WORKER_DELAY_FACTOR": text])
        }
    }
}
