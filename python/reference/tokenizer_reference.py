#!/usr/bin/env python3
"""A readable reference of the WordPiece tokenizer pipeline fff implements,
written from HuggingFace `tokenizers`' documented behaviour, independent of
the C++ code. Standard library only (unicodedata for normalisation and
categories).

    /usr/bin/python3 python/reference/tokenizer_reference.py --check
        compares this reference with the HF goldens in tests/data/tokenizer
        (ids, type ids, byte offsets, decoded text) and explains every
        disagreement;
    /usr/bin/python3 python/reference/tokenizer_reference.py TOKENIZER.json "some text"
        prints the encoding of one text.

Known, expected disagreements with HF: HF mixes Unicode versions (Unicode
9.0 normalisation tables, an old category table for BertNormalizer and
BertPreTokenizer, Unicode 16 for regex \\w and lowercase) while Python's
unicodedata has one version; characters whose properties changed between
those versions (mostly ones added after Unicode 9.0) can come out
differently. --check lists them.
"""
import json
import os
import re
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "tests", "data", "tokenizer")

# Unicode White_Space (PropList.txt): Rust's char::is_whitespace and regex \s.
WHITE_SPACE = set(map(chr, [9, 10, 11, 12, 13, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                            0x2028, 0x2029, 0x202F, 0x205F, 0x3000]))
# Other_Alphabetic symbols (circled/parenthesised/squared Latin letters):
# Alphabetic, hence regex \w, though their category is So.
OTHER_ALPHABETIC_SO = [(0x24B6, 0x24E9), (0x1F130, 0x1F149), (0x1F150, 0x1F169), (0x1F170, 0x1F189)]
CJK_RANGES = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
              (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]


def in_ranges(c, ranges):
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in ranges)


def is_word_char(c):
    """Rust regex \\w: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, Join_Control."""
    cat = unicodedata.category(c)
    return (cat[0] in "LM" or cat in ("Nd", "Nl", "Pc") or c in "\u200c\u200d"
            or in_ranges(c, OTHER_ALPHABETIC_SO))


def is_bert_punctuation(c):
    return (c.isascii() and not c.isalnum() and c.isprintable() and c != " ") or \
        unicodedata.category(c)[0] == "P"


class NormalizedString:
    """The normalised characters and, for each, the byte range of the
    original character it came from (HF keeps one entry per byte; all bytes
    of a character share it)."""

    def __init__(self, text, base=0):
        self.chars = list(text)
        self.align = []
        b = base
        for c in text:
            n = len(c.encode("utf-8"))
            self.align.append((b, b + n))
            b += n
        self.base = base

    def text(self):
        return "".join(self.chars)

    def transform(self, items, skip=0):
        """HF's transform: items are (char, change); change <= 0 replaces the
        next original character (and drops -change more), change > 0 inserts
        a character aligned with the one consumed last."""
        chars, align, cursor = [], [], skip
        for c, change in items:
            if change > 0:
                a = self.align[cursor - 1] if cursor > 0 else (self.base, self.base)
            else:
                a = self.align[cursor]
                cursor += 1 - change
            chars.append(c)
            align.append(a)
        self.chars, self.align = chars, align

    def filter(self, keep):
        kept = [(c, a) for c, a in zip(self.chars, self.align) if keep(c)]
        self.chars = [c for c, _ in kept]
        self.align = [a for _, a in kept]

    def map(self, f):
        self.chars = [f(c) for c in self.chars]

    def replace(self, regex, content):
        text = self.text()
        chars, align, last = [], [], 0
        for m in regex.finditer(text):
            s, e = m.span()
            chars += self.chars[last:s]
            align += self.align[last:s]
            chars += list(content)
            align += [self.align[e - 1]] * len(content)
            last = e
        self.chars = chars + self.chars[last:]
        self.align = align + self.align[last:]

    def decompose(self, form):
        """NFD / NFKD: each character's full decomposition (the first part
        replaces it, the rest is inserted), then canonical reordering."""
        items = []
        for c in self.chars:
            for i, d in enumerate(unicodedata.normalize(form, c)):
                items.append([d, 0 if i == 0 else 1])
        i = 0
        while i < len(items):  # stable sort of every run of non-starters
            if unicodedata.combining(items[i][0]) == 0:
                i += 1
                continue
            j = i
            while j < len(items) and unicodedata.combining(items[j][0]) != 0:
                j += 1
            items[i:j] = sorted(items[i:j], key=lambda it: unicodedata.combining(it[0]))
            i = j
        return items

    def normalize(self, form):
        items = self.decompose("NFKD" if form in ("NFKD", "NFKC") else "NFD")
        if form in ("NFC", "NFKC"):
            items = recompose(items)
        self.transform(items)


def compose(a, b):
    c = unicodedata.normalize("NFC", a + b)
    return c if len(c) == 1 else None


def recompose(items):
    """The canonical composition algorithm; a composite's change is the sum of
    its parts' changes minus one."""
    out, pending, composee, last_ccc = [], [], None, None
    for c, change in items:
        ccc = unicodedata.combining(c)
        if composee is None:
            if ccc != 0:
                out.append([c, change])
            else:
                composee = [c, change]
            continue
        if last_ccc is not None and last_ccc >= ccc:  # blocked
            if ccc == 0:
                out.append(composee)
                out += pending
                pending, composee, last_ccc = [], [c, change], None
            else:
                pending.append([c, change])
                last_ccc = ccc
            continue
        composite = compose(composee[0], c)
        if composite is not None:
            composee = [composite, composee[1] + change - 1]
        elif last_ccc is None and ccc == 0:
            out.append(composee)
            composee = [c, change]
        else:
            pending.append([c, change])
            last_ccc = ccc
    if composee is not None:
        out.append(composee)
    return out + pending


def lowercase(n):
    """Per code point, no context rules ('Σ' is always 'σ', 'İ' is 'i̇')."""
    items = []
    for c in n.chars:
        for i, d in enumerate(c.lower() if c != "\u03a3" else "\u03c3"):
            items.append((d, 0 if i == 0 else 1))
    n.transform(items)


def bert_normalize(n, spec):
    if spec.get("clean_text", True):
        def removed(c):
            if c in "\t\n\r":
                return False
            return c in "\x00\ufffd" or unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs")
        n.filter(lambda c: not removed(c))
        n.map(lambda c: " " if c in "\t\n\r" or c in WHITE_SPACE else c)
    if spec.get("handle_chinese_chars", True):
        items = []
        for c in n.chars:
            items += [(" ", 0), (c, 1), (" ", 1)] if in_ranges(c, CJK_RANGES) else [(c, 0)]
        n.transform(items)
    lower = spec.get("lowercase", True)
    strip = spec.get("strip_accents")
    if strip if strip is not None else lower:
        n.normalize("NFD")
        n.filter(lambda c: unicodedata.category(c) != "Mn")
    if lower:
        lowercase(n)


def apply_normalizer(n, spec):
    kind = spec["type"]
    if kind == "Sequence":
        for s in spec["normalizers"]:
            apply_normalizer(n, s)
    elif kind == "Replace":
        pattern = spec["pattern"]
        regex = re.compile(re.escape(pattern["String"]) if "String" in pattern else pattern["Regex"])
        n.replace(regex, spec["content"])
    elif kind in ("NFD", "NFKD", "NFC", "NFKC"):
        n.normalize(kind)
    elif kind == "Lowercase":
        lowercase(n)
    elif kind == "StripAccents":
        n.filter(lambda c: not unicodedata.category(c).startswith("M"))
    elif kind == "BertNormalizer":
        bert_normalize(n, spec)
    else:
        raise NotImplementedError(kind)


def split_pieces(chars, spec):
    """Pre-tokenizer: list of (start, end) character ranges."""
    kinds = [s["type"] for s in spec["pretokenizers"]] if spec["type"] == "Sequence" else [spec["type"]]
    pieces = [(0, len(chars))]
    for kind in kinds:
        out = []
        for s, e in pieces:
            run_start, run_class = s, None
            for i in range(s, e):
                c = chars[i]
                if c in WHITE_SPACE:
                    cls = None
                elif kind == "Whitespace":
                    cls = "word" if is_word_char(c) else "other"
                elif kind == "BertPreTokenizer" and is_bert_punctuation(c):
                    cls = "isolated"
                elif kind in ("BertPreTokenizer", "WhitespaceSplit"):
                    cls = "word"
                else:
                    raise NotImplementedError(kind)
                if cls != run_class or cls == "isolated":
                    if run_class is not None:
                        out.append((run_start, i))
                    run_start, run_class = i, cls
            if run_class is not None:
                out.append((run_start, e))
        pieces = out
    return pieces


class Tokenizer:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        self.spec = spec
        model = spec["model"]
        self.vocab = model["vocab"]
        self.id_to_token = {i: t for t, i in sorted(self.vocab.items(), reverse=True)}
        self.unk = model["unk_token"]
        self.prefix = model["continuing_subword_prefix"]
        self.max_chars = model["max_input_chars_per_word"]
        self.added = {}  # content -> id, per HF: known content keeps its id
        next_id = len(self.vocab)
        self.special = set()
        for t in spec.get("added_tokens") or []:
            content = t["content"]
            if content in self.added:
                continue
            if content in self.vocab:
                self.added[content] = self.vocab[content]
            else:
                self.added[content] = next_id
                next_id += 1
            if t.get("special"):
                self.special.add(content)
            assert not t.get("normalized", False), "normalized added tokens: not in this reference"
        self.added_by_length = sorted(self.added, key=len, reverse=True)
        post = spec.get("post_processor")
        self.templates = None
        if post and post["type"] == "TemplateProcessing":
            self.templates = {k: post[k] for k in ("single", "pair")}
            self.template_ids = {k: v["ids"] for k, v in post["special_tokens"].items()}
        elif post:
            raise NotImplementedError(post["type"])

    def wordpiece(self, word):
        if len(word) > self.max_chars:
            return [(self.vocab[self.unk], 0, len(word))]
        tokens, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    tokens.append((self.vocab[piece], start, end))
                    break
                end -= 1
            else:
                return [(self.vocab[self.unk], 0, len(word))]
            start = end
        return tokens

    def encode_sequence(self, text):
        """[(id, begin_byte, end_byte)] and the splits' (end, is_added)."""
        out, splits = [], []
        byte_at = [0]
        for c in text:
            byte_at.append(byte_at[-1] + len(c.encode("utf-8")))

        def encode_piece(s, e):
            if s == e:
                return
            n = NormalizedString(text[s:e], byte_at[s])
            if self.spec.get("normalizer"):
                apply_normalizer(n, self.spec["normalizer"])
            pre = self.spec.get("pre_tokenizer")
            pieces = split_pieces(n.chars, pre) if pre else ([(0, len(n.chars))] if n.chars else [])
            for ps, pe in pieces:
                for tid, ts, te in self.wordpiece("".join(n.chars[ps:pe])):
                    out.append((tid, n.align[ps + ts][0], n.align[ps + te - 1][1]))
                splits.append((len(out), False))

        pos = i = 0
        while i < len(text):  # leftmost-longest added tokens in the raw text
            hit = next((t for t in self.added_by_length if text.startswith(t, i)), None)
            if hit is None:
                i += 1
                continue
            encode_piece(pos, i)
            out.append((self.added[hit], byte_at[i], byte_at[i + len(hit)]))
            splits.append((len(out), True))
            pos = i = i + len(hit)
        encode_piece(pos, len(text))
        return out, splits

    def n_special(self, pair):
        if not self.templates:
            return 0
        return sum(len(self.template_ids[p["SpecialToken"]["id"]])
                   for p in self.templates["pair" if pair else "single"] if "SpecialToken" in p)

    def encode(self, text, pair=None, add_special_tokens=True, max_length=0):
        seqs = [self.encode_sequence(text)] + ([self.encode_sequence(pair)] if pair is not None else [])
        if max_length:
            budget = max_length - (self.n_special(pair is not None) if add_special_tokens else 0)
            lengths = [len(t) for t, _ in seqs]
            if sum(lengths) > budget:
                if len(seqs) == 1:
                    lengths = [budget]
                else:
                    # HF's LongestFirst; lengths as HF sees them after it stops
                    # tokenizing a sequence at max_length tokens (whole words).
                    seen = [next((end for end, added in s if not added and end >= max_length), len(t))
                            for t, s in seqs]
                    n1, n2 = seen
                    swap = n1 > n2
                    if swap:
                        n1, n2 = n2, n1
                    n2 = n1 if n1 > budget else max(n1, budget - n1)
                    if n1 + n2 > budget:
                        n1, n2 = budget // 2, budget // 2 + budget % 2
                    lengths = [n2, n1] if swap else [n1, n2]
            seqs = [(t[:n], s) for (t, s), n in zip(seqs, lengths)]
        ids, types, offsets = [], [], []
        if self.templates:
            for piece in self.templates["pair" if pair is not None else "single"]:
                if "Sequence" in piece:
                    seq = seqs[0 if piece["Sequence"]["id"] == "A" else 1][0]
                    ids += [t for t, _, _ in seq]
                    types += [piece["Sequence"]["type_id"]] * len(seq)
                    offsets += [(b, e) for _, b, e in seq]
                elif add_special_tokens:
                    sp = self.template_ids[piece["SpecialToken"]["id"]]
                    ids += sp
                    types += [piece["SpecialToken"]["type_id"]] * len(sp)
                    offsets += [(0, 0)] * len(sp)
        else:
            for k, (seq, _) in enumerate(seqs):
                ids += [t for t, _, _ in seq]
                types += [k] * len(seq)
                offsets += [(b, e) for _, b, e in seq]
        return ids, types, offsets

    def decode(self, ids, skip_special_tokens=True):
        by_id = {i: t for t, i in self.added.items()}
        tokens = []
        for i in ids:
            t = by_id.get(i, self.id_to_token.get(i))
            if t is None or (skip_special_tokens and t in self.special):
                continue
            tokens.append(t)
        decoder = self.spec.get("decoder")
        if not decoder:
            return " ".join(tokens)
        out = []
        for i, t in enumerate(tokens):
            if i:
                t = t[len(decoder["prefix"]):] if t.startswith(decoder["prefix"]) else " " + t
            if decoder.get("cleanup", True):
                for a, b in [(" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"),
                             (" n't", "n't"), (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"),
                             (" 've", "'ve"), (" 're", "'re")]:
                    t = t.replace(a, b)
            out.append(t)
        return "".join(out)


def check():
    with open(os.path.join(DATA, "corpus.txt"), encoding="utf-8", newline="\n") as f:
        corpus = f.read().split("\n")[:-1]
    all_ok = True
    for golden in ("golden_tiny.jsonl", "golden_bert.jsonl"):
        path = os.path.join(DATA, golden)
        with open(path, encoding="utf-8") as f:
            records = [json.loads(l) for l in f]
        meta = records[0]
        tok_path = os.path.normpath(os.path.join(ROOT, meta["tokenizer"]))
        if not os.path.exists(tok_path):
            print(f"{golden}: {tok_path} missing, skipped")
            continue
        tok = Tokenizer(tok_path)
        matched, total, disagreements = 0, 0, []
        for r in records[1:]:
            total += 1
            i, kind = r["line"], r["kind"]
            text = corpus[i]
            pair = corpus[i + 1] if kind == "pair" or (kind == "truncated" and r["pair"]) else None
            ids, types, offsets = tok.encode(text, pair, add_special_tokens=kind != "no_special",
                                             max_length=r.get("max_length", 0))
            want_offsets = list(zip(r["offsets"][::2], r["offsets"][1::2]))
            want_types = r.get("type_ids", [0] * len(r["ids"]))
            ok = ids == r["ids"] and types == want_types and offsets == want_offsets
            for key, skip in (("decoded", True), ("decoded_all", False)):
                if ok and key in r and tok.decode(ids, skip) != r[key]:
                    ok = False
            if ok:
                matched += 1
            else:
                disagreements.append((kind, i, text))
        print(f"{golden}: Python reference == HF on {matched}/{total} records")
        for kind, i, text in disagreements:
            unusual = sorted({f"U+{ord(c):04X} {unicodedata.category(c)}" for c in text + (corpus[i + 1] if i + 1 < len(corpus) else "")
                              if ord(c) > 0x7F and explain(c)})
            print(f"  {kind} line {i}: {text[:60]!r} ... characters whose properties differ "
                  f"between Python's Unicode {unicodedata.unidata_version} and HF's tables: {unusual}")
        all_ok = all_ok and matched == total
    return all_ok


def hf_special_code_points():
    """Code points HF's mixed Unicode tables treat otherwise than a single
    current table would: the ones src/tokenizer/unicode_tables.inc lists."""
    path = os.path.join(ROOT, "src", "tokenizer", "unicode_tables.inc")
    cps = set()
    with open(path, encoding="ascii") as f:
        for line in f:
            if "kLowercaseOverrides" in line:  # (from, to) pairs
                break
            for a, b in re.findall(r"\{0x([0-9A-F]+), 0x([0-9A-F]+)\}", line):
                cps.update(range(int(a, 16), int(b, 16) + 1))
    return cps


HF_SPECIAL = None


def explain(c):
    """True for a character Python's unicodedata and HF may disagree on:
    unknown to Python's Unicode version, or listed in unicode_tables.inc."""
    global HF_SPECIAL
    if HF_SPECIAL is None:
        HF_SPECIAL = hf_special_code_points()
    return unicodedata.category(c) == "Cn" or ord(c) in HF_SPECIAL


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--check":
        sys.exit(0 if check() else 1)
    if len(sys.argv) == 3:
        t = Tokenizer(sys.argv[1])
        ids, types, offsets = t.encode(sys.argv[2])
        print(json.dumps({"ids": ids, "type_ids": types, "offsets": offsets, "decoded": t.decode(ids)}))
        sys.exit(0)
    sys.exit(__doc__)
