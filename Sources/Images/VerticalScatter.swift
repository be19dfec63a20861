/// The vertical pass of one resample, fed row by row: each input row is added, with
/// its weight, into the 32-bit accumulators of every output row whose filter reads it;
/// an output row is rounded and clipped to 8 bits as soon as its last input row has
/// arrived. Integer sums do not depend on order, so this equals Pillow's per-output
/// gather exactly, while holding only the output rows still waiting for input.
final class VerticalScatter {
    let axis: ResampleAxis
    let rowBytes: Int
    /// Input rows outside `[firstInputRow, endInputRow)` contribute nothing.
    let firstInputRow: Int
    let endInputRow: Int

    private var starts: [Int]
    private var ends: [Int]
    private let ringSize: Int
    private var accumulators: [Int32]
    private var weights: [Int32]
    private var scratch: [Double]
    private var finished: [UInt8]
    private var nextToActivate = 0
    private var firstActive = 0

    init(axis: ResampleAxis, rowBytes: Int) {
        self.axis = axis
        self.rowBytes = rowBytes
        var starts = [Int](repeating: 0, count: axis.outSize)
        var ends = [Int](repeating: 0, count: axis.outSize)
        for index in 0..<axis.outSize {
            let (start, count) = axis.bounds(index)
            starts[index] = start
            ends[index] = start + count
        }
        // Starts and ends never decrease with the output index, so the rows waiting at
        // any time are a contiguous range; its largest size is reached just after an
        // activation: rows started so far minus rows already ended.
        var ring = 1
        var ended = 0
        for index in 0..<axis.outSize {
            while ended < axis.outSize && ends[ended] <= starts[index] { ended += 1 }
            ring = max(ring, index + 1 - ended)
        }
        self.starts = starts
        self.ends = ends
        firstInputRow = starts[0]
        endInputRow = ends[axis.outSize - 1]
        ringSize = ring
        accumulators = [Int32](repeating: 0, count: ring * rowBytes)
        weights = [Int32](repeating: 0, count: ring * axis.maxTaps)
        scratch = [Double](repeating: 0, count: axis.maxTaps)
        finished = [UInt8](repeating: 0, count: rowBytes)
    }

    /// Adds input row `row` (`rowBytes` bytes); calls `completed(index, pixels)` for
    /// every output row this row completes, in order.
    func push(_ row: Int, _ source: UnsafePointer<UInt8>,
              completed: (Int, UnsafePointer<UInt8>) -> Void) {
        while nextToActivate < axis.outSize && starts[nextToActivate] <= row {
            activate(nextToActivate)
        }
        let taps = axis.maxTaps
        let bytes = rowBytes
        accumulators.withUnsafeMutableBufferPointer { acc in
            weights.withUnsafeBufferPointer { weights in
                for index in firstActive..<nextToActivate where row < ends[index] {
                    let slot = index % ringSize
                    let weight = weights[slot * taps + (row - starts[index])]
                    Kernels.multiplyAdd(source, weight, acc.baseAddress! + slot * bytes, bytes)
                }
            }
        }
        while firstActive < nextToActivate && ends[firstActive] <= row + 1 {
            finalize(firstActive, completed)
        }
    }

    /// Completes the rows still waiting (only reached if fewer rows were pushed than
    /// the axis declares, which callers never do).
    func finish(completed: (Int, UnsafePointer<UInt8>) -> Void) {
        while nextToActivate < axis.outSize { activate(nextToActivate) }
        while firstActive < nextToActivate { finalize(firstActive, completed) }
    }

    private func activate(_ index: Int) {
        let slot = index % ringSize
        let taps = axis.maxTaps
        let bytes = rowBytes
        let start = starts[index]
        let count = ends[index] - start
        accumulators.withUnsafeMutableBufferPointer { acc in
            (acc.baseAddress! + slot * bytes).update(repeating: ResampleAxis.rounding, count: bytes)
        }
        weights.withUnsafeMutableBufferPointer { weights in
            scratch.withUnsafeMutableBufferPointer { scratch in
                axis.weights(index, start: start, count: count,
                             into: weights.baseAddress! + slot * taps, scratch: scratch.baseAddress!)
            }
        }
        nextToActivate += 1
    }

    private func finalize(_ index: Int, _ completed: (Int, UnsafePointer<UInt8>) -> Void) {
        let slot = index % ringSize
        let bytes = rowBytes
        accumulators.withUnsafeBufferPointer { acc in
            finished.withUnsafeMutableBufferPointer { out in
                Kernels.clip8(acc.baseAddress! + slot * bytes, out.baseAddress!, bytes)
            }
        }
        firstActive += 1
        finished.withUnsafeBufferPointer { completed(index, $0.baseAddress!) }
    }
}
