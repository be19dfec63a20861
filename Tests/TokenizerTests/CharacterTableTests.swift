import Testing
@testable import Tokenizer

@Suite struct CharacterTableTests {
    let table = CharacterTable.shared

    /// Marks that take part in canonical reordering are appended to words without a
    /// punctuation check, so no such item may be punctuation.
    @Test func reorderedItemsAreNeverPunctuation() {
        for scalar in UInt32(0)..<0x11_0000 {
            let info = table.info(scalar)
            let identity = CharacterTable.identityItem(scalar, info: info)
            if identity >> CharacterTable.itemCCCShift != 0 {
                #expect(identity & CharacterTable.itemPunctuationBit == 0, "U+\(String(scalar, radix: 16))")
            }
        }
        var k = 1
        while k < table.items.count {
            let count = Int(table.items[k])
            for item in table.items[(k + 1)..<(k + 1 + count)] where item >> CharacterTable.itemCCCShift != 0 {
                #expect(item & CharacterTable.itemPunctuationBit == 0)
            }
            k += 1 + count
        }
    }

    /// The ASCII fast path lower-cases A–Z by setting bit 5 and keeps every other byte; the
    /// table (Rust's `to_lowercase`) must agree, and ASCII must need no decomposition.
    @Test func asciiNeedsOnlyTheFastPath() {
        for b in UInt32(0)..<0x80 {
            let info = table.info(b)
            let mapping = Int(info >> CharacterTable.mappingShift)
            if (0x41...0x5A).contains(b) {
                #expect(mapping != 0)
                #expect(table.items[mapping] == 1)
                #expect(table.items[mapping + 1] & CharacterTable.itemScalarMask == b | 0x20)
            } else {
                #expect(mapping == 0, "U+\(String(b, radix: 16))")
            }
            #expect(info >> CharacterTable.cccShift & 0xFF == 0)
            #expect(info & (CharacterTable.cjkBit | CharacterTable.hangulBit) == 0)
        }
    }

    /// Hangul syllables decompose arithmetically into jamo that need no further mapping.
    @Test func hangulJamoAreFinal() {
        for syllable in CharacterTable.hangulSyllables {
            #expect(table.info(syllable) & CharacterTable.hangulBit != 0)
            let (l, v, t) = CharacterTable.hangulJamo(syllable)
            for jamo in [l, v] + (t.map { [$0] } ?? []) {
                let info = table.info(jamo)
                #expect(info & CharacterTable.kindMask == CharacterTable.kindNormal)
                #expect(info >> CharacterTable.mappingShift == 0)
                #expect(info & (CharacterTable.punctuationBit | CharacterTable.cjkBit) == 0)
                #expect(info >> CharacterTable.cccShift & 0xFF == 0)
            }
        }
        #expect(CharacterTable.hangulJamo(0xAC00) == (0x1100, 0x1161, nil))
        #expect(CharacterTable.hangulJamo(0xD7A3) == (0x1112, 0x1175, 0x11C2))
    }

    @Test func outOfRangeValuesReadAsOrdinary() {
        #expect(table.info(0x11_0000) == 0)
        #expect(table.info(UInt32.max) == 0)
    }

    /// CJK ranges are tokenizers' (`is_chinese_char`), including its 0x2B920 start.
    @Test func cjkRangesMatchTokenizers() {
        #expect(table.info(0x4E00) & CharacterTable.cjkBit != 0)
        #expect(table.info(0x2B920) & CharacterTable.cjkBit != 0)
        #expect(table.info(0x2B820) & CharacterTable.cjkBit == 0)
        #expect(table.info(0x3040) & CharacterTable.cjkBit == 0)  // Hiragana is not CJK here
    }
}
