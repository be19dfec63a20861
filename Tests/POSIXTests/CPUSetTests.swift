import Testing
import POSIX

@Suite struct CPUSetTests {
    @Test func parsesListsAndRanges() throws {
        #expect(try CPUSet(parsing: "0-3,5").cpus == [0, 1, 2, 3, 5])
        #expect(try CPUSet(parsing: " 7 , 2-2,1 ").cpus == [1, 2, 7])
        #expect(try CPUSet(parsing: "3,1-2,2").description == "1-3")
        let sets = try CPUSet.parseList("0-3,5;6-7")
        #expect(sets.map(\.cpus) == [[0, 1, 2, 3, 5], [6, 7]])
        #expect(sets.map(\.description) == ["0-3,5", "6-7"])
    }

    static let bad: [(String, Int, String)] = [
        ("", 0, "empty CPU set"),
        ("0-3;", 4, "empty CPU set"),
        (";1", 0, "empty CPU set"),
        ("1,", 2, "expected a CPU number"),
        ("a", 0, "expected a CPU number, found 'a'"),
        ("3-1", 0, "range 3-1 is reversed"),
        ("1-", 2, "expected a CPU number"),
        ("-1", 0, "expected a CPU number, found '-'"),
        ("0;1 2", 4, "expected ',' or ';', found '2'"),
        ("0-5000", 2, "CPU number is not below 1024"),
        ("99999999999999999999", 0, "CPU number is not below 1024"),
    ]

    @Test(arguments: bad)
    func reportsWhereAndWhy(text: String, position: Int, reason: String) {
        #expect(throws: CPUSetError(input: text, position: position, reason: reason)) { try CPUSet.parseList(text) }
    }

    @Test func errorDescriptionNamesInput() {
        let error = CPUSetError(input: "0-x", position: 2, reason: "expected a CPU number")
        #expect(error.description == "invalid CPU list \"0-x\" at character 2: expected a CPU number")
    }

    @Test func setOperations() throws {
        let a = try CPUSet(parsing: "0-3")
        let b = try CPUSet(parsing: "2,9")
        #expect(a.overlaps(b))
        #expect(try CPUSet(parsing: "1-2").isSubset(of: a))
        #expect(!b.isSubset(of: a))
        #expect(throws: CPUSetError.self) { try CPUSet([-1]) }
    }

    @Test func affinityRoundTripOnThisThread() throws {
        let original = try currentAffinity()
        #expect(original.count >= 1)
        let first = try #require(original.cpus.first)
        // Runs on a dedicated thread so narrowing it cannot affect other tests.
        let result = AffinityProbe.run {
            try setAffinity(set: try CPUSet([first]))
            return try currentAffinity()
        }
        #expect(try result.get()?.cpus == [first])
        #expect(try currentAffinity() == original)
    }

    @Test func settingAnUnavailableCPUFails() throws {
        let result = AffinityProbe.run {
            try setAffinity(set: try CPUSet([1023]))
            return nil
        }
        #expect(throws: SystemCallError.self) { try result.get() }
    }
}

import Foundation

/// Runs a body on a fresh thread (affinity is per thread) and returns its result.
enum AffinityProbe {
    private final class Box: @unchecked Sendable {
        var result: Result<CPUSet?, Error> = .success(nil)
    }

    static func run(_ body: @escaping @Sendable () throws -> CPUSet?) -> Result<CPUSet?, Error> {
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Thread {
            box.result = Result { try body() }
            done.signal()
        }.start()
        done.wait()
        return box.result
    }
}
