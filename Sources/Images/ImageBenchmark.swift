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
    /// Median timings of one file, in milliseconds.
    public struct Result: Sendable {
        /// Image width and height.
        public let width: Int
        public let height: Int
        /// Median of decode alone.
        public let decodeMilliseconds: Double
        /// Median of resize alone (on the decoded image).
        public let resizeMilliseconds: Double
        /// Median of decode + resize + ToTensor + Normalize, end to end.
        public let totalMilliseconds: Double
        /// How many timed repetitions each median is over.
        public let iterations: Int
    }

    /// Runs `iterations` timed repetitions (after two warm-up runs) of each stage.
    public static func run(bytes: [UInt8], preprocessor: ImagePreprocessor, iterations: Int) throws -> Result {
        let count = max(1, iterations)
        let image = try ImageDecoder.decode(bytes, maxPixels: preprocessor.maxPixels)
        func median(_ body: () throws -> Void) rethrows -> Double {
            for _ in 0..<2 { try body() }
            var samples: [Double] = []
            samples.reserveCapacity(count)
            for _ in 0..<count {
                let start = threadCPUMilliseconds()
                try body()
                samples.append(threadCPUMilliseconds() - start)
            }
            samples.sort()
            return samples[samples.count / 2]
        }
        var sink = 0
        let decode = try median { sink &+= try ImageDecoder.decode(bytes, maxPixels: preprocessor.maxPixels).pixels.count }
        let resize = median {
            sink &+= ImageResizer.resizeBilinear(image, width: preprocessor.size, height: preprocessor.size).pixels.count
        }
        let total = try median { sink &+= try preprocessor.tensor(from: bytes).count }
        precondition(sink != 0)
        return Result(width: image.width, height: image.height, decodeMilliseconds: decode,
                      resizeMilliseconds: resize, totalMilliseconds: total, iterations: count)
    }

    /// CPU time consumed by the calling thread, in milliseconds.
    static func threadCPUMilliseconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return Double(now.tv_sec) * 1e3 + Double(now.tv_nsec) / 1e6
    }
}
