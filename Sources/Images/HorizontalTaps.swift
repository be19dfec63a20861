import CImageKernels

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
    /// The same taps for the AVX2 kernel (`CImageKernels`), when the CPU has AVX2 and the table
    /// is stored; nil means the scalar loop below.
    private var vectorTable: VectorTable?

    /// `useVectorKernel: false` keeps the scalar loop (tests compare the two).
    init(axis: ResampleAxis, columnOffset: Int = 0, maxTableEntries: Int = HorizontalTaps.maxTableEntries,
         useVectorKernel: Bool = true) {
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
            if useVectorKernel, Kernels.cpuHasAVX2 {
                vectorTable = VectorTable(starts: starts, counts: counts, offsets: offsets, weights: weights)
            }
        } else {
            self.weights = []
            lazyWeights = [Int32](repeating: 0, count: axis.maxTaps)
            lazyScratch = [Double](repeating: 0, count: axis.maxTaps)
        }
    }

    /// Resamples one RGB row of `axis.inSize` pixels into `axis.outSize` pixels.
    func apply(_ source: UnsafePointer<UInt8>, _ destination: UnsafeMutablePointer<UInt8>) {
        if vectorTable != nil {
            vectorTable!.apply(source, destination, outWidth: axis.outSize)
            return
        }
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

    /// Whether `apply` runs the AVX2 kernel.
    var usesVectorKernel: Bool { vectorTable != nil }

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

/// The taps laid out for `cik_horizontal_rgb_avx2`: every weight split into its high and low
/// 11 bits (so 16-bit multiply-adds are exact), eight taps per chunk, zero past a pixel's
/// count, and int16 planes of scratch padded with zeros so the kernel's 8-tap loads never
/// leave them.
private struct VectorTable {
    let starts: [Int32]
    let chunks: Int
    let packed: [Int16]
    /// Source pixels the taps touch.
    let readWidth: Int
    let stride: Int
    var planes: [Int16]

    /// Nil when a weight is outside 0...2^22 (not a bilinear downscale table), where the split
    /// into two 11-bit halves would not be exact.
    init?(starts: [Int32], counts: [Int32], offsets: [Int32], weights: [Int32]) {
        let maxCount = Int(counts.max() ?? 0)
        guard maxCount > 0, weights.allSatisfy({ $0 >= 0 && $0 <= 1 << ResampleAxis.precisionBits }) else { return nil }
        let chunks = (maxCount + 7) / 8
        // Eight taps or fewer: `cik_horizontal_rgb8_avx2`'s layout (pairs side by side, four
        // pixels per step, padded); otherwise per pixel, `chunks` groups of hi then lo.
        let eightTaps = chunks == 1
        let padded = eightTaps ? (starts.count + 3) / 4 * 4 : starts.count
        var packed = [Int16](repeating: 0, count: padded * chunks * 16)
        var readWidth = 0
        for x in 0..<starts.count {
            let count = Int(counts[x]), offset = Int(offsets[x])
            readWidth = max(readWidth, Int(starts[x]) + count)
            for i in 0..<count {
                let w = weights[offset + i]
                let base = eightTaps ? (x / 2) * 32 + (x % 2) * 8 + i : x * chunks * 16 + (i / 8) * 16 + i % 8
                packed[base] = Int16(w >> 11)
                packed[base + (eightTaps ? 16 : 8)] = Int16(w & 0x7FF)
            }
        }
        self.starts = starts + [Int32](repeating: 0, count: padded - starts.count)
        self.chunks = chunks
        self.packed = packed
        self.readWidth = readWidth
        // Starts are at most readWidth, and a pixel's loads reach 8·chunks past its start.
        stride = readWidth + 8 * chunks
        planes = [Int16](repeating: 0, count: 3 * stride)
    }

    mutating func apply(_ source: UnsafePointer<UInt8>, _ destination: UnsafeMutablePointer<UInt8>, outWidth: Int) {
        let readWidth = readWidth, stride = stride, chunks = chunks
        starts.withUnsafeBufferPointer { starts in
            packed.withUnsafeBufferPointer { packed in
                planes.withUnsafeMutableBufferPointer { planes in
                    if chunks == 1 {
                        cik_horizontal_rgb8_avx2(source, Int32(readWidth), destination, Int32(outWidth),
                                                 starts.baseAddress, packed.baseAddress, planes.baseAddress,
                                                 Int32(stride))
                    } else {
                        cik_horizontal_rgb_avx2(source, Int32(readWidth), destination, Int32(outWidth),
                                                starts.baseAddress, Int32(chunks), packed.baseAddress,
                                                planes.baseAddress, Int32(stride))
                    }
                }
            }
        }
    }
}
