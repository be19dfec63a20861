/// Streams image rows through Pillow's two-pass bilinear resample
/// (`ImagingResampleInner`): a horizontal pass over the rows the vertical filter will
/// read (Pillow crops the intermediate to `[ybox_first, ybox_last)`), rounded and
/// clipped to 8 bits, then a vertical pass, rounded and clipped again.
///
/// Rows arrive one at a time, top to bottom, so a decoder can feed it directly and no
/// full-size intermediate is ever held: the vertical pass scatters each intermediate
/// row into the integer accumulators of the output rows that read it (integer sums do
/// not depend on order, so this equals Pillow's gather exactly). Memory is bounded by
/// the output size plus one row, whatever the input size.
final class BilinearResampler {
    let inWidth: Int
    let inHeight: Int
    let outWidth: Int
    let outHeight: Int

    private let vertical: ResampleAxis
    private let needHorizontal: Bool
    private let needVertical: Bool
    /// Input rows `[firstRow, endRow)` are the only ones the vertical pass reads.
    private let firstRow: Int
    private let endRow: Int

    private let horizontalTaps: HorizontalTaps
    private var horizontalRow: [UInt8]

    private var verticalStarts: [Int]
    private var verticalEnds: [Int]
    private let ringSize: Int
    private var accumulators: [Int32]
    private var verticalWeights: [Int32]
    private var scratch: [Double]
    private var nextToActivate = 0
    private var firstActive = 0

    private(set) var output: [UInt8]
    private(set) var rowsConsumed = 0

    init(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) {
        precondition(inWidth >= 1 && inHeight >= 1 && outWidth >= 1 && outHeight >= 1)
        self.inWidth = inWidth
        self.inHeight = inHeight
        self.outWidth = outWidth
        self.outHeight = outHeight
        needHorizontal = outWidth != inWidth
        needVertical = outHeight != inHeight
        vertical = ResampleAxis(inSize: inHeight, outSize: outHeight)

        var starts = [Int](repeating: 0, count: outHeight)
        var ends = [Int](repeating: 0, count: outHeight)
        for index in 0..<outHeight {
            let (start, count) = vertical.bounds(index)
            starts[index] = start
            ends[index] = start + count
        }
        verticalStarts = starts
        verticalEnds = ends
        firstRow = needHorizontal ? starts[0] : 0
        endRow = needHorizontal ? ends[outHeight - 1] : inHeight

        horizontalTaps = HorizontalTaps(axis: ResampleAxis(inSize: inWidth, outSize: outWidth))
        horizontalRow = [UInt8](repeating: 0, count: needHorizontal ? outWidth * 3 : 0)

        // Most output rows that can be waiting for input at once: rows whose start is
        // at or before r minus rows whose end is at or before r, maximised over starts.
        var ring = 1
        if needVertical {
            var ended = 0
            for index in 0..<outHeight {
                while ended < outHeight && ends[ended] <= starts[index] { ended += 1 }
                ring = max(ring, index + 1 - ended)
            }
        }
        ringSize = ring
        let rowBytes = outWidth * 3
        accumulators = [Int32](repeating: 0, count: needVertical ? ring * rowBytes : 0)
        verticalWeights = [Int32](repeating: 0, count: needVertical ? ring * vertical.maxTaps : 0)
        scratch = [Double](repeating: 0, count: needVertical ? vertical.maxTaps : 0)
        output = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
    }

    /// Feeds the next input row (`inWidth * 3` bytes, RGB).
    func consume(row: UnsafePointer<UInt8>) {
        let r = rowsConsumed
        rowsConsumed += 1
        guard r >= firstRow && r < endRow else { return }
        if needHorizontal {
            horizontalRow.withUnsafeMutableBufferPointer { out in
                horizontalTaps.apply(row, out.baseAddress!)
            }
            horizontalRow.withUnsafeBufferPointer { verticalStep(r, $0.baseAddress!) }
        } else {
            verticalStep(r, row)
        }
    }

    /// Completes any output rows still waiting (only when fewer rows were fed than
    /// declared, which the decoders never do) and returns the resized pixels.
    func finish() -> [UInt8] {
        if needVertical {
            while nextToActivate < outHeight { activate(nextToActivate) }
            while firstActive < nextToActivate { finalize(firstActive) }
        }
        return output
    }

    private func verticalStep(_ r: Int, _ source: UnsafePointer<UInt8>) {
        let rowBytes = outWidth * 3
        guard needVertical else {
            output.withUnsafeMutableBufferPointer { out in
                (out.baseAddress! + r * rowBytes).update(from: source, count: rowBytes)
            }
            return
        }
        while nextToActivate < outHeight && verticalStarts[nextToActivate] <= r {
            activate(nextToActivate)
        }
        let taps = vertical.maxTaps
        accumulators.withUnsafeMutableBufferPointer { acc in
            verticalWeights.withUnsafeBufferPointer { weights in
                for index in firstActive..<nextToActivate where r < verticalEnds[index] {
                    let slot = index % ringSize
                    let weight = weights[slot * taps + (r - verticalStarts[index])]
                    Kernels.multiplyAdd(source, weight, acc.baseAddress! + slot * rowBytes, rowBytes)
                }
            }
        }
        while firstActive < nextToActivate && verticalEnds[firstActive] <= r + 1 {
            finalize(firstActive)
        }
    }

    private func activate(_ index: Int) {
        let slot = index % ringSize
        let rowBytes = outWidth * 3
        let taps = vertical.maxTaps
        let start = verticalStarts[index]
        let count = verticalEnds[index] - start
        accumulators.withUnsafeMutableBufferPointer { acc in
            (acc.baseAddress! + slot * rowBytes).update(repeating: ResampleAxis.rounding, count: rowBytes)
        }
        verticalWeights.withUnsafeMutableBufferPointer { weights in
            scratch.withUnsafeMutableBufferPointer { scratch in
                vertical.weights(index, start: start, count: count,
                                 into: weights.baseAddress! + slot * taps, scratch: scratch.baseAddress!)
            }
        }
        nextToActivate += 1
    }

    private func finalize(_ index: Int) {
        let slot = index % ringSize
        let rowBytes = outWidth * 3
        accumulators.withUnsafeBufferPointer { acc in
            output.withUnsafeMutableBufferPointer { out in
                Kernels.clip8(acc.baseAddress! + slot * rowBytes, out.baseAddress! + index * rowBytes, rowBytes)
            }
        }
        firstActive += 1
    }
}
