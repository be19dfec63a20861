import Foundation

/// Runs a program and returns its standard output (for wrk, nginx, curl).
@discardableResult
func runProgram(_ path: String, _ arguments: [String], input: Data? = nil) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let stdin = Pipe()
    if input != nil { process.standardInput = stdin }
    try process.run()
    if let input {
        // Feed stdin from another thread so a program that writes before reading cannot
        // deadlock against us.
        let writer = stdin.fileHandleForWriting
        DispatchQueue.global().async {
            writer.write(input)
            try? writer.close()
        }
    }
    // Read stderr on another thread while reading stdout here, so a chatty program cannot
    // fill one pipe and stall.
    let errBox = DataBox()
    let readerDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        errBox.data = err.fileHandleForReading.readDataToEndOfFile()
        readerDone.signal()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    readerDone.wait()
    let errData = errBox.data
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Requests/sec from wrk's output.
func wrkRequestsPerSecond(_ output: String) -> Double? {
    for line in output.split(separator: "\n") where line.hasPrefix("Requests/sec:") {
        return Double(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
func cpuSeconds(pid: Int32) -> Double {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return 0 }
    let text = String(decoding: data, as: UTF8.self)
    // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
    guard let close = text.lastIndex(of: ")") else { return 0 }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// The pids of `pid`'s direct children (nginx workers).
func childPIDs(of pid: Int32) -> [Int32] {
    guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/task/\(pid)/children") else { return [] }
    return String(decoding: data, as: UTF8.self).split(separator: " ").compactMap { Int32($0) }
}

/// A started nginx: its master pid and a stop function.
struct RunningNginx {
    let pid: Int32
    let stop: () -> Void
    /// CPU seconds of the master and its workers.
    var cpuSeconds: Double { ([pid] + childPIDs(of: pid)).map { HTTPTests.cpuSeconds(pid: $0) }.reduce(0, +) }
}

/// Starts nginx with a `return 200` location on `port`, `workers` worker processes.
func startNginx(port: UInt16, workers: Int) throws -> RunningNginx {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-bench-\(port)")
    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let config = """
    worker_processes \(workers);
    daemon off;
    pid \(directory.path)/nginx.pid;
    error_log \(directory.path)/error.log;
    events { worker_connections 1024; }
    http {
        access_log off;
        client_body_temp_path \(directory.path)/body;
        proxy_temp_path \(directory.path)/proxy;
        fastcgi_temp_path \(directory.path)/fastcgi;
        uwsgi_temp_path \(directory.path)/uwsgi;
        scgi_temp_path \(directory.path)/scgi;
        server {
            listen 127.0.0.1:\(port);
            location / { default_type text/plain; return 200 "ok\\n"; }
        }
    }
    """
    let file = directory.appendingPathComponent("nginx.conf")
    try config.write(to: file, atomically: true, encoding: .utf8)
    // Foreground nginx as a child we stop ourselves (a daemon would keep our pipes open).
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
    process.arguments = ["-p", directory.path, "-c", file.path]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    Thread.sleep(forTimeInterval: 0.5)
    guard process.isRunning else { throw ClientError(description: "nginx exited at start-up; see \(directory.path)/error.log") }
    return RunningNginx(pid: process.processIdentifier) {
        process.terminate()
        process.waitUntilExit()
    }
}

private final class DataBox: @unchecked Sendable {
    var data = Data()
}
