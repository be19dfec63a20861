import POSIX
import Testing
@testable import Serving

@Suite struct ServeConfigurationTests {
    @Test func defaultsMatchTheBrief() throws {
        let config = try ServeConfiguration.resolve(flags: [:], environment: [:])
        #expect(config.host == "127.0.0.1" && config.port == 8080 && config.modelDirectory == "models/default")
        #expect(config.maxBatch == 8 && config.maxDelayMilliseconds == 0 && config.maxQueue == 256)
        #expect(config.router == .leastLoaded && config.drainTimeoutSeconds == 30 && config.maxBodyBytes == 20 * 1024 * 1024)
        #expect(config.logFormat == .plain && config.workers == nil && config.cpuSets == nil)
        #expect(config.workerTimeoutSeconds == 60 && config.workerStallMilliseconds == 5_000)
        #expect(config.maxImagePixels == 4096 * 4096 && config.largeImagePixels == 2048 * 2048)
        #expect(config.precision == .fp32)
    }

    @Test func precisionComesFromItsFlagOrVariable() throws {
        #expect(try ServeConfiguration.resolve(flags: [:], environment: ["FUSION_PRECISION": "int8"]).precision == .int8)
        #expect(try ServeConfiguration.resolve(flags: ["--precision": "fp32"], environment: ["FUSION_PRECISION": "int8"]).precision == .fp32)
    }

    @Test func imageLimitsAndStallFloorComeFromTheirFlagsOrVariables() throws {
        let config = try ServeConfiguration.resolve(
            flags: ["--max-image-pixels": "1000000"],
            environment: ["FUSION_LARGE_IMAGE_PIXELS": "250000", "FUSION_WORKER_STALL_MS": "800"])
        #expect(config.maxImagePixels == 1_000_000 && config.largeImagePixels == 250_000)
        #expect(config.workerStallMilliseconds == 800)
    }

    @Test func workerTimeoutComesFromItsFlagOrVariable() throws {
        let fromVariable = try ServeConfiguration.resolve(flags: [:], environment: ["FUSION_WORKER_TIMEOUT_S": "5"])
        #expect(fromVariable.workerTimeoutSeconds == 5)
        let fromFlag = try ServeConfiguration.resolve(flags: ["--worker-timeout-s": "2"],
                                                      environment: ["FUSION_WORKER_TIMEOUT_S": "5"])
        #expect(fromFlag.workerTimeoutSeconds == 2)
    }

    @Test func flagsWinOverEnvironmentVariables() throws {
        let config = try ServeConfiguration.resolve(
            flags: ["--port": "9000", "--router": "pull"],
            environment: ["FUSION_PORT": "7000", "FUSION_MAX_BATCH": "4", "FUSION_CPU_SETS": "0-1;2-3", "FUSION_LOG_FORMAT": "json"])
        #expect(config.port == 9000 && config.router == .pull && config.maxBatch == 4 && config.logFormat == .json)
        #expect(config.cpuSets?.map(\.cpus) == [[0, 1], [2, 3]])
    }

    @Test(arguments: [
        ("--port", "70000"), ("--port", "x"), ("--max-batch", "0"), ("--max-queue", "-1"), ("--router", "random"),
        ("--cpu-sets", "0-;1"), ("--workers", "0"), ("--log-format", "xml"), ("--max-body-bytes", "10"),
        ("--request-timeout-ms", "0"), ("--drain-timeout-s", "-3"), ("--max-delay-ms", "abc"), ("--host", ""),
        ("--log-level", "loud"), ("--client-timeout-ms", "5"), ("--precision", "fp8"), ("--precision", "INT8"), ("--worker-timeout-s", "0"),
        ("--worker-timeout-s", "1.5"), ("--worker-timeout-s", "100000"), ("--max-image-pixels", "0"),
        ("--large-image-pixels", "x"), ("--worker-stall-ms", "10"),
    ])
    func invalidValuesNameTheirFlag(_ flag: String, _ value: String) {
        do {
            _ = try ServeConfiguration.resolve(flags: [flag: value], environment: [:])
            Issue.record("\(flag) \(value) accepted")
        } catch {
            #expect(error.flag == flag)
            #expect(error.description.hasPrefix(flag + ":"))
        }
    }

    @Test func invalidEnvironmentValuesNameFlagAndVariable() {
        do {
            _ = try ServeConfiguration.resolve(flags: [:], environment: ["FUSION_MAX_BATCH": "zero"])
            Issue.record("accepted")
        } catch {
            #expect(error.flag == "--max-batch (from FUSION_MAX_BATCH)")
        }
    }

    @Test func workerPlansStayInsideTheAllowedCPUs() throws {
        let allowed = try CPUSet([2, 3, 5])
        var config = ServeConfiguration()
        #expect(try config.workerPlan(allowed: allowed).map(\.cpus) == [[2], [3], [5]], "default: one worker per allowed CPU")
        config.workers = 4
        #expect(try config.workerPlan(allowed: allowed).map(\.cpus) == [[2], [3], [5], [2]])
        config.workers = nil
        config.cpuSets = try CPUSet.parseList("2-3;5")
        #expect(try config.workerPlan(allowed: allowed).count == 2)
        config.cpuSets = try CPUSet.parseList("0-1")
        #expect(throws: ConfigurationError.self) { try config.workerPlan(allowed: allowed) }
        config.cpuSets = try CPUSet.parseList("2;3")
        config.workers = 3
        #expect(throws: ConfigurationError.self) { try config.workerPlan(allowed: allowed) }
    }

    @Test func aMissingModelIsAClearError() {
        var config = ServeConfiguration()
        config.modelDirectory = "/nonexistent/model"
        #expect(throws: ConfigurationError.self) { try config.resolvedModelDirectory(executable: "/usr/bin/fusion-serve") }
    }
}
