/// Streams image rows through Pillow's two-pass bilinear resample
/// (`ImagingResampleInner`), each pass rounded and clipped to 8 bits.
///
/// Pass order matters for the 8-bit intermediate, and Pillow (13.x) chooses it: the
/// vertical pass goes first when the height shrinks and by more than twice the
/// number of pixels the width shrinks by (`inH - outH > 2 * (inW - outW)`); otherwise
/// the horizontal pass goes first. The first pass only covers what the second reads
/// (Pillow crops the intermediate to the second filter's footprint).
///
/// Rows arrive top to bottom, so a decoder could feed it directly; nothing of input
/// size is held, only the output, one intermediate row and the vertical accumulators
/// of the output rows still waiting for input.
final class BilinearResampler {
    enum Order: Equatable { case horizontalFirst, verticalFirst }

    /// Pillow's choice of pass order (only meaningful when both passes are needed).
    static func order(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) -> Order {
        outHeight < inHeight && inHeight - outHeight > 2 * (inWidth - outWidth)
            ? .verticalFirst : .horizontalFirst
    }

    let inWidth: Int
    let inHeight: Int
    let outWidth: Int
    let outHeight: Int
    let order: Order

    private let horizontal: HorizontalTaps?
    private let vertical: VerticalScatter?
    /// Vertical-first only: the input columns the horizontal pass reads.
    private let firstColumn: Int
    private var horizontalRow: [UInt8]
    private(set) var output: [UInt8]
    private var rowsConsumed = 0

    init(inWidth: Int, inHeight: Int, outWidth: Int, outHeight: Int) {
        precondition(inWidth >= 1 && inHeight >= 1 && outWidth >= 1 && outHeight >= 1)
        self.inWidth = inWidth
        self.inHeight = inHeight
        self.outWidth = outWidth
        self.outHeight = outHeight
        let needHorizontal = outWidth != inWidth
        let needVertical = outHeight != inHeight
        order = needHorizontal && needVertical
            ? Self.order(inWidth: inWidth, inHeight: inHeight, outWidth: outWidth, outHeight: outHeight)
            : .horizontalFirst
        var firstColumn = 0
        var intermediateWidth = outWidth
        if needHorizontal {
            let axis = ResampleAxis(inSize: inWidth, outSize: outWidth)
            if order == .verticalFirst {
                firstColumn = axis.bounds(0).start
                let last = axis.bounds(outWidth - 1)
                intermediateWidth = last.start + last.count - firstColumn
            }
            horizontal = HorizontalTaps(axis: axis, columnOffset: firstColumn)
        } else {
            horizontal = nil
        }
        self.firstColumn = firstColumn
        if needVertical {
            let rowBytes = (order == .verticalFirst ? intermediateWidth : outWidth) * 3
            vertical = VerticalScatter(axis: ResampleAxis(inSize: inHeight, outSize: outHeight), rowBytes: rowBytes)
        } else {
            vertical = nil
        }
        horizontalRow = [UInt8](repeating: 0, count: order == .horizontalFirst && horizontal != nil ? outWidth * 3 : 0)
        output = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
    }

    /// Feeds the next input row (`inWidth * 3` bytes, RGB).
    func consume(row source: UnsafePointer<UInt8>) {
        let r = rowsConsumed
        rowsConsumed += 1
        let rowBytes = outWidth * 3
        switch (horizontal, vertical) {
        case (nil, nil):
            store(r, source)
        case (let h?, nil):
            output.withUnsafeMutableBufferPointer { h.apply(source, $0.baseAddress! + r * rowBytes) }
        case (nil, let v?):
            guard r >= v.firstInputRow && r < v.endInputRow else { return }
            v.push(r, source) { index, row in store(index, row) }
        case (let h?, let v?):
            guard r >= v.firstInputRow && r < v.endInputRow else { return }
            if order == .horizontalFirst {
                horizontalRow.withUnsafeMutableBufferPointer { h.apply(source, $0.baseAddress!) }
                horizontalRow.withUnsafeBufferPointer { row in
                    v.push(r, row.baseAddress!) { index, done in store(index, done) }
                }
            } else {
                v.push(r, source + firstColumn * 3) { index, intermediate in
                    output.withUnsafeMutableBufferPointer { h.apply(intermediate, $0.baseAddress! + index * rowBytes) }
                }
            }
        }
    }

    /// The resized pixels, once every input row has been consumed.
    func finish() -> [UInt8] {
        if let v = vertical {
            let rowBytes = outWidth * 3
            if order == .verticalFirst, let h = horizontal {
                v.finish { index, intermediate in
                    output.withUnsafeMutableBufferPointer { h.apply(intermediate, $0.baseAddress! + index * rowBytes) }
                }
            } else {
                v.finish { index, row in store(index, row) }
            }
        }
        return output
    }

    private func store(_ index: Int, _ row: UnsafePointer<UInt8>) {
        let rowBytes = outWidth * 3
        output.withUnsafeMutableBufferPointer { out in
            (out.baseAddress! + index * rowBytes).update(from: row, count: rowBytes)
        }
    }
}
