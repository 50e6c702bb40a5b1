#!/usr/bin/env python3
"""Writes src/tokenizer/unicode_tables.inc and tests/data/tokenizer/hf_unicode_blocks.txt.

HuggingFace `tokenizers` mixes Unicode versions: its normalizers use the
unicode-normalization-alignments crate (Unicode 9.0 tables), its
BertNormalizer/BertPreTokenizer categories come from the unicode_categories
crate (about Unicode 9), while regex `\\w` and `char::to_lowercase` follow the
Rust toolchain (Unicode 16). fff computes every property from utf8proc
(Unicode 15.0 on Debian bookworm) and corrects it with the small tables this
script derives: the code points where HF's observed behaviour differs from the
utf8proc rule the C++ code applies (see src/tokenizer/unicode.h).

Input: the per-code-point dump of HF's behaviour made by hf_unicode_probe.js.
Also writes, for the C++ test, a hash of HF's answers per column and per block
of 4096 code points, so the test can check every code point without a large
committed file.

    NODE_PATH=/tmp/npmtok/node_modules node python/reference/hf_unicode_probe.js /tmp/hf_cp.tsv
    /usr/bin/python3 python/reference/make_unicode_tables.py /tmp/hf_cp.tsv

Stdlib only (utf8proc through ctypes).
"""
import ctypes
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_INC = os.path.join(ROOT, "src", "tokenizer", "unicode_tables.inc")
OUT_BLOCKS = os.path.join(ROOT, "tests", "data", "tokenizer", "hf_unicode_blocks.txt")
COLUMNS = ["ws", "bp", "clean", "nfd", "nfkd", "nfc", "nfkc", "lower", "strip", "bert_strip", "cjk"]
CATS = "Cn Lu Ll Lt Lm Lo Mn Mc Me Nd Nl No Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Zs Zl Zp Cc Cf Cs Co".split()
UTF8PROC_COMPAT, UTF8PROC_DECOMPOSE = 1 << 2, 1 << 4


class Property(ctypes.Structure):
    _fields_ = [("category", ctypes.c_int16), ("combining_class", ctypes.c_int16),
                ("bidi_class", ctypes.c_int16), ("decomp_type", ctypes.c_int16),
                ("decomp_seqindex", ctypes.c_uint16), ("casefold_seqindex", ctypes.c_uint16),
                ("uppercase_seqindex", ctypes.c_uint16), ("lowercase_seqindex", ctypes.c_uint16),
                ("titlecase_seqindex", ctypes.c_uint16), ("comb_index", ctypes.c_uint16),
                ("bits", ctypes.c_uint16)]


LIB = ctypes.CDLL("libutf8proc.so.2")
LIB.utf8proc_get_property.restype = ctypes.POINTER(Property)
LIB.utf8proc_category.restype = ctypes.c_int
LIB.utf8proc_tolower.restype = ctypes.c_int32
LIB.utf8proc_unicode_version.restype = ctypes.c_char_p
LIB.utf8proc_decompose_char.restype = ctypes.c_ssize_t
LIB.utf8proc_decompose_char.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                        ctypes.c_ssize_t, ctypes.c_int,
                                        ctypes.POINTER(ctypes.c_int)]


def category(cp):
    return CATS[LIB.utf8proc_category(cp)]


def decompose(cp, compat):
    buf = (ctypes.c_int32 * 32)()
    boundclass = ctypes.c_int(0)
    n = LIB.utf8proc_decompose_char(cp, buf, 32, UTF8PROC_DECOMPOSE | (UTF8PROC_COMPAT if compat else 0),
                                    ctypes.byref(boundclass))
    return list(buf[:n])


def parse_mapping(value, cp):
    if value == "=":
        return [cp]
    return [int(x, 16) for x in value.split()] if value else []


def ranges(cps):
    out = []
    for cp in sorted(cps):
        if out and out[-1][1] + 1 == cp:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows = []
    with open(sys.argv[1], encoding="ascii") as f:
        for line in f:
            cols = line.rstrip("\n").split("\t")
            assert len(cols) == 1 + len(COLUMNS), line
            rows.append((int(cols[0], 16), dict(zip(COLUMNS, cols[1:]))))

    whitespace = {9, 10, 11, 12, 13, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                  0x2028, 0x2029, 0x202F, 0x205F, 0x3000}
    word_flips, punct_flips, control_flips, mark_flips, nonspacing_flips = [], [], [], [], []
    lower_overrides, no_canonical, no_compat = [], [], []
    for cp, r in rows:
        cat = category(cp)
        word = cat[0] in "LM" or cat in ("Nd", "Nl", "Pc")
        assert (r["ws"] == "S") == (cp in whitespace), hex(cp)
        if r["ws"] != "S" and (r["ws"] == "W") != word:
            word_flips.append(cp)
        assert (r["bp"] == "S") == (cp in whitespace), hex(cp)
        punct = cp < 128 and chr(cp) in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" or cat[0] == "P"
        if r["bp"] != "S" and (r["bp"] == "P") != punct:
            punct_flips.append(cp)
        control = cat in ("Cc", "Cf", "Co", "Cs")
        removed = r["clean"] == "X"
        if cp not in (0, 0xFFFD, 9, 10, 13) and removed != control:
            control_flips.append(cp)
        if (r["strip"] == "") != (cat in ("Mn", "Mc", "Me")):
            mark_flips.append(cp)
        lower = [0x69, 0x307] if cp == 0x130 else [LIB.utf8proc_tolower(cp)]
        hf_lower = parse_mapping(r["lower"], cp)
        if hf_lower != lower:
            assert len(hf_lower) == 1, hex(cp)
            lower_overrides.append((cp, hf_lower[0]))
        for col, compat, table in (("nfd", False, no_canonical), ("nfkd", True, no_compat)):
            mine = decompose(cp, compat)
            if parse_mapping(r[col], cp) != mine and sorted(parse_mapping(r[col], cp)) != sorted(mine):
                assert r[col] == "=", (hex(cp), r[col], mine)
                table.append(cp)
    no_canonical_set = set(no_canonical)
    mark_flip_set = set(mark_flips)
    for cp, r in rows:
        # bert_strip = NFD then drop Mn: observable for characters NFD keeps.
        decomposes = len(decompose(cp, False)) > 1 and cp not in no_canonical_set
        if not decomposes and (r["bert_strip"] == "") != (category(cp) == "Mn"):
            nonspacing_flips.append(cp)

    def emit_ranges(f, name, cps, doc):
        f.write(f"// {doc}\ninline constexpr CodePointRange {name}[] = {{\n")
        items = [f"{{0x{a:04X}, 0x{b:04X}}}" for a, b in ranges(cps)]
        for i in range(0, len(items), 4):
            f.write("    " + ", ".join(items[i:i + 4]) + ",\n")
        f.write("};\n\n")

    version = LIB.utf8proc_unicode_version().decode()
    with open(OUT_INC, "w", encoding="ascii") as f:
        f.write("// Generated by python/reference/make_unicode_tables.py from HF tokenizers'\n"
                f"// observed behaviour and utf8proc (Unicode {version}). Do not edit.\n"
                "// Each table lists the code points where HF's answer is the opposite of\n"
                "// the utf8proc-based rule named in src/tokenizer/unicode.h.\n\n")
        emit_ranges(f, "kWordCharFlips", word_flips,
                    "regex \\w (Unicode 16, incl. Other_Alphabetic symbols, ZWNJ/ZWJ) vs L|M|Nd|Nl|Pc.")
        emit_ranges(f, "kPunctuationFlips", punct_flips,
                    "BertPreTokenizer punctuation (unicode_categories) vs ASCII punct | P*.")
        emit_ranges(f, "kControlFlips", control_flips,
                    "BertNormalizer control (unicode_categories Cc|Cf|Co) vs Cc|Cf|Co|Cs.")
        emit_ranges(f, "kCombiningMarkFlips", mark_flips,
                    "StripAccents combining mark (Unicode 9.0) vs Mn|Mc|Me.")
        emit_ranges(f, "kNonspacingMarkFlips", nonspacing_flips,
                    "BertNormalizer strip_accents Mn (unicode_categories) vs Mn.")
        emit_ranges(f, "kNoCanonicalDecomposition", no_canonical,
                    "Decomposed by utf8proc but not by HF's NFD/NFC (added after Unicode 9.0).")
        emit_ranges(f, "kNoCompatDecomposition", no_compat,
                    "Decomposed by utf8proc but not by HF's NFKD/NFKC (added after Unicode 9.0).")
        f.write("// Lowercase mappings where Rust's char::to_lowercase (Unicode 16) differs\n"
                "// from utf8proc_tolower (U+0130 is handled in code).\n"
                "inline constexpr LowercaseOverride kLowercaseOverrides[] = {\n")
        for cp, lo in lower_overrides:
            f.write(f"    {{0x{cp:04X}, 0x{lo:04X}}},\n")
        f.write("};\n")

    with open(OUT_BLOCKS, "w", encoding="ascii") as f:
        f.write("# FNV-1a 64 of HF tokenizers' per-code-point answers (hf_unicode_probe.js\n"
                "# format, lines \"cp<TAB>value<LF>\"), per column and block of 4096 code\n"
                "# points. Generated by python/reference/make_unicode_tables.py.\n")
        for col in COLUMNS:
            blocks = {}
            for cp, r in rows:
                line = f"{cp:x}\t{r[col]}\n".encode("ascii")
                blocks[cp >> 12] = fnv1a64(line, blocks.get(cp >> 12, 0xcbf29ce484222325))
            for block in sorted(blocks):
                f.write(f"{col} {block:x} {blocks[block]:016x}\n")
    counts = dict(word=len(word_flips), punct=len(punct_flips), control=len(control_flips),
                  mark=len(mark_flips), nonspacing=len(nonspacing_flips), lower=len(lower_overrides),
                  no_canonical=len(no_canonical), no_compat=len(no_compat))
    print(f"wrote {OUT_INC} and {OUT_BLOCKS}: {counts}")


if __name__ == "__main__":
    main()
