import Foundation
import Testing

/// The CPUs a thread may run on, from `/proc` (`Cpus_allowed_list`).
private func allowedCPUs(pid: Int32, task: String? = nil) -> String? {
    let path = "/proc/\(pid)/task/\(task ?? "\(pid)")/status"
    guard let status = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    return status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?
        .split(separator: "\t").last.map(String.init)
}

/// CPU numbers in a `Cpus_allowed_list` value ("0-2,5").
private func cpuNumbers(_ list: String) -> [Int] {
    list.split(separator: ",").flatMap { range -> [Int] in
        let bounds = range.split(separator: "-").compactMap { Int($0) }
        guard let low = bounds.first, let high = bounds.last, low <= high else { return [] }
        return Array(low...high)
    }
}

/// How many CPUs this test process may use.
private func ownCPUCount() -> Int {
    cpuNumbers(allowedCPUs(pid: getpid()) ?? "").count
}

extension EndToEnd {
    @Suite struct CPUPlacement {
        /// With a CPU left over by the workers' plan, every server thread (HTTP loop,
        /// preprocessing, dispatcher, worker I/O) runs only there, and the worker only on its own.
        @Test(.enabled(if: ownCPUCount() >= 2, "needs 2 allowed CPUs: with one, server and worker share it"))
        func serverThreadsStayOffTheWorkersCPU() throws {
            let server = try ServerProcess(["--cpu-sets", "0"], workers: 1)
            defer { server.stop() }
            let pid = server.process.processIdentifier
            let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")
            #expect(tasks.count > 3)
            for task in tasks {
                guard let cpus = allowedCPUs(pid: pid, task: task) else { continue }  // ended meanwhile
                #expect(!cpuNumbers(cpus).contains(0), "server thread \(task) may run on CPU 0, the worker's: \(cpus)")
            }
            let worker = try #require(server.workerPIDs.first)
            #expect(allowedCPUs(pid: worker) == "0")
            #expect(server.log.contains("server_cpus"))
        }
    }
}
