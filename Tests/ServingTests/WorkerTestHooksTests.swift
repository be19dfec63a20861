import Testing
@testable import Serving

@Suite struct WorkerTestHooksTests {
    @Test func onlyExactlyOneEnables() {
        #expect(WorkerTestHooks.areEnabled(environment: ["FUSION_ENABLE_TEST_HOOKS": "1"]))
        for value in ["0", "", "true", "yes", " 1"] {
            #expect(!WorkerTestHooks.areEnabled(environment: ["FUSION_ENABLE_TEST_HOOKS": value]), "\(value)")
        }
        #expect(!WorkerTestHooks.areEnabled(environment: [:]))
    }

    @Test func noWarningWithoutHooks() {
        #expect(WorkerTestHooks.startupWarnings(environment: [:]).isEmpty)
        #expect(WorkerTestHooks.startupWarnings(environment: ["FUSION_ENABLE_TEST_HOOKS": "1"]).isEmpty)
        #expect(WorkerTestHooks.startupWarnings(environment: ["FUSION_TEST_WORKER_HANG_ONCE": ""]).isEmpty,
                "an empty variable is no hook")
    }

    @Test func warningsNameEveryActiveHookAndItsValue() {
        let env = ["FUSION_ENABLE_TEST_HOOKS": "1", "FUSION_TEST_WORKER_DELAY_FACTOR": "3,1",
                   "FUSION_TEST_WORKER_HANG_ONCE": "/tmp/a", "FUSION_TEST_WORKER_HANG_LOAD_ONCE": "/tmp/b"]
        let warnings = WorkerTestHooks.startupWarnings(environment: env)
        #expect(warnings.count == 3)
        #expect(warnings[0].contains("active: FUSION_TEST_WORKER_DELAY_FACTOR=3,1"))
        #expect(warnings[1].contains("active: FUSION_TEST_WORKER_HANG_ONCE=/tmp/a"))
        #expect(warnings[2].contains("active: FUSION_TEST_WORKER_HANG_LOAD_ONCE=/tmp/b"))
    }

    @Test func setButDisabledHooksAreReportedAsIgnored() {
        let warnings = WorkerTestHooks.startupWarnings(environment: ["FUSION_TEST_WORKER_HANG_ONCE": "/tmp/a"])
        #expect(warnings == ["test hook ignored: FUSION_TEST_WORKER_HANG_ONCE is set but FUSION_ENABLE_TEST_HOOKS is not 1"])
    }
}
