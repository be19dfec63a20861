import POSIX
import Testing
@testable import Serving

@Suite struct WorkerCPUPlanTests {
    @Test func defaultsRunOneWorkerPerAllowedCPU() throws {
        #expect(WorkerCPUPlan.defaultWorkerCount(allowed: try CPUSet([0])) == 1)
        #expect(WorkerCPUPlan.defaultWorkerCount(allowed: try CPUSet([0, 1])) == 2)
        #expect(WorkerCPUPlan.defaultWorkerCount(allowed: try CPUSet([2, 5, 7])) == 3)
        #expect(WorkerCPUPlan.defaultWorkerCount(allowed: try CPUSet(0..<8)) == 8)
    }

    @Test func defaultSetsFollowTheAllowedMaskInOrder() throws {
        let sets = WorkerCPUPlan.defaultSets(workers: 3, allowed: try CPUSet([4, 6]))
        #expect(sets.map(\.cpus) == [[4], [6], [4]])
    }

    @Test func explicitSetsAreChecked() throws {
        let allowed = try CPUSet(0..<4)
        #expect(throws: Never.self) { try WorkerCPUPlan.validate(CPUSet.parseList("0-1;2-3"), workers: 2, allowed: allowed) }
        #expect(throws: CPUPlanError.countMismatch(sets: 2, workers: 3)) {
            try WorkerCPUPlan.validate(CPUSet.parseList("0-1;2-3"), workers: 3, allowed: allowed)
        }
        #expect(throws: CPUPlanError.self) { try WorkerCPUPlan.validate(CPUSet.parseList("3-4"), workers: 1, allowed: allowed) }
    }
}
