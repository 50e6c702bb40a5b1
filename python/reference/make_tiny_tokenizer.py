#!/usr/bin/env python3
"""Writes tests/data/tiny/tokenizer.json: a small tokenizer in the exact format
of the published UltraFastBERT tokenizer.json (normalizer chain, Whitespace
pre-tokenizer, `$A <sep>` / `<cls> $A <sep> $B <sep>` templates, special
tokens in a scrambled id order), with a vocabulary cut from the
bert-base-uncased vocab.txt in ../shared/data. Deterministic; stdlib only.

    python3 python/reference/make_tiny_tokenizer.py [--vocab-size 1536]
"""
import argparse
import json
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BERT_VOCAB = os.path.join(ROOT, "..", "shared", "data", "tokenizer",
                          "bert-base-uncased-wordpiece", "vocab.txt")
# The published file assigned special ids in no particular order; so do we.
SPECIALS = ["<sep>", "<unk>", "<mask>", "<pad>", "<cls>", "<s>", "</s>"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab-size", type=int, default=1536)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "tiny", "tokenizer.json"))
    args = ap.parse_args()
    with open(BERT_VOCAB, encoding="utf-8") as f:
        bert = [line.rstrip("\n") for line in f]
    words = [t for t in bert if not (t.startswith("[") and t.endswith("]"))]
    # ASCII only: the normalizer deletes every non-ASCII character.
    words = [t for t in words if all(ord(c) < 128 for c in t)]
    vocab = {}
    for t in SPECIALS + words:
        if len(vocab) == args.vocab_size:
            break
        vocab.setdefault(t, len(vocab))
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for t in SPECIALS]
    added.sort(key=lambda a: a["id"])
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Replace", "pattern": {"String": "''"}, "content": "\""},
            {"type": "NFD"},
            {"type": "Lowercase"},
            {"type": "StripAccents"},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
            {"type": "Replace", "pattern": {"Regex": "[^\\x00-\\x7F]+"}, "content": ""},
        ]},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<sep>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<cls>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<sep>", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 0}},
                     {"SpecialToken": {"id": "<sep>", "type_id": 0}}],
            "special_tokens": {
                "<cls>": {"id": "<cls>", "ids": [vocab["<cls>"]], "tokens": ["<cls>"]},
                "<sep>": {"id": "<sep>", "ids": [vocab["<sep>"]], "tokens": ["<sep>"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "<unk>", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(tok, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {args.out}: {len(vocab)} tokens")


if __name__ == "__main__":
    main()
