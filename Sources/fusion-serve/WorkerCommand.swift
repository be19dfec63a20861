import ArgumentParser
import Foundation
import Model
import POSIX
import Serving

/// `fusion-serve worker`: one model replica, started and supervised by `serve` (internal).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Internal: a model worker process started by `fusion-serve serve` (talks on descriptor 3).",
        shouldDisplay: false)

    @Option(help: "Model directory.") var model: String
    @Option(help: "This worker's index (for logs and the test slowdown).") var index: Int = 0
    @Option(help: "CPUs to pin the whole process to, e.g. \"0-3\"; its size is the BLAS thread count.") var cpus: String?
    @Option(help: "Largest batch the server sends.") var maxBatch: Int = 8
    @Option(help: "fp32, int8 or bf16; default FUSION_PRECISION, which `serve` sets for its workers, else fp32.")
    var precision: String?
    @Option(help: "openblas or onednn; default FUSION_BACKEND, which `serve` sets for its workers, else the precision's default.")
    var backend: String?

    func run() throws {
        let set: CPUSet?
        do {
            set = try cpus.map { try CPUSet(parsing: $0) }
        } catch {
            throw ValidationError("--cpus: \(error)")
        }
        let text = precision ?? ProcessInfo.processInfo.environment["FUSION_PRECISION"] ?? "fp32"
        guard let arithmetic = Precision(rawValue: text) else {
            throw ValidationError("--precision: expected one of \(Precision.names), got \"\(text)\"")
        }
        var library: Backend?
        if let text = backend ?? ProcessInfo.processInfo.environment["FUSION_BACKEND"], !text.isEmpty {
            guard let chosen = Backend(rawValue: text) else {
                throw ValidationError("--backend: expected one of \(Backend.names), got \"\(text)\"")
            }
            library = chosen
        }
        do {
            try WorkerMain.run(modelDirectory: model, index: index, cpus: set, maxBatch: maxBatch, precision: arithmetic,
                               backend: library)
        } catch {
            fputs("fusion-serve worker \(index): \(error)\n", StandardStreams.error)
            throw ExitCode(1)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
