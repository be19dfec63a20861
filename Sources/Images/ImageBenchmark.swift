#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Times the preprocessing pipeline on one thread, for `fusion-serve bench-images`.
///
/// Times are the calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), so a busy
/// shared machine inflates them far less than wall-clock time; the Python side of the
/// benchmark measures the same way (`time.thread_time`).
public enum ImageBenchmark {
    /// Timings of one stage, in milliseconds of thread CPU time.
    public struct Timing: Sendable {
        /// Fastest repetition: the least disturbed by other processes on a busy machine.
        public let minimum: Double
        /// Median repetition.
        public let median: Double
    }

    /// Timings of one file.
    public struct Result: Sendable {
        /// Image width.
        public let width: Int
        /// Image height.
        public let height: Int
        /// Decode alone.
        public let decode: Timing
        /// Resize alone (on the decoded image).
        public let resize: Timing
        /// Decode + resize + ToTensor + Normalize, end to end (what the service runs).
        public let total: Timing
        /// How many timed repetitions each statistic is over.
        public let iterations: Int
    }

    /// Runs `iterations` timed repetitions (after two warm-up runs) of each stage.
    /// The end-to-end run goes through `ImagePreprocessor.tensor(from:)`, which for
    /// JPEG resizes while decoding.
    public static func run(bytes: [UInt8], preprocessor: ImagePreprocessor, iterations: Int) throws -> Result {
        let count = max(1, iterations)
        let image = try ImageDecoder.decode(bytes, maxPixels: preprocessor.maxPixels)
        func measure(_ body: () throws -> Void) rethrows -> Timing {
            for _ in 0..<2 { try body() }
            var samples: [Double] = []
            samples.reserveCapacity(count)
            for _ in 0..<count {
                let start = threadCPUMilliseconds()
                try body()
                samples.append(threadCPUMilliseconds() - start)
            }
            samples.sort()
            return Timing(minimum: samples[0], median: samples[samples.count / 2])
        }
        var sink = 0
        let decode = try measure { sink &+= try ImageDecoder.decode(bytes, maxPixels: preprocessor.maxPixels).pixels.count }
        let resize = measure {
            sink &+= ImageResizer.resizeBilinear(image, width: preprocessor.size, height: preprocessor.size).pixels.count
        }
        let total = try measure { sink &+= try preprocessor.tensor(from: bytes).count }
        precondition(sink != 0)
        return Result(width: image.width, height: image.height, decode: decode, resize: resize,
                      total: total, iterations: count)
    }

    /// CPU time consumed by the calling thread, in milliseconds.
    static func threadCPUMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1e3 + Double(now.tv_nsec) / 1e6
    }
}
