/// Per-scalar facts BertNormalizer and BertPreTokenizer need, packed for a fast lookup.
///
/// Built once per process from `UnicodeData` (the reference library's own Unicode data, see
/// there). The normaliser's per-scalar steps are folded into one precomputed "item" list per
/// scalar; only canonical reordering, which depends on neighbours, is left for the encoder.
struct CharacterTable: Sendable {
    // Layout of an info word.
    static let kindMask: UInt32 = 0b11
    static let kindNormal: UInt32 = 0
    static let kindRemoved: UInt32 = 1      // clean_text deletes it
    static let kindWhitespace: UInt32 = 2   // clean_text turns it into a space
    static let punctuationBit: UInt32 = 1 << 2
    static let cjkBit: UInt32 = 1 << 3
    static let hangulBit: UInt32 = 1 << 4  // uncased: decompose arithmetically
    static let cccShift: UInt32 = 8         // bits 8...15: canonical combining class
    static let mappingShift: UInt32 = 16    // bits 16...31: uncased item list index, 0 = itself

    // Layout of an item: a scalar as it leaves NFD + accent stripping + lower-casing.
    static let itemScalarMask: UInt32 = 0x1F_FFFF
    static let itemPunctuationBit: UInt32 = 1 << 21
    /// A dropped mark of class 0: emits nothing but still ends a run of combining marks.
    static let itemBarrierBit: UInt32 = 1 << 22
    static let itemCCCShift: UInt32 = 24

    /// The shared table, built on first use (Swift initialises globals once, thread-safely).
    static let shared = CharacterTable()

    private let stage1: [UInt16]
    private let stage2: [UInt32]
    /// Item lists: `items[i]` is a count, followed by that many items.
    let items: [UInt32]

    /// The info word of `scalar` (any value; out-of-range values read as ordinary).
    @inline(__always)
    func info(_ scalar: UInt32) -> UInt32 {
        guard scalar < 0x11_0000 else { return 0 }
        return stage2[Int(stage1[Int(scalar >> 8)]) << 8 | Int(scalar & 0xFF)]
    }

    /// The single item a scalar stands for when it maps to itself.
    @inline(__always)
    static func identityItem(_ scalar: UInt32, info: UInt32) -> UInt32 {
        let ccc = (info >> cccShift) & 0xFF
        let punct = info & punctuationBit != 0 ? itemPunctuationBit : 0
        return scalar | punct | ccc << itemCCCShift
    }

    init() {
        var flat = [UInt32](repeating: 0, count: 0x11_0000)
        for range in UnicodeDataParser.ranges(UnicodeData.removed) {
            for cp in range { flat[Int(cp)] = Self.kindRemoved }
        }
        for range in UnicodeDataParser.ranges(UnicodeData.whitespace) {
            for cp in range { flat[Int(cp)] = Self.kindWhitespace }
        }
        for range in UnicodeDataParser.ranges(UnicodeData.punctuation) {
            for cp in range { flat[Int(cp)] |= Self.punctuationBit }
        }
        for range in Self.cjkRanges {
            for cp in range { flat[Int(cp)] |= Self.cjkBit }
        }
        for cp in Self.hangulSyllables { flat[Int(cp)] |= Self.hangulBit }
        for (range, ccc) in UnicodeDataParser.classes(UnicodeData.combiningClasses) {
            for cp in range { flat[Int(cp)] |= ccc << Self.cccShift }
        }
        var marks = Set<UInt32>()
        for range in UnicodeDataParser.ranges(UnicodeData.nonspacingMarks) {
            for cp in range { marks.insert(cp) }
        }
        let decompositions = UnicodeDataParser.mappings(UnicodeData.decompositions)
        let lowercase = UnicodeDataParser.mappings(UnicodeData.lowercase)

        // Fold NFD, accent stripping and lower-casing into one item list per scalar, in the
        // order BertNormalizer applies them. Stripping before reordering is safe because a
        // stable sort followed by a filter equals the filter followed by the sort, as long as
        // dropped class-0 marks still split runs (the barrier items).
        var items: [UInt32] = [0]
        let candidates = Set(decompositions.keys).union(lowercase.keys).union(marks)
        for cp in candidates.sorted() {
            let info = flat[Int(cp)]
            guard info & Self.kindMask == Self.kindNormal else { continue }
            var list: [UInt32] = []
            for s in decompositions[cp] ?? [cp] {
                let sInfo = flat[Int(s)]
                let ccc = (sInfo >> Self.cccShift) & 0xFF
                if marks.contains(s) {
                    if ccc == 0 { list.append(Self.itemBarrierBit) }
                    continue
                }
                for l in lowercase[s] ?? [s] {
                    let punct = flat[Int(l)] & Self.punctuationBit != 0 ? Self.itemPunctuationBit : 0
                    list.append(l | punct | ccc << Self.itemCCCShift)
                }
            }
            if list == [Self.identityItem(cp, info: info)] { continue }
            flat[Int(cp)] |= UInt32(items.count) << Self.mappingShift
            items.append(UInt32(list.count))
            items.append(contentsOf: list)
        }
        precondition(items.count <= 0xFFFF, "uncased item lists overflow their 16-bit index")
        self.items = items

        // Two-stage table: identical 256-scalar blocks are stored once.
        var stage1 = [UInt16](repeating: 0, count: 0x1100)
        var stage2: [UInt32] = []
        var seen: [[UInt32]: UInt16] = [:]
        for block in 0..<0x1100 {
            let slice = Array(flat[block << 8 ..< (block + 1) << 8])
            if let index = seen[slice] {
                stage1[block] = index
            } else {
                let index = UInt16(stage2.count >> 8)
                seen[slice] = index
                stage1[block] = index
                stage2.append(contentsOf: slice)
            }
        }
        self.stage1 = stage1
        self.stage2 = stage2
    }

    /// The "Chinese character" ranges of tokenizers' BertNormalizer (`is_chinese_char`); note
    /// 0x2B920 (not 0x2B820) as the start of the sixth range, as tokenizers has it.
    static let cjkRanges: [ClosedRange<UInt32>] = [
        0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
        0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F,
    ]

    static let hangulSyllables: ClosedRange<UInt32> = 0xAC00...0xD7A3

    /// Canonical decomposition of a precomposed Hangul syllable into 2 or 3 conjoining jamo.
    @inline(__always)
    static func hangulJamo(_ scalar: UInt32) -> (UInt32, UInt32, UInt32?) {
        let s = scalar - 0xAC00
        let t = s % 28
        return (0x1100 + s / 588, 0x1161 + (s % 588) / 28, t == 0 ? nil : 0x11A7 + t)
    }
}

/// Reads the compact hex notation of `UnicodeData`.
enum UnicodeDataParser {
    /// Tokens `a` or `a-b` → inclusive ranges.
    static func ranges(_ text: String) -> [ClosedRange<UInt32>] {
        tokens(text).compactMap { token in
            let parts = token.split(separator: "-")
            guard let lo = parts.first.flatMap({ UInt32($0, radix: 16) }) else { return nil }
            let hi = parts.count == 2 ? UInt32(parts[1], radix: 16) ?? lo : lo
            return lo...max(lo, hi)
        }
    }

    /// Tokens `range:class` → (range, class).
    static func classes(_ text: String) -> [(ClosedRange<UInt32>, UInt32)] {
        tokens(text).compactMap { token in
            let parts = token.split(separator: ":")
            guard parts.count == 2, let range = ranges(String(parts[0])).first,
                  let value = UInt32(parts[1], radix: 16), value <= 0xFF else { return nil }
            return (range, value)
        }
    }

    /// Tokens `cp:s1,s2,…` → cp → [s1, s2, …].
    static func mappings(_ text: String) -> [UInt32: [UInt32]] {
        var result: [UInt32: [UInt32]] = [:]
        for token in tokens(text) {
            let parts = token.split(separator: ":")
            guard parts.count == 2, let key = UInt32(parts[0], radix: 16) else { continue }
            let values = parts[1].split(separator: ",").compactMap { UInt32($0, radix: 16) }
            result[key] = values
        }
        return result
    }

    private static func tokens(_ text: String) -> [Substring] {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" })
    }
}
