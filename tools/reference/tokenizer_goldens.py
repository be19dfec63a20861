#!/usr/bin/env python3
"""Reference data for the Swift `Tokenizer` module, taken from Hugging Face `tokenizers`.

Two jobs, both deterministic (seeded) so that re-running gives the same files:

  tables   Probe the `tokenizers` library one code point at a time and write the Unicode
           property data it has compiled in (character classes of the `unicode_categories`
           crate, canonical decompositions and combining classes of the
           `unicode-normalization-alignments` crate, Rust's `char::to_lowercase`) to
           Sources/Tokenizer/UnicodeData.swift. The Swift code composes these exactly as
           BertNormalizer / BertPreTokenizer do; the data pins the Unicode versions those crates
           were built with (older than the Swift runtime's), see docs/tokenizer.md.
  exhaustive  Write .cache/tokenizer/exhaustive.jsonl (16 MB, not committed): every scalar
           U+0000…U+10FFFF in runs of 24, plus 20,000 seeded random mixes of combining marks
           and letters, with tokenizers' words for both casings. `make test-tokenizer-exhaustive`
           runs this (in .cache/tokenizer-venv) and then the check
           (TextSplitterTests.exhaustiveCodePointWordsMatchTokenizers); `make test` does not,
           and reports that test as skipped unless the file exists.
  goldens  Write Tests/Fixtures/goldens/tokenizer/*.jsonl: strings with the exact ids that
           `BertTokenizerFast` (transformers, backed by `tokenizers`) gives with the committed
           bert-base-uncased vocab, for do_lower_case true and false, and a per-code-point file
           of normalised + pre-tokenised words.

Usage (from the repository root):
  python3 tools/reference/tokenizer_goldens.py tables
  python3 tools/reference/tokenizer_goldens.py goldens
  python3 tools/reference/tokenizer_goldens.py all
  python3 tools/reference/tokenizer_goldens.py exhaustive
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import unicodedata

import tokenizers
import transformers
from tokenizers import normalizers as N
from tokenizers import pre_tokenizers as PT

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VOCAB = os.path.join(ROOT, "Tests", "Fixtures", "vocab", "bert-base-uncased", "vocab.txt")
GOLDENS = os.path.join(ROOT, "Tests", "Fixtures", "goldens", "tokenizer")
TABLES = os.path.join(ROOT, "Sources", "Tokenizer", "UnicodeData.swift")
EXHAUSTIVE = os.path.join(ROOT, ".cache", "tokenizer", "exhaustive.jsonl")

# The "Chinese character" ranges of tokenizers' BertNormalizer (normalizers/bert.rs).
CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def all_scalars():
    """Every Unicode scalar value (code points minus surrogates)."""
    for cp in range(0x110000):
        if not 0xD800 <= cp <= 0xDFFF:
            yield cp


def is_cjk(cp):
    return any(lo <= cp <= hi for lo, hi in CJK_RANGES)


def hangul_nfd(cp):
    s = cp - HANGUL_FIRST
    out = [0x1100 + s // 588, 0x1161 + (s % 588) // 28]
    if s % 28:
        out.append(0x11A7 + s % 28)
    return out


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------

def probe_tables():
    clean = N.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                             lowercase=False)
    strip = N.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                             lowercase=False)
    nfd = N.NFD()
    lower = N.Lowercase()
    pre = PT.BertPreTokenizer()

    removed, whitespace, punct, marks = [], [], [], []
    ccc, decomp, lowercase = {}, {}, {}
    for cp in all_scalars():
        c = chr(cp)
        r = clean.normalize_str(c)
        if r == "":
            removed.append(cp)
        elif r == " ":
            whitespace.append(cp)
        elif r != c:
            sys.exit(f"clean_text maps U+{cp:04X} to {r!r}: not modelled")
        if r == c and c != " ":
            words = [w for w, _ in pre.pre_tokenize_str("a" + c + "b")]
            if words == ["a", c, "b"]:
                punct.append(cp)
            elif words != ["a" + c + "b"]:
                sys.exit(f"pre-tokenizer splits U+{cp:04X} as {words!r}: not modelled")
        d = nfd.normalize_str(c)
        if d != c:
            seq = [ord(x) for x in d]
            if HANGUL_FIRST <= cp <= HANGUL_LAST:
                if seq != hangul_nfd(cp):
                    sys.exit(f"Hangul U+{cp:04X} decomposes unexpectedly")
            else:
                decomp[cp] = seq
        else:
            if strip.normalize_str(c) == "":
                marks.append(cp)
            # Canonical combining class as the normalisation crate knows it: it reorders a mark
            # of class k > 1 before U+0334 (class 1), and a mark of class 0 < k < 230 before
            # U+0301 (class 230). Values are Unicode's (they never change once assigned).
            k = unicodedata.combining(c)
            moved_before_1 = nfd.normalize_str(c + "\u0334") == "\u0334" + c
            moved_after_230 = nfd.normalize_str("\u0301" + c) == c + "\u0301"
            known = (k > 1 and moved_before_1) or (k == 1 and moved_after_230)
            if (moved_before_1 or moved_after_230) and k == 0:
                sys.exit(f"U+{cp:04X} has a combining class Python's unicodedata lacks")
            if known:
                ccc[cp] = k
        lo = lower.normalize_str(c)
        if lo != c:
            lowercase[cp] = [ord(x) for x in lo]
    # Decomposed outputs carry their own classes; check the tables are closed under NFD.
    for cp, seq in decomp.items():
        for s in seq:
            if s in decomp:
                sys.exit(f"decomposition of U+{cp:04X} is not full")
    return dict(removed=removed, whitespace=whitespace, punct=punct, marks=marks, ccc=ccc,
                decomp=decomp, lowercase=lowercase)


def ranges(cps):
    out, start, prev = [], None, None
    for cp in sorted(cps):
        if start is None:
            start = prev = cp
        elif cp == prev + 1:
            prev = cp
        else:
            out.append((start, prev))
            start = prev = cp
    if start is not None:
        out.append((start, prev))
    return out


def fmt_ranges(cps):
    return [f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in ranges(cps)]


def fmt_ccc(ccc):
    items, run = [], None
    for cp in sorted(ccc):
        k = ccc[cp]
        if run and run[1] == cp - 1 and run[2] == k:
            run[1] = cp
        else:
            if run:
                items.append(run)
            run = [cp, cp, k]
    if run:
        items.append(run)
    return [(f"{a:x}" if a == b else f"{a:x}-{b:x}") + f":{k:x}" for a, b, k in items]


def fmt_map(m):
    return [f"{cp:x}:" + ",".join(f"{s:x}" for s in m[cp]) for cp in sorted(m)]


def swift_block(name, doc, tokens, per_line=10):
    lines = [" ".join(tokens[i:i + per_line]) for i in range(0, len(tokens), per_line)]
    body = "\n".join("        " + ln for ln in lines)
    return (f"    /// {doc}\n"
            f"    static let {name} = \"\"\"\n{body}\n        \"\"\"\n")


def write_tables():
    t = probe_tables()
    header = f"""\
// GENERATED by tools/reference/tokenizer_goldens.py tables — do not edit by hand.
//
// Unicode property data exactly as the Hugging Face `tokenizers` {tokenizers.__version__} library
// has it compiled in, probed one code point at a time through its Python API:
//   removed / whitespace  BertNormalizer clean_text (`unicode_categories` Cc/Cf/Co/Cs, NUL, U+FFFD;
//                         Rust `char::is_whitespace`)
//   punctuation           BertPreTokenizer (ASCII punctuation or `unicode_categories` P*)
//   nonspacingMarks       BertNormalizer strip_accents (`unicode_categories` Mn)
//   combiningClasses      canonical combining classes the NFD crate knows (`cp:class`, hex)
//   decompositions        NFD of `unicode-normalization-alignments` (`cp:d1,d2,…`, hex;
//                         Hangul syllables are decomposed arithmetically instead)
//   lowercase             Rust `char::to_lowercase` (`cp:l1,…`, hex)
// Tokens are hex code points or inclusive ranges `a-b`, separated by white space.

/// Unicode property tables of the reference implementation (see the header comment).
enum UnicodeData {{
"""
    blocks = [
        swift_block("removed", "Scalars that BertNormalizer's clean-up deletes.",
                    fmt_ranges(t["removed"])),
        swift_block("whitespace", "Scalars that BertNormalizer's clean-up turns into U+0020.",
                    fmt_ranges(t["whitespace"])),
        swift_block("punctuation", "Scalars that BertPreTokenizer isolates as punctuation.",
                    fmt_ranges(t["punct"])),
        swift_block("nonspacingMarks", "Scalars that accent stripping drops (after NFD).",
                    fmt_ranges(t["marks"])),
        swift_block("combiningClasses", "Non-zero canonical combining classes.", fmt_ccc(t["ccc"])),
        swift_block("decompositions", "Full canonical decompositions (non-Hangul).",
                    fmt_map(t["decomp"]), per_line=6),
        swift_block("lowercase", "Lower-case mappings that differ from the scalar itself.",
                    fmt_map(t["lowercase"]), per_line=8),
    ]
    with open(TABLES, "w", encoding="utf-8") as f:
        f.write(header + "\n".join(blocks) + "}\n")
    print(f"wrote {os.path.relpath(TABLES, ROOT)}: removed {len(t['removed'])}, whitespace "
          f"{len(t['whitespace'])}, punctuation {len(t['punct'])}, marks {len(t['marks'])}, "
          f"ccc {len(t['ccc'])}, decompositions {len(t['decomp'])}, lowercase {len(t['lowercase'])}")


# --------------------------------------------------------------------------------------------
# goldens: the strings
# --------------------------------------------------------------------------------------------

PROSE_MODULES = ["argparse", "ast", "asyncio", "base64", "bisect", "calendar", "codecs",
                 "collections", "configparser", "contextlib", "copy", "csv", "dataclasses",
                 "datetime", "decimal", "difflib", "email", "enum", "fractions", "functools",
                 "glob", "gzip", "hashlib", "heapq", "hmac", "html", "http.client", "inspect",
                 "io", "ipaddress", "itertools", "json", "locale", "logging", "math",
                 "mimetypes", "operator", "os", "pathlib", "pickle", "platform", "pprint",
                 "queue", "random", "re", "sched", "secrets", "selectors", "shlex", "shutil",
                 "socket", "sqlite3", "statistics", "string", "struct", "subprocess",
                 "tarfile", "tempfile", "textwrap", "threading", "time", "timeit", "tokenize",
                 "typing", "unittest", "urllib.parse", "uuid", "warnings", "weakref", "zipfile"]


def prose_paragraphs():
    """English prose: paragraphs of the Python standard library's docstrings."""
    import importlib
    import inspect
    paras = []
    for name in PROSE_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        docs = [inspect.getdoc(mod) or ""]
        for attr in sorted(dir(mod)):
            if attr.startswith("_"):
                continue
            obj = getattr(mod, attr, None)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                docs.append(inspect.getdoc(obj) or "")
        for d in docs:
            for p in d.split("\n\n"):
                p = " ".join(p.split())
                if 40 <= len(p) <= 600 and p not in paras:
                    paras.append(p)
    return paras


SUBJECTS = ["a man", "a woman", "two dogs", "a small child", "a group of people", "an old red bus",
            "the black cat", "three young boys", "a surfer", "a brown horse", "a chef",
            "an elderly couple", "a girl in a yellow dress", "a skateboarder", "two zebras",
            "a plate of food", "a giraffe", "a firefighter", "a street vendor", "a pizza",
            "A Tennis Player", "THE BASEBALL TEAM", "a Golden Retriever", "some sheep"]
VERBS = ["is sitting on", "walks along", "is riding", "jumps over", "stands next to",
         "is eating", "looks at", "runs across", "is holding", "leans against", "flies over",
         "is parked beside", "plays with", "waits at", "climbs up", "sleeps under"]
OBJECTS = ["a wooden bench", "the beach", "a bicycle", "a fence", "a fire hydrant", "the table",
           "a snowy mountain", "the river bank", "a busy street", "a kitchen counter",
           "the soccer field", "a red umbrella", "an open laptop", "the train station",
           "a pile of leaves", "the stop sign", "a birthday cake", "a frisbee"]
TAILS = ["", ".", " at night.", " in the rain.", ", smiling.", " while it's snowing!",
         " near the lake?", " (black and white photo)", " -- a close-up.", " on a sunny day",
         "; nobody else is around.", " at 10:30am.", " for $3.50", " #travel #sunset",
         " with 2 friends & 1 dog", " in downtown L.A.", " — very blurry…", " [cropped]"]


def captions(rng, n):
    out = []
    while len(out) < n:
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}{rng.choice(TAILS)}"
        r = rng.random()
        if r < 0.3:
            s = s[0].upper() + s[1:]
        elif r < 0.35:
            s = s.upper()
        if s not in out:
            out.append(s)
    return out


ASCII_PUNCT = "".join(chr(c) for c in range(0x21, 0x7F) if not chr(c).isalnum())

MISC_ENGLISH = [
    "Hello, World!", "It's a dog's life, isn't it?", "e-mail: john.doe@example.com",
    "https://www.example.org/path?query=1&x=y#frag", "C++ and C# are languages; so is F#.",
    "The price rose 12.5% to $1,234.56 (approx.)", "3.14159265358979323846264338327950288",
    "U.S.A. vs. U.K.", "rock'n'roll", "don't won't can't shouldn't y'all'd've",
    "well-known state-of-the-art mother-in-law", "#hashtag @mention", "1st 2nd 3rd 4th 21st",
    "12:45:00 2024-01-31T23:59:59Z", "foo_bar baz__qux CamelCaseWord snake_case_word",
    "unaffable unbelievable antidisestablishmentarianism supercalifragilisticexpialidocious",
    "Tokenization is fun!!!", "...", "?!?!", "(((nested)))", "\"quoted\" 'single' `back`",
    "a/b\\c|d~e^f", "<html><body>Hi</body></html>", "{\"json\": [1, 2, 3]}", "x+y=z; x*y<z>w",
    "     leading and trailing spaces     ", "tabs\tand\nnewlines\r\nhere",
    "MiXeD CaSe WoRdS", "ALL CAPS SENTENCE HERE", "numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000",
    "phone: +1 (555) 123-4567", "file.tar.gz ~/home/user/.bashrc ../relative/path",
    "A", "a", "I", "Z", "0", "9", "zzz", "qqqq xxxx",
]

LATIN = [
    "café", "naïve", "résumé", "Crème brûlée", "Ångström", "Øresund", "Straße", "smörgåsbord",
    "piñata jalapeño mañana", "façade garçon", "Œuvre cœur", "Æsir æther", "Łódź Gdańsk Kraków",
    "Český Krumlov", "İstanbul ıı İİ", "Dvořák", "Ærø", "São Paulo", "Zürich", "Ñandú",
    "Iñtërnâtiônàlizætiøn", "ǅemal ǈubljana ǋ ǲ", "ﬁnancial ﬂow ﬀ", "Ｆｕｌｌｗｉｄｔｈ",
    "cafe\u0301 nai\u0308ve", "A\u030a K\u212a \u212b Ω \u2126", "ȘȚ șț ŞŢ şţ",
    "Vietnamese: Tiếng Việt có dấu", "Hrvatski: čćđšž ČĆĐŠŽ", "Türkçe: ğüşöçı ĞÜŞÖÇİ",
    "Íslenska: þórður ÞÐ ð", "Esperanto: ĉĝĥĵŝŭ", "Latvian: āēīūķļņ", "Maltese: ċġħż",
    "ﬃ ﬄ ﬅ ﬆ", "ᵃᵇᶜ ₀₁₂ ⁰¹² ½ ¾ ⅓", "ℌℍℎ ℓ № ™ ℠ ℡", "Ⅰ Ⅱ Ⅲ ⅰ ⅱ ⅲ", "µ ß ẞ ſ",
]

SCRIPTS = {
    "greek": ["Καλημέρα κόσμε", "Ελληνικά: αβγδεζηθικλμνξοπρστυφχψω ΑΒΓΔΕΖΗΘ",
              "ΆΈΉΊΌΎΏ άέήίόύώ ϊϋΐΰ", "Σίσυφος ΣΊΣΥΦΟΣ ς", "τί ἐστιν; ᾅ ᾷ ῷ ὦ",
              "Η Αθήνα είναι η πρωτεύουσα της Ελλάδας."],
    "cyrillic": ["Привет, мир!", "Москва — столица России.", "ЁЖИК ёжик Йод йод",
                 "Україна: ї є ґ Ї Є Ґ", "Српски: ђ ј љ њ ћ џ", "Беларусь ў Ў",
                 "съешь же ещё этих мягких французских булок, да выпей чаю"],
    "cjk": ["你好，世界！", "我爱北京天安门。", "日本語のテキストです。", "東京タワーとスカイツリー",
            "한국어 텍스트입니다", "안녕하세요 세계", "中文English混合text", "繁體中文與简体中文",
            "𠀀𠀁𪜀𫝀𫠠𬺰 CJK Ext B-F", "豈 更 車 賈 (compatibility ideographs)",
            "ｶﾀｶﾅ ﾊﾝｶｸ", "ひらがな カタカナ ー ヽヾ", "〇〡〢 〆 々", "㐀㐁 䶵 鿿 ꀀ",
            "漢字かな交じり文", "北京市朝阳区", "これは、テストです。"],
    "arabic": ["مرحبا بالعالم", "اللغة العربية جميلة", "كِتَابٌ مُفِيدٌ", "الْحَمْدُ لِلَّهِ",
               "١٢٣٤٥٦٧٨٩٠", "فارسی: گچپژ", "اردو: ٹڈڑں", "؟ ، ؛ ٪"],
    "hebrew": ["שלום עולם", "עִבְרִית עם ניקוד", "בְּרֵאשִׁית בָּרָא", "ירושלים ת״א", "ש״ח ₪ 100"],
    "thai": ["สวัสดีครับ", "ภาษาไทย", "กรุงเทพมหานคร", "น้ำ ไม้ ก่ ก้ ก๊ ก๋", "๑๒๓ ฿"],
    "devanagari": ["नमस्ते दुनिया", "हिन्दी भाषा", "संस्कृतम्", "क़ ख़ ग़ ज़ ड़ ढ़ फ़ य़", "१२३४ ।॥",
                   "मराठी नेपाली"],
    "other": ["Ελληνικά Русский 中文 العربية עברית ไทย हिन्दी", "ᚠᚢᚦᚨᚱᚲ runes", "ሰላም ዓለም",
              "Բարեւ Աշխարհ", "გამარჯობა", "ᏣᎳᎩ", "ⴰⵣⵓⵍ", "ꦲꦤꦕꦫꦏ", "ᠮᠣᠩᠭᠣᠯ", "ཀཁགང",
              "ᬅᬓ᭄ᬱᬭ", "தமிழ்", "తెలుగు", "ಕನ್ನಡ", "മലയാളം", "বাংলা", "ગુજરાતી", "ਪੰਜਾਬੀ",
              "ଓଡ଼ିଆ", "සිංහල", "ພາສາລາວ", "ភាសាខ្មែរ", "မြန်မာ", "𐌰𐌱𐌲 gothic", "𓀀𓁐 hieroglyphs"],
}

EMOJI = ["😀", "I ❤️ NY", "👍🏽 ok", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 flag", "🇺🇸🇫🇷🇯🇵", "1️⃣ #️⃣ *️⃣",
         "🧑🏿‍💻 coder", "👩‍❤️‍💋‍👨", "🐶🐱🐭🐹", "emoji😀in😀words", "☺ ☻ ♥ ♦ ♣ ♠", "🥰🥳🥺🫠🫶",
         "🏴󠁧󠁢󠁳󠁣󠁴󠁿 scotland", "✌🏻✌🏼✌🏽✌🏾✌🏿", "🤷‍♀️🤷‍♂️", "🙂\u200d🙂", "⌚⌛⏰", "©®™",
         "👁️‍🗨️", "🧔\u200d♂\ufe0f", "🫨🩷🪿 (Unicode 15)", "🙂‍↔️🐦‍🔥 (Unicode 15.1)", "🫩🫆 (16.0)"]

CONTROL = ["a\x00b", "\x00", "\x00\x00\x00", "x\x01y\x02z\x1fw\x7f", "tab\there", "nl\nhere",
           "cr\rhere", "vt\x0bff\x0c", "\x1c\x1d\x1e\x1f fs gs rs us", "\x85nel", "a\u00adb soft",
           "zw\u200bsp\u200czwnj\u200dzwj", "\u200e\u200f lrm rlm \u202a\u202b\u202c\u202d\u202e",
           "\ufeffbom", "\ufffd replacement", "a\ufffdb\ufffd", "\u2028\u2029 separators",
           "\u2060wj \u2061\u2062\u2063\u2064", "\ue000\uf8ff private", "\U000f0000\U0010fffd",
           "\u0600\u0601\u0602 arabic marks", "\u061c alm", "\u180e mvs", "\U000e0001\U000e0041",
           "\u00a0nbsp\u2007figure\u202fnarrow", "\u3000ideographic space", "\u1680ogham",
           "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a spaces", "\x80\x9f c1",
           "\u0890\u0891\u08e2 new Cf", "\U00013430\U00013438 egyptian format", "\U000110cd kaithi"]

MARKS = ["\u0301", "\u0301\u0301\u0301", "a\u0301", "\u0300a", " \u0308 ", "x\u20dd", "\u20e3",
         "e\u0316\u0301", "e\u0301\u0316", "a\u0334\u0301\u0316\u0327", "\u0e31", "ก\u0e31\u0e49",
         "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357\u0334\u0362\u0335\u031c\u0330\u0354L\u0368\u0367\u0369\u0358\u0320G\u0311\u0357\u030e\u0305\u035b\u0341\u0334\u033b\u0348\u034d\u0354\u0339O\u0342\u030c\u030c\u0358\u0328\u0335\u0339\u033b\u031d\u0333",
         "\U0001d165\U0001d16d", "\U0001d16d\U0001d165", "a\U0001d16d\u0301\U0001d165",
         "a\U0001d16d\u0e31\U0001d165", "\u302e\u302f", "\u302f\u302e x", "\u1b44\u0301\u1b44",
         "\U0001e944\U0001e94a", "\U0001e94a\U0001e944", "\u0d3b\u0d3c", "\u1abf\u1ac0\u1ac1",
         "\u0345", "\u0340\u0341\u0343\u0344", "\u0f73\u0f75\u0f81", "\u1dc0\u1dff", "\u0488\u0489",
         "\u0903\u093e", "\u05b0\u05b1\u05b2\u05c7", "\u0670\u0656\u0657", "x\U0001e023y",
         "\u1df6\u1df9\u1dfa", "\u0898\u08ca\u08cf", "q\u031b\u0321\u0345", "\ufe20\ufe2f"]


def long_words(rng):
    out = []
    for n in (99, 100, 101, 150, 300):
        out.append("a" * n)
        out.append("ab" * (n // 2) + " short")
    out += ["é" * 100, "é" * 101, "e\u0301" * 60, "e\u0301" * 99, "日本" + "x" * 120,
            "x" * 100 + "!" + "y" * 100, "ü" * 50 + "u" * 50, "ü" * 51 + "u" * 50,
            "😀" * 101, "😀" * 100, "\u0301" * 200 + "a", "a" + "\u0301" * 200,
            "Ä" * 100, "ǅ" * 101, "İ" * 100, "İ" * 60, "ﬃ" * 40, "\u00ad".join("a" * 101),
            "x\x00" * 101, "pneumonoultramicroscopicsilicovolcanoconiosis" * 2,
            "https://example.com/" + "verylongpath" * 10, "Ab1" * 34]
    for _ in range(20):
        out.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyzéß") for _ in range(rng.randint(90, 130))))
    return out


WHITESPACE = ["", " ", "  ", "\t", "\n", "\r\n", " \t\n\r ", "\u00a0", "\u3000", "\u2003\u2003",
              "\x00", "\x00 \x00", "\u200b", "\ufeff", "\ufffd", "\x85", "\u2028", " \u0301 ",
              "\x0b\x0c", "\u1680\u180e\u2000\u200a\u202f\u205f"]

SPECIAL = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]", "[cls] [sep] [mask]", "[CLS][SEP]",
           "hello [MASK] world", "x[SEP]y", "[[CLS]]", "[CLS", "CLS]", "[ CLS ]", "[CLS]\u0301",
           "[MASK]s are [UNK]nown", "[unused0] [unused1]", "\x00[SEP]\x00", "[SE\x00P]",
           "[Cls]", "[SEP][SEP][SEP]", "a [PAD] b [PAD]", "Ｃ[CLS]Ｃ"]

TRUNCATION_EDGES = [("a b c d e f", m) for m in (0, 1, 2, 3, 4, 5, 8)] + \
                   [("unbelievable " * 3, m) for m in (2, 3, 4, 5)] + [("", m) for m in (0, 1, 2, 3)]


def random_unicode(rng, n):
    """Seeded random strings over all planes, weighted towards assigned characters."""
    interesting = [(0x20, 0x7E), (0xA0, 0x24F), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x6FF),
                   (0x900, 0xDFF), (0xE00, 0xEFF), (0x1100, 0x11FF), (0x1D00, 0x1FFF),
                   (0x2000, 0x2BFF), (0x3000, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
                   (0xAC00, 0xD7A3), (0xF900, 0xFFFF), (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF),
                   (0x20000, 0x2FFFF), (0xE0000, 0xE01EF)]
    out = []
    for i in range(n):
        k = rng.randint(1, 24)
        chars = []
        for _ in range(k):
            r = rng.random()
            if r < 0.15:
                cp = rng.randint(0, 0x10FFFF)
            else:
                lo, hi = rng.choice(interesting)
                cp = rng.randint(lo, hi)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0xFFFD
            chars.append(chr(cp))
            if rng.random() < 0.2:
                chars.append(" ")
        out.append("".join(chars))
    return out


def mixed(rng, pool, n):
    out = []
    for _ in range(n):
        parts = [rng.choice(pool) for _ in range(rng.randint(2, 5))]
        out.append(rng.choice([" ", "", ", ", "\n"]).join(parts))
    return out


def corpus(rng):
    """(kind, text, max_length) triples for the do_lower_case=true goldens."""
    items = []
    prose = prose_paragraphs()
    rng_prose = random.Random(7)
    chosen = rng_prose.sample(prose, min(900, len(prose)))
    for p in chosen[:800]:
        items.append(("prose", p, 512))
    for p in chosen[800:900]:
        items.append(("truncate64", p, 64))
    long_texts = [" ".join(prose[i:i + 4]) for i in range(0, min(len(prose), 400), 4)]
    for p in long_texts:
        items.append(("truncate16", p, 16))
    for p in long_texts[:50]:
        items.append(("truncate64", p, 64))
    for c in captions(rng, 700):
        items.append(("caption", c, 512))
    for s in MISC_ENGLISH:
        items.append(("english", s, 512))
    items.append(("punctuation", ASCII_PUNCT, 512))
    items.append(("punctuation", " ".join(ASCII_PUNCT), 512))
    for ch in ASCII_PUNCT:
        items += [("punctuation", ch, 512), ("punctuation", f"word{ch}word", 512),
                  ("punctuation", ch * 3, 512), ("punctuation", f"{ch}start end{ch}", 512)]
    for c in range(0x80):
        items.append(("ascii", f"<{chr(c)}>x{chr(c)}y{chr(c).upper()}", 512))
    for s in LATIN:
        items += [("latin", s, 512), ("latin", s.upper(), 512), ("latin", s.lower(), 512)]
    for cp in list(range(0xC0, 0x250)) + list(range(0x1E00, 0x1F00)):
        items.append(("latin", f"x{chr(cp)}y {chr(cp)}", 512))
    for script, samples in SCRIPTS.items():
        for s in samples:
            items.append((script, s, 512))
    block = {"greek": (0x370, 0x3FF), "cyrillic": (0x400, 0x4FF), "cjk": (0x4E00, 0x9FFF),
             "arabic": (0x600, 0x6FF), "hebrew": (0x590, 0x5FF), "thai": (0xE00, 0xE7F),
             "devanagari": (0x900, 0x97F)}
    for script, (lo, hi) in block.items():
        for _ in range(40):
            k = rng.randint(1, 12)
            items.append((script, "".join(chr(rng.randint(lo, hi)) for _ in range(k)), 512))
    for s in EMOJI:
        items += [("emoji", s, 512), ("emoji", f"text {s} text", 512)]
    for s in CONTROL:
        items += [("control", s, 512), ("control", f"Word{s}Word", 512)]
    for s in MARKS:
        items += [("marks", s, 512), ("marks", f"Ab{s}cD {s}", 512)]
    for s in long_words(rng):
        items.append(("longword", s, 512))
    for s in WHITESPACE:
        items.append(("whitespace", s, 512))
    for s in SPECIAL:
        items.append(("special", s, 512))
    for s, m in TRUNCATION_EDGES:
        items.append(("truncate-edge", s, m))
    pool = LATIN + [s for v in SCRIPTS.values() for s in v] + EMOJI + MISC_ENGLISH
    for s in mixed(rng, pool, 150):
        items.append(("mixed", s, 512))
    for s in random_unicode(rng, 700):
        items.append(("random", s, 512))
    for s in random_unicode(rng, 30):
        items.append(("random-truncate", s * 8, 16))
    return items


def cased_corpus(items, rng):
    """A smaller set for do_lower_case=false: every kind represented."""
    by_kind = {}
    for it in items:
        by_kind.setdefault(it[0], []).append(it)
    out = []
    for kind in sorted(by_kind):
        group = by_kind[kind]
        k = min(len(group), max(10, len(group) // 5))
        out += rng.sample(group, k)
    return out


def load_reference(lower):
    tmp = tempfile.mkdtemp()
    shutil.copy(VOCAB, os.path.join(tmp, "vocab.txt"))
    tok = transformers.BertTokenizerFast.from_pretrained(tmp, do_lower_case=lower)
    shutil.rmtree(tmp)
    norm = json.loads(tok.backend_tokenizer.to_str())["normalizer"]
    assert norm["lowercase"] == lower and norm["strip_accents"] is None, norm
    assert tok.convert_tokens_to_ids("[CLS]") == 101 and len(tok) == 30522
    return tok


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def id_rows(tok, items):
    rows = []
    for kind, text, max_length in items:
        ids = tok(text, truncation=True, max_length=max_length)["input_ids"]
        rows.append({"kind": kind, "text": text, "max_length": max_length, "ids": ids})
    return rows


def codepoint_strings(rng):
    """Strings that together cover every code point whose handling is not trivial, plus a
    sample of the rest: runs of 24 consecutive scalars."""
    clean = N.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                             lowercase=True)
    pre = PT.BertPreTokenizer()
    special = []
    for cp in all_scalars():
        c = chr(cp)
        if is_cjk(cp) or HANGUL_FIRST <= cp <= HANGUL_LAST or 0xE000 <= cp <= 0xF8FF \
                or cp >= 0xF0000:
            continue
        if clean.normalize_str(c) != c or len(pre.pre_tokenize_str("a" + c + "b")) != 1 \
                or unicodedata.combining(c):
            special.append(cp)
    sample = [cp for cp in all_scalars() if cp % 97 == 0]
    cps = sorted(set(special) | set(sample))
    strings = []
    for i in range(0, len(cps), 24):
        strings.append("".join(chr(cp) for cp in cps[i:i + 24]))
    return strings


def write_goldens():
    os.makedirs(GOLDENS, exist_ok=True)
    rng = random.Random(20240531)
    items = corpus(rng)
    uncased, cased = load_reference(True), load_reference(False)
    rows = id_rows(uncased, items)
    write_jsonl(os.path.join(GOLDENS, "uncased.jsonl"), rows)
    crows = id_rows(cased, cased_corpus(items, random.Random(11)))
    write_jsonl(os.path.join(GOLDENS, "cased.jsonl"), crows)
    # Per-code-point words after normalisation + pre-tokenisation, both modes.
    cps = []
    for s in codepoint_strings(rng):
        words = {}
        for name, tok in (("uncased", uncased), ("cased", cased)):
            bt = tok.backend_tokenizer
            words[name] = [w for w, _ in bt.pre_tokenizer.pre_tokenize_str(
                bt.normalizer.normalize_str(s))]
        cps.append({"text": s, "uncased": words["uncased"], "cased": words["cased"]})
    write_jsonl(os.path.join(GOLDENS, "codepoints.jsonl"), cps)
    meta = {"tokenizers": tokenizers.__version__, "transformers": transformers.__version__,
            "python": sys.version.split()[0], "unicodedata": unicodedata.unidata_version,
            "uncased_strings": len(rows), "cased_strings": len(crows),
            "codepoint_strings": len(cps)}
    with open(os.path.join(GOLDENS, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(json.dumps(meta))


def words_row(text, toks):
    row = {"text": text}
    for name, tok in toks:
        bt = tok.backend_tokenizer
        row[name] = [w for w, _ in bt.pre_tokenizer.pre_tokenize_str(bt.normalizer.normalize_str(text))]
    return row


def write_exhaustive():
    os.makedirs(os.path.dirname(EXHAUSTIVE), exist_ok=True)
    toks = (("uncased", load_reference(True)), ("cased", load_reference(False)))
    cps = list(all_scalars())
    marks = [cp for cp in cps if unicodedata.combining(chr(cp))]
    pool = marks + [0x1D165, 0x1D16D, 0x302E, 0x0E31, 0x20] + list(range(0x41, 0x5B)) \
        + list(range(0xC0, 0x100)) + list(range(0x1E00, 0x1EC8))
    rng = random.Random(5)
    with open(EXHAUSTIVE, "w", encoding="utf-8") as f:
        for i in range(0, len(cps), 24):
            text = "".join(chr(cp) for cp in cps[i:i + 24])
            f.write(json.dumps(words_row(text, toks), ensure_ascii=False) + "\n")
        for _ in range(20000):
            text = "".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 12)))
            f.write(json.dumps(words_row(text, toks), ensure_ascii=False) + "\n")
    print(f"wrote {os.path.relpath(EXHAUSTIVE, ROOT)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["tables", "goldens", "all", "exhaustive"])
    args = ap.parse_args()
    if args.what in ("tables", "all"):
        write_tables()
    if args.what in ("goldens", "all"):
        write_goldens()
    if args.what == "exhaustive":
        write_exhaustive()


if __name__ == "__main__":
    main()
