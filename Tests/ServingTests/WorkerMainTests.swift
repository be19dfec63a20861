import Foundation
import Testing
@testable import Serving

@Suite struct WorkerMainTests {
    @Test func theTestSlowdownIsPerWorkerIndex() throws {
        let env = ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "3, 1.5"]
        #expect(try WorkerMain.delayFactor(index: 0, environment: env) == 3)
        #expect(try WorkerMain.delayFactor(index: 1, environment: env) == 1.5)
        #expect(try WorkerMain.delayFactor(index: 2, environment: env) == 1, "workers past the list run at full speed")
        #expect(try WorkerMain.delayFactor(index: 0, environment: [:]) == 1)
    }

    @Test func theTestHangIsClaimedOnceByWorkerZero() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hang-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_HANG_ONCE": path]
        #expect(!WorkerMain.claimsHang(index: 1, environment: env), "only worker 0 hangs")
        #expect(WorkerMain.claimsHang(index: 0, environment: env))
        #expect(!WorkerMain.claimsHang(index: 0, environment: env), "a restarted worker 0 runs normally")
        #expect(!WorkerMain.claimsHang(index: 0, environment: [:]))
    }

    @Test func theLoadHangHasItsOwnVariableAndMarker() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hang-load-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let env = ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_HANG_LOAD_ONCE": path]
        let variable = "FUSION_TEST_WORKER_HANG_LOAD_ONCE"
        #expect(!WorkerMain.claimsHang(index: 0, environment: env), "the batch hang is not set")
        #expect(WorkerMain.claimsHang(index: 0, environment: env, variable: variable))
        #expect(!WorkerMain.claimsHang(index: 0, environment: env, variable: variable), "once per marker")
    }

    @Test(arguments: ["fast", "0.5", "2,x", "-3"])
    func badSlowdownsAreRefused(_ text: String) {
        #expect(throws: WorkerStartError.self) {
            try WorkerMain.delayFactor(index: 0, environment: ["FUSION_ENABLE_TEST_HOOKS": "1",
                                                               "FUSION_TEST_WORKER_DELAY_FACTOR": text])
        }
    }

    /// A hook variable alone (left in a production environment) changes nothing: no slowdown,
    /// no hang and no marker file created.
    @Test func hooksActOnlyWithTheSwitch() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hang-off-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        for enable in [nil, "0", "true", ""] {
            var env = ["FUSION_TEST_WORKER_DELAY_FACTOR": "3", "FUSION_TEST_WORKER_HANG_ONCE": path,
                       "FUSION_TEST_WORKER_HANG_LOAD_ONCE": path]
            env["FUSION_ENABLE_TEST_HOOKS"] = enable
            #expect(try WorkerMain.delayFactor(index: 0, environment: env) == 1, "switch \(enable ?? "unset")")
            #expect(!WorkerMain.claimsHang(index: 0, environment: env))
            #expect(!WorkerMain.claimsHang(index: 0, environment: env, variable: "FUSION_TEST_WORKER_HANG_LOAD_ONCE"))
            #expect(!FileManager.default.fileExists(atPath: path), "no file created at an arbitrary path")
            // Not even validated: an ignored variable cannot stop a worker from starting.
            env["FUSION_TEST_WORKER_DELAY_FACTOR"] = "fast"
            #expect(try WorkerMain.delayFactor(index: 0, environment: env) == 1)
        }
    }
}
