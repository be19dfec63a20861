import Foundation
import Locking

#if canImport(Glibc)
import Glibc
#endif

/// Why an end-to-end helper gave up.
struct EndToEndError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Paths from this file up to the repository root.
enum Paths {
    static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    /// The binary `swift build` made (the test target depends on it, so it is current):
    /// `FUSION_SERVE_BIN` if set, else the one next to the running test bundle, so a build in
    /// another `--build-path` (the sanitizer builds) tests its own binary, else `.build`'s.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["FUSION_SERVE_BIN"], !path.isEmpty { return path }
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("fusion-serve").path
        let candidates = [".build/debug/fusion-serve", ".build/x86_64-unknown-linux-gnu/debug/fusion-serve",
                          ".build/release/fusion-serve"].map { root.appendingPathComponent($0).path }
        return ([sibling] + candidates).first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }

    static var tinyModel: String { root.appendingPathComponent("Tests/Fixtures/models/tiny-f32").path }

    static func fixture(_ relative: String) -> String { root.appendingPathComponent("Tests/Fixtures/\(relative)").path }

    static func bytes(_ relative: String) -> [UInt8] {
        FileManager.default.contents(atPath: fixture(relative)).map { [UInt8]($0) } ?? []
    }
}

/// A `fusion-serve serve` process on an ephemeral loopback port, with its log captured.
final class ServerProcess: @unchecked Sendable {
    // @unchecked: `Process` declares no `Sendable`, and `port` is set only in `init`; the log,
    // appended by the reader thread, is behind `logText`.
    let process = Process()
    private let logText = Locked("")
    private(set) var port: UInt16 = 0

    /// Starts the server with `model` (default: the tiny fixture model) and `arguments`,
    /// waits until `/healthz` says ready.
    init(_ arguments: [String] = [], environment: [String: String] = [:], workers: Int = 2,
         model: String = Paths.tinyModel, waitReady: Bool = true) throws {
        process.executableURL = URL(fileURLWithPath: Paths.binary)
        process.arguments = ["serve", "--port", "0", "--model", model, "--workers", "\(workers)"] + arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = pipe
        let handle = pipe.fileHandleForReading
        // Drain the log continuously so the server never blocks on a full pipe.
        let reader = Thread { [weak self] in
            while true {
                let data = handle.availableData
                if data.isEmpty { break }
                self?.append(String(decoding: data, as: UTF8.self))
            }
        }
        try process.run()
        ChildCleanup.track(process.processIdentifier)
        reader.start()
        let deadline = Date().addingTimeInterval(30)
        while port == 0 {
            guard Date() < deadline, process.isRunning else {
                throw EndToEndError("server did not start: \(log)")
            }
            if let range = log.range(of: #"address"?[=:]"?127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = UInt16(log[range].split(separator: ":").last ?? "") ?? 0
            }
            usleep(20_000)
        }
        if waitReady { try waitUntilReady() }
    }

    private func append(_ text: String) {
        logText.withLock { $0 += text }
    }

    /// Everything the server (and its workers) wrote so far.
    var log: String { logText.withLock { $0 } }

    /// Polls `/healthz` until 200.
    func waitUntilReady(timeout: TimeInterval = 30) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let response = try? HTTPClient.request(port: port, method: "GET", path: "/healthz"), response.status == 200 {
                return
            }
            usleep(50_000)
        }
        throw EndToEndError("server never became ready: \(log)")
    }

    /// Pids of the worker processes (children of the server).
    var workerPIDs: [Int32] {
        let children = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(process.processIdentifier)/children",
                                    encoding: .utf8)) ?? ""
        var pids = children.split(separator: " ").compactMap { Int32($0) }
        // Worker spawns may come from any server thread: look at every task.
        if let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(process.processIdentifier)/task") {
            for task in tasks {
                let list = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/task/\(task)/children", encoding: .utf8)) ?? ""
                pids += list.split(separator: " ").compactMap { Int32($0) }
            }
        }
        return Array(Set(pids)).sorted()
    }

    /// The pid of worker `index`, from its command line.
    func workerPID(index: Int) -> Int32? {
        workerPIDs.first { pid in
            let cmdline = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
            let args = cmdline.split(separator: "\0").map(String.init)
            guard let i = args.firstIndex(of: "--index"), i + 1 < args.count else { return false }
            return args[i + 1] == "\(index)"
        }
    }

    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits for the server to exit; its status, or nil on timeout.
    func waitForExit(timeout: TimeInterval = 30) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Stops the server (SIGTERM, then SIGKILL) if it still runs.
    func stop() {
        defer { if !process.isRunning { ChildCleanup.untrack(process.processIdentifier) } }
        guard process.isRunning else { return }
        signal(SIGTERM)
        if waitForExit(timeout: 10) == nil { signal(SIGKILL); _ = waitForExit(timeout: 5) }
    }

    /// The value of one sample line in `/metrics`, e.g. `fusion_worker_restarts_total{worker="0"}`.
    func metric(_ series: String) throws -> Double? {
        let response = try HTTPClient.request(port: port, method: "GET", path: "/metrics")
        for line in response.text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    deinit { stop() }
}

/// Runs `curl` and returns (stdout, stderr, exit status).
func runCurl(_ arguments: [String]) throws -> (out: String, err: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    ChildCleanup.track(process.processIdentifier)
    let watchdog = killAfter(120, process)
    defer { watchdog.cancel(); ChildCleanup.untrack(process.processIdentifier) }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self), process.terminationStatus)
}

/// Runs a tool (killed after `timeout` seconds) with optional standard input.
func runTool(_ path: String, _ arguments: [String], input: [UInt8]? = nil, timeout: TimeInterval = 60,
             environment: [String: String]? = nil) throws -> (out: String, err: String, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
    try process.run()
    ChildCleanup.track(process.processIdentifier)
    let watchdog = killAfter(timeout, process)
    defer { watchdog.cancel(); ChildCleanup.untrack(process.processIdentifier) }
    if let input {
        inPipe.fileHandleForWriting.write(Data(input))
        try? inPipe.fileHandleForWriting.close()
    }
    // Drain stderr concurrently so a chatty tool cannot block on a full pipe.
    let errBox = DataBox()
    let errReader = Thread { errBox.set(err.fileHandleForReading.readDataToEndOfFile()) }
    errReader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !errBox.isSet { usleep(1000) }
    return (String(decoding: outData, as: UTF8.self), String(decoding: errBox.value, as: UTF8.self), process.terminationStatus)
}

/// Bytes handed from one thread to another once.
final class DataBox: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var data: Data?
    func set(_ value: Data) { lock.withLock { data = value } }
    var isSet: Bool { lock.withLock { data != nil } }
    var value: Data { lock.withLock { data ?? Data() } }
}
