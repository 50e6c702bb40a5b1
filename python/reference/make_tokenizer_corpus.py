#!/usr/bin/env python3
"""Writes tests/data/tokenizer/corpus.txt and invalid_utf8.bin (+ the expected
error offsets, invalid_utf8_offsets.txt): the texts the tokenizer goldens are
made from. Deterministic; stdlib only.

corpus.txt holds one text per line (no text contains '\\n' or '\\r'): edge
cases written here (scripts, accents, emoji, controls, quotes, special-token
literals, long words, whitespace-only lines ...) followed by lines sampled
from the English corpora in ../shared/data/corpus (Wikipedia CC BY-SA,
Project Gutenberg public domain, Brown, US presidential speeches), each cut
to at most ~160 characters at a space.

    /usr/bin/python3 python/reference/make_tokenizer_corpus.py
"""
import lzma
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT_DIR = os.path.join(ROOT, "tests", "data", "tokenizer")
CORPUS_DIR = os.path.join(ROOT, "..", "shared", "data", "corpus")

HANDWRITTEN = [
    # Plain English.
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I can't believe it's not butter; they're sure it isn't.",
    "She said: \"Don't do that!\" and left.",
    "Tokenization is the first step of every language model.",
    "UltraFastBERT uses only 0.3% of its neurons during inference.",
    "Mr. and Mrs. Smith arrived at 5 p.m. on Jan. 3rd, 2021.",
    "What's the difference between a tokenizer and a pre-tokenizer?",
    "e.g. i.e. etc. vs. cf. al.",
    "A well-known state-of-the-art, end-to-end system.",
    "hello",
    "a",
    "I",
    ".",
    "x y z",
    # Accents and diacritics.
    "café naïve Ångström",
    "Straße ß ẞ weiß",
    "ǅemal ǆ Ǆ ǈ ǋ",
    "résumé, façade, jalapeño, piñata, Crème brûlée",
    "Zürich, São Paulo, Łódź, Dvořák, Ærøskøbing, Øresund",
    "Tiếng Việt có dấu: Hà Nội, Đà Nẵng, Huế",
    "Ελληνικά: Άλφα Έψιλον Ήτα, ΟΔΟΣ οδός",
    "Привет, мир! Ёлка и ёж.",
    "İstanbul ıIiİ DİYARBAKIR",
    "Kelvin \u212a, ohm \u2126, angstrom \u212b",
    "decomposed: cafe\u0301 nai\u0308ve A\u030angstro\u0308m",
    "reordered marks: a\u0301\u0323 a\u0323\u0301 q\u0307\u0323 x\u0308\u0301\u0323",
    "\u0301 leading combining mark",
    "mark after space: a \u0301b",
    "only marks: \u0300\u0301\u0302\u0303\u0304",
    "ﬁnancial ﬂow ﬀ ﬃ Ĳssel ĳ ŉ",
    "Ŀl·l ŀ ǰ ẖ ẗ ẘ ẙ ẚ",
    "full width: ＡＢＣ ｘｙｚ １２３ ！？",
    "circled: ① ⑳ Ⓐ ⓩ 🄰 🅐 🅰",
    "superscripts: x² y³ n⁰ ₁₂ ᵃᵇ",
    "fractions ½ ¼ ¾ ⅓ ⅞",
    "Roman numerals Ⅰ Ⅻ ⅿ ↁ",
    "¿Qué tal? ¡Muy bien!",
    "Ça va? Où est l'hôtel? Noël à Besançon.",
    "Æsir Œuvre œil æther",
    "Þorsteinn ðe þorn Ð",
    "Ơ ơ Ư ư ạ ả ấ ầ ẩ ẫ ậ",
    "Precomposed Hangul 한국어 and jamo \u1112\u1161\u11ab\u1100\u1173\u11af",
    "Hangul syllable + trailing jamo: \uac00\u11a8 \u1100\u1161\u11a8",
    "Devanagari: नमस्ते दुनिया, क़ ज़ फ़",
    "Bengali: বাংলা ভাষা, ড় ঢ় য়",
    "Thai: ภาษาไทย สวัสดีครับ",
    "Tamil: தமிழ் மொழி",
    "Georgian: ქართული ენა Ⴀ ⴀ Ა",
    "Armenian: Հայերեն լեզու և",
    "Ethiopic: ግዕዝ አማርኛ",
    "Cherokee: ᏣᎳᎩ ᎦᏬᏂᎯᏍᏗ ꭰꭱ",
    "Deseret: 𐐀𐐁 𐐨𐐩",
    "Adlam: 𞤀𞤁 𞤢𞤣",
    "Glagolitic: Ⰰ ⰰ",
    "Old Italic and Gothic: 𐌀𐌁 𐌰𐌱",
    "Mongolian: ᠮᠣᠩᠭᠣᠯ ᠬᠡᠯᠡ",
    "Tibetan: བོད་སྐད། ཀྵ",
    "Syriac: ܠܫܢܐ ܣܘܪܝܝܐ",
    "Unicode 16 letters: \ua7cb\ua7cc \ua7da\ua7dc \u1c89 \U00010d50\U00010d70",
    "Unicode 15 and 16 marks: \u0ccb\u0cf3 \U00011f00 \U000113b8",
    "Tulu-Tigalari and Garay: \U00011380\U000113b8 \U00010d40\U00010d4a",
    "new punctuation: \u2e5d \u2e43 \U00011b00",
    # CJK.
    "中文分词测试：我爱北京天安门。",
    "野口里佳 Noguchi Rika",
    "日本語のテキストです。東京都",
    "CJK extension B: 𠀀𠀁 and compatibility: 豈 更",
    "Mixed 中English文 text",
    "漢字かなカナ混じり文",
    # Japanese kana.
    "ひらがな カタカナ ｶﾀｶﾅ ﾊﾟﾋﾟﾌﾟ",
    "dakuten: が ぱ か\u3099 は\u309a ヴ",
    "ー・「」『』【】〜",
    # Korean.
    "안녕하세요, 세계! 한국어 텍스트",
    "ㄱㄴㄷ ㅏㅑㅓ 가나다",
    # Arabic and Hebrew.
    "مرحبا بالعالم",
    "ٱلْعَرَبِيَّة لغة جميلة",
    "Arabic digits ٠١٢٣٤٥٦٧٨٩ and ۱۲۳",
    "שָׁלוֹם עוֹלָם",
    "עברית בלי ניקוד",
    "RTL marks: \u200fabc\u200e def \u202bghi\u202c",
    "Persian: فارسی زبان، و‌ها",
    # Emoji and ZWJ sequences.
    "😀 😃 😄 😁",
    "Thumbs 👍 👍🏽 👍🏿",
    "family 👨\u200d👩\u200d👧\u200d👦 and flag 🏳️\u200d🌈",
    "flags 🇺🇸 🇫🇷 🇯🇵",
    "keycap 1️⃣ #️⃣ *️⃣",
    "newer emoji 🤣 🥲 🫠 🫨 🪿",
    "emoji😀inside😀words",
    "❤️ ♥ ☺️ ✌️",
    "ZWJ between letters: a\u200db, ZWNJ: a\u200cb",
    # Math and symbols.
    "∀x∈ℝ: x²≥0, ∑ᵢ aᵢ = ∫ f(x) dx",
    "√2 ≈ 1.414, π ≠ 3, ∞ > 10¹⁰⁰",
    "𝔸𝔹ℂ 𝐀𝐁𝐂 𝑎𝑏𝑐 𝟙𝟚𝟛",
    "ℕ ⊂ ℤ ⊂ ℚ ⊂ ℝ ⊂ ℂ",
    "arrows → ← ↔ ⇒ ⇔ and box ┌─┐",
    "currency $5 €10 £3 ¥100 ₹50 ₿1",
    "© ® ™ § ¶ † ‡ ° ‰",
    "a+b=c; a*b/c; a^b; a|b; a~b; a<b>c",
    # Punctuation runs.
    "Wait!!! What?! Really??? No...",
    "Hmm.... ok!? ?!?! ...",
    "dashes — and – and - and ‒ and ―",
    "quotes «Bonjour» „Hallo“ “Hello” ‘hi’ ‹a›",
    "ellipsis… and bullet • and middle dot ·",
    "CJK punctuation 、。，！？",
    "‼ ⁉ ⁈ ⁇",
    "(((nested))) [[brackets]] {{braces}}",
    "@#$%^&*()_+-=[]{}|;':\",./<>?`~",
    "___underscores___ and __init__",
    "###hashtags ##double #single",
    # Controls and invisible characters.
    "tab\tseparated\tvalues",
    "\ttab at start and end\t",
    "control \x01 char \x02 and \x7f delete",
    "bell\x07 backspace\x08 escape\x1b",
    "zero\u200bwidth\u200bspace",
    "non\u00a0breaking\u00a0space",
    "ideographic\u3000space\u3000here",
    "next line \u0085 char",
    "line\u2028separator and para\u2029separator",
    "vertical\x0btab and form\x0cfeed",
    "soft\u00adhyphen",
    "BOM \ufeffinside",
    "replacement \ufffd char",
    "new format char \u0890\u0891 and \U00013430",
    "private use \ue000\uf8ff \U000f0000",
    "unassigned \u0378 \u0380 and noncharacter \uffff \U0010ffff",
    "word joiner\u2060here and \u2061 function application",
    "en\u2002em\u2003thin\u2009hair\u200a spaces",
    "narrow\u202fnbsp and medium\u205fmath space",
    "ogham\u1680space",
    "variation selectors: ︎\ufe0e \U000e0100 and tag \U000e0041",
    # Quotes the UltraFastBERT normalizer rewrites.
    "``Hello'' she said",
    "It''s ``quoted'' text",
    "'''' and ````",
    "```triple``` and '''triple'''",
    "`single` and 'single'",
    "``''``''",
    "mixed ``quote\" and \"quote''",
    # Long words.
    "a" * 150,
    "b" * 100,
    "c" * 101,
    "é" * 60,
    "é" * 101,
    "e\u0301" * 60,
    "supercalifragilisticexpialidocious" * 4,
    "Pneumonoultramicroscopicsilicovolcanoconiosis is a long word.",
    "https://example.com/" + "verylongpathsegment" * 8,
    "x" * 99 + " " + "y" * 100 + " " + "z" * 101,
    "😀" * 101,
    "日本" * 60,
    # Numbers.
    "3.14159 2.71828 1.41421",
    "1,000,000 and 1.000.000 and 1 000 000",
    "2024-01-15T12:34:56Z",
    "0x1F 0b1010 1e-10 6.022e23 -42 +7",
    "Phone: +1 (555) 123-4567",
    "v1.2.3-beta+build.45",
    "१२३ ৪৫৬ ๑๒๓",
    "12th 21st 3rd 100%",
    # URLs and e-mail addresses.
    "https://example.com/path?q=1&r=2#frag",
    "http://www.example.org/index.html",
    "ftp://files.example.net/pub/file-1.0.tar.gz",
    "user.name+tag@example.co.uk",
    "Contact: support@fff.dev or <admin@example.com>",
    "<https://x.y/z>",
    "www.google.com/search?q=tokenizer",
    "file:///home/user/docs/readme.md",
    # Mixed case and identifiers.
    "iPhone McDonald's NASA eBay",
    "camelCaseIdentifier snake_case_name SCREAMING_CASE",
    "HTTPServerError XMLHttpRequest",
    "ThIs Is MiXeD CaSe",
    "C++ C# F# .NET Node.js",
    # Special-token literals.
    "<mask>",
    "The capital of France is <mask>.",
    "<mask><mask> <mask>",
    "a<mask>b",
    "<sep> <cls> <pad> <unk> <s> </s>",
    "<s>sentence</s>",
    "<MASK> <Mask> <mask <mask> mask>",
    "[MASK]",
    "The capital of France is [MASK].",
    "[CLS] first [SEP] second [SEP]",
    "[CLS]x[SEP]",
    "[PAD][PAD][UNK]",
    "[mask] [cls] [Sep]",
    "<<mask>> [[MASK]] <[MASK]>",
    "<mask>[MASK]<sep>[SEP]",
    "  <mask>  ",
    "café<mask>naïve",
    "``<mask>''",
    "<unk> is not [UNK]",
    # Empty and whitespace-only lines.
    "",
    " ",
    "   ",
    "\t",
    " \t ",
    "\u3000",
    "\u00a0\u00a0",
    "\u200b",
    "\x01",
    # Space runs.
    "a  b   c    d",
    "  leading and trailing  ",
    "many          spaces",
    "space \u00a0 mix \u3000 of \t kinds",
    "trailing space ",
    " leading space",
    "collapse  then   delete: é  ü   ñ",
    # Mixed scripts and assorted edge cases.
    "naïve café 日本 😀 [MASK] <mask> ``x''",
    "Ünïcödé wïth ëvërÿthïng",
    "ABCdef123_xyz-456.789",
    "tokens like ##ing and ##s should not merge",
    "hyphen-ated words and en–dash–joined",
    "apostrophes: rock'n'roll, o'clock, y'all",
    "Ü Ö Ä ü ö ä",
    "ÀÁÂÃÄÅ àáâãäå ÈÉÊË",
    "ǰ ǲ Ǳ ǳ",
    "ŉ ſ ﬅ ﬆ",
    "ǃ ǀ ǁ ǂ",
    "Ｔｏｋｙｏ　２０２０",
    "\u00c5 vs A\u030a vs \u212b",
    "\u1e9b\u0323 long s with dots",
    "\u0958\u0959 Devanagari nukta letters",
    "\u0f73\u0f75\u0f81 Tibetan vowels",
    "\u2adc forking and \U0001d15e musical",
    "\u0344 \u0340\u0341 \u0343 non-starter decompositions",
    "\u0b47\u0b3e \u0bc6\u0bbe \u0cc6\u0cc2 two-part vowels",
    "\U00011099\U000110ba Kaithi",
    "\U0001d4d0\U0001d4ea script letters",
    "Ⓜ️ ⓟ 🅿️",
    "ﷺ ﷻ ﷽",
    "㍿ ㎏ ㎞ ㏄",
    "\u3131\u314f composed jamo letters",
    "ᄀᄁ ᅡᅢ ᆨᆩ",
]


def sample_lines(path, count, max_chars=160):
    """Every k-th usable line of an .xz corpus file, cut at a space."""
    with lzma.open(path, "rt", encoding="utf-8") as f:
        lines = [l.rstrip("\n") for l in f]
    usable = [l for l in lines if len(l) >= 40 and "\r" not in l]
    step = max(1, len(usable) // count)
    out = []
    for l in usable[::step][:count]:
        if len(l) > max_chars:
            cut = l.rfind(" ", 0, max_chars)
            l = l[:cut if cut > 0 else max_chars]
        out.append(l)
    return out


def main():
    lines = list(HANDWRITTEN)
    lines += sample_lines(os.path.join(CORPUS_DIR, "wikipedia-en-2015", "valid.txt.xz"), 170)
    lines += sample_lines(os.path.join(CORPUS_DIR, "gutenberg", "valid.txt.xz"), 60)
    lines += sample_lines(os.path.join(CORPUS_DIR, "brown", "brown.txt.xz"), 40)
    lines += sample_lines(os.path.join(CORPUS_DIR, "us-presidential-speeches", "speeches.txt.xz"), 40)
    for l in lines:
        assert "\n" not in l and "\r" not in l and "\x00" not in l, repr(l)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        for l in lines:
            f.write(l + "\n")

    invalid = [
        b"abc\xff",
        b"\xff",
        b"\xc0\xaf overlong slash",
        b"\xe0\x80\xaf overlong",
        b"\xf0\x80\x80\xaf overlong",
        b"surrogate \xed\xa0\x80",
        b"low surrogate \xed\xbf\xbf",
        b"above max \xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80",
        b"truncated at end \xc3",
        b"truncated at end \xe2\x82",
        b"truncated at end \xf0\x9f\x98",
        b"\x80 lone continuation",
        b"ok \xc3( bad continuation",
        b"ok \xe2\x28\xa1",
        b"five bytes \xf8\x88\x80\x80\x80",
        b"caf\xe9 latin-1",
        b"valid \xc3\xa9 then \xfe",
        b"\xc1\xbf",
        b"\xe0\x9f\xbf",
    ]
    with open(os.path.join(OUT_DIR, "invalid_utf8.bin"), "wb") as f:
        for case in invalid:
            assert b"\n" not in case
            f.write(case + b"\n")
    with open(os.path.join(OUT_DIR, "invalid_utf8_offsets.txt"), "w") as f:
        f.write("# byte offset of the first invalid sequence of each line of invalid_utf8.bin\n"
                "# (Python's UnicodeDecodeError.start)\n")
        for case in invalid:
            try:
                case.decode("utf-8")
                raise AssertionError(case)
            except UnicodeDecodeError as e:
                f.write(f"{e.start}\n")
    print(f"wrote {len(lines)} corpus lines and {len(invalid)} invalid UTF-8 cases")


if __name__ == "__main__":
    main()
