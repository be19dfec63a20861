import COpenBLAS
import Dispatch

/// Runs `body` on contiguous chunks of `0..<count`, concurrently on up to as many threads as
/// OpenBLAS is set to use, so the elementwise kernels between matrix products scale with the
/// same cores. Work below `minimumChunk` items per thread runs on the calling thread: a
/// dispatch costs a few microseconds. `body` must only write data owned by its chunk.
package func parallelChunks(_ count: Int, minimumChunk: Int, _ body: (Range<Int>) -> Void) {
    parallelChunks(count, minimumChunk: minimumChunk, maxThreads: Int(openblas_get_num_threads()), body)
}

/// `parallelChunks` with an explicit thread limit.
func parallelChunks(_ count: Int, minimumChunk: Int, maxThreads: Int, _ body: (Range<Int>) -> Void) {
    let threads = min(maxThreads, count / max(minimumChunk, 1))
    guard threads > 1 else {
        if count > 0 { body(0..<count) }
        return
    }
    let chunk = (count + threads - 1) / threads
    withoutActuallyEscaping(body) { body in
        let shared = ChunkBody(run: body)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let start = t * chunk
            let end = min(start + chunk, count)
            if start < end { shared.run(start..<end) }
        }
    }
}

/// `body` handed to `concurrentPerform`'s `@Sendable` closure.
/// @unchecked: the chunks are disjoint and `body` only writes its own chunk (the contract of
/// `parallelChunks`), which the compiler cannot see through the raw pointers it captures.
private struct ChunkBody: @unchecked Sendable {
    let run: (Range<Int>) -> Void
}
