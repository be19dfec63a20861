/// The horizontal filter taps of one resize, laid out for the inner loop: for each
/// output column its first input column, tap count and an offset into one packed
/// weight array. Tables that would exceed `maxTableEntries` (only for inputs millions
/// of pixels wide, which therefore have very few rows) are not stored; weights are
/// then recomputed for every row, which gives the same numbers. `columnOffset` shifts
/// every start left, for rows that begin at that input column (a cropped intermediate).
final class HorizontalTaps {
    static let maxTableEntries = 1 << 24

    let axis: ResampleAxis
    private let starts: [Int32]
    private let counts: [Int32]
    private let offsets: [Int32]
    private let weights: [Int32]
    /// Whether the weights are stored (false: recomputed per row).
    let tabulated: Bool
    private var lazyWeights: [Int32] = []
    private var lazyScratch: [Double] = []
    private let columnOffset: Int

    init(axis: ResampleAxis, columnOffset: Int = 0, maxTableEntries: Int = HorizontalTaps.maxTableEntries) {
        self.axis = axis
        var starts = [Int32](repeating: 0, count: axis.outSize)
        var counts = [Int32](repeating: 0, count: axis.outSize)
        var offsets = [Int32](repeating: 0, count: axis.outSize)
        var total = 0
        for index in 0..<axis.outSize {
            let (start, count) = axis.bounds(index)
            starts[index] = Int32(start - columnOffset)
            counts[index] = Int32(count)
            offsets[index] = Int32(truncatingIfNeeded: total)
            total += count
        }
        self.starts = starts
        self.counts = counts
        self.offsets = offsets
        self.columnOffset = columnOffset
        tabulated = total <= maxTableEntries
        if tabulated {
            var weights = [Int32](repeating: 0, count: max(total, 1))
            var scratch = [Double](repeating: 0, count: axis.maxTaps)
            weights.withUnsafeMutableBufferPointer { w in
                scratch.withUnsafeMutableBufferPointer { s in
                    for index in 0..<axis.outSize {
                        axis.weights(index, start: Int(starts[index]) + columnOffset, count: Int(counts[index]),
                                     into: w.baseAddress! + Int(offsets[index]), scratch: s.baseAddress!)
                    }
                }
            }
            self.weights = weights
        } else {
            self.weights = []
            lazyWeights = [Int32](repeating: 0, count: axis.maxTaps)
            lazyScratch = [Double](repeating: 0, count: axis.maxTaps)
        }
    }

    /// Resamples one RGB row of `axis.inSize` pixels into `axis.outSize` pixels.
    func apply(_ source: UnsafePointer<UInt8>, _ destination: UnsafeMutablePointer<UInt8>) {
        starts.withUnsafeBufferPointer { starts in
            counts.withUnsafeBufferPointer { counts in
                if tabulated {
                    offsets.withUnsafeBufferPointer { offsets in
                        weights.withUnsafeBufferPointer { weights in
                            Kernels.horizontalRGB(source, destination, axis.outSize, starts.baseAddress!,
                                                  counts.baseAddress!, offsets.baseAddress!, weights.baseAddress!)
                        }
                    }
                } else {
                    applyLazily(source, destination, starts, counts)
                }
            }
        }
    }

    private func applyLazily(_ source: UnsafePointer<UInt8>, _ destination: UnsafeMutablePointer<UInt8>,
                             _ starts: UnsafeBufferPointer<Int32>, _ counts: UnsafeBufferPointer<Int32>) {
        var zero: Int32 = 0
        lazyWeights.withUnsafeMutableBufferPointer { w in
            lazyScratch.withUnsafeMutableBufferPointer { s in
                for index in 0..<axis.outSize {
                    let start = Int(starts[index])
                    var count = counts[index]
                    axis.weights(index, start: start + columnOffset, count: Int(count),
                                 into: w.baseAddress!, scratch: s.baseAddress!)
                    var startValue = Int32(start)
                    Kernels.horizontalRGB(source, destination + index * 3, 1, &startValue, &count, &zero,
                                          UnsafePointer(w.baseAddress!))
                }
            }
        }
    }
}
