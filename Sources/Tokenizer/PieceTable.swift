/// An open-addressing hash map from byte strings to token ids that is probed with byte
/// slices of a word, so WordPiece never builds a `String` per candidate sub-word.
///
/// The hash is polynomial (`h = h·P + byte`, wrapping), so the hash of any slice of a word
/// follows from the word's prefix hashes in O(1) (see `PrefixHashes`); a final multiply-xor
/// spreads it over the slots. The keys come from the vocabulary file, never from clients, so
/// probe lengths are fixed at load time.
struct PieceTable: Sendable {
    static let multiplier: UInt64 = 0x100_0000_01B3  // the 64-bit FNV prime; any odd value works

    private var bytes: [UInt8] = []
    private var offsets: [UInt32] = []
    private var lengths: [UInt16] = []
    private var ids: [Int32] = []
    private var hashes: [UInt64] = []
    private var slots: [Int32] = []
    private var mask = 0
    /// The longest key, in bytes: longer slices cannot match.
    private(set) var maxKeyLength = 0

    var count: Int { ids.count }

    /// The polynomial hash of a whole key.
    static func hash<C: Collection>(_ key: C) -> UInt64 where C.Element == UInt8 {
        var h: UInt64 = 0
        for b in key { h = h &* multiplier &+ UInt64(b) }
        return h
    }

    @inline(__always)
    private static func slot(_ hash: UInt64) -> Int {
        var x = hash ^ (hash >> 31)
        x = x &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: x >> 17)
    }

    /// Builds the table; keys must be distinct (the caller checks) and at most 65,535 bytes.
    init(keys: [(key: ArraySlice<UInt8>, id: Int32)]) {
        var capacity = 16
        while capacity < keys.count * 2 { capacity <<= 1 }
        mask = capacity - 1
        slots = [Int32](repeating: -1, count: capacity)
        bytes.reserveCapacity(keys.reduce(0) { $0 + $1.key.count })
        for (index, entry) in keys.enumerated() {
            let h = Self.hash(entry.key)
            offsets.append(UInt32(bytes.count))
            lengths.append(UInt16(entry.key.count))
            bytes.append(contentsOf: entry.key)
            ids.append(entry.id)
            hashes.append(h)
            maxKeyLength = max(maxKeyLength, entry.key.count)
            var s = Self.slot(h) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(index)
        }
    }

    /// The id of the key equal to `key[start..<end]` whose polynomial hash is `hash`.
    @inline(__always)
    func lookup(_ key: UnsafeBufferPointer<UInt8>, start: Int, end: Int, hash: UInt64) -> Int32? {
        let length = end - start
        var s = Self.slot(hash) & mask
        while true {
            let entry = Int(slots[s])
            if entry < 0 { return nil }
            if hashes[entry] == hash && Int(lengths[entry]) == length
                && equal(entry: entry, key, start: start, length: length) {
                return ids[entry]
            }
            s = (s + 1) & mask
        }
    }

    @inline(__always)
    private func equal(entry: Int, _ key: UnsafeBufferPointer<UInt8>, start: Int, length: Int) -> Bool {
        let offset = Int(offsets[entry])
        return bytes.withUnsafeBufferPointer { stored in
            var i = 0
            while i < length {
                if stored[offset + i] != key[start + i] { return false }
                i += 1
            }
            return true
        }
    }

    /// Looks up a whole key (slow path, for tests and special tokens).
    func id<C: Collection>(of key: C) -> Int32? where C.Element == UInt8 {
        let array = Array(key)
        return array.withUnsafeBufferPointer { lookup($0, start: 0, end: $0.count, hash: Self.hash(array)) }
    }
}

/// Prefix hashes of one word so that `hash(start, end)` is the `PieceTable` hash of
/// `word[start..<end]` in O(1): `H[end] - H[start]·P^(end-start)`.
struct PrefixHashes {
    /// `P^k` for every slice length a word can have.
    static let powers: [UInt64] = {
        var p: [UInt64] = [1]
        for _ in 0..<WordBuffer.byteCapacity { p.append(p[p.count - 1] &* PieceTable.multiplier) }
        return p
    }()

    @inline(__always)
    static func fill(_ prefix: UnsafeMutableBufferPointer<UInt64>, word: UnsafeBufferPointer<UInt8>) {
        var h: UInt64 = 0
        prefix[0] = 0
        for i in 0..<word.count {
            h = h &* PieceTable.multiplier &+ UInt64(word[i])
            prefix[i + 1] = h
        }
    }

    @inline(__always)
    static func hash(_ prefix: UnsafeMutableBufferPointer<UInt64>, start: Int, end: Int,
                     powers: UnsafeBufferPointer<UInt64>) -> UInt64 {
        prefix[end] &- prefix[start] &* powers[end - start]
    }
}
