#!/usr/bin/env node
// Writes the tokenizer goldens from HuggingFace `tokenizers` itself (its Rust
// core through the npm binding): tests/data/tokenizer/golden_tiny.jsonl and
// golden_bert.jsonl, one JSON record per line; and variants.json +
// golden_variants.jsonl, other pipelines (NFC, NFKC, NFKD, StripAccents,
// WhitespaceSplit, Sequence, BertProcessing, no post-processor or decoder,
// normalized added tokens) over a character-level vocabulary, each record
// naming its `variant`.
//
//   NODE_PATH=/tmp/npmtok/node_modules node python/reference/hf_tokenizer_goldens.js
//
// Records (offsets are flat [begin0, end0, begin1, end1, ...] BYTE offsets
// into the UTF-8 text; the binding reports code-point offsets, converted
// here; `type_ids` is left out when all are 0):
//   {"kind":"meta", tokenizer, hf_tokenizers_version, corpus_lines}
//   {"kind":"single", line, ids, type_ids, offsets, decoded[, decoded_all]}
//   {"kind":"no_special", line, ids, type_ids, offsets}        every 10th line
//   {"kind":"pair", line, ids, type_ids, offsets, special_mask, sequence_ids}
//       text = line `line`, pair text = line `line + 1`       every 8th line
//   {"kind":"truncated", line, pair, max_length, ids, type_ids, offsets,
//    n_truncated}                                             every 9th line
// `decoded` is decode(ids, skip_special = true), `decoded_all` (every 10th
// line) decode(ids, false). The `truncation`/`padding` sections of the files
// are switched off, as fff ignores them.
'use strict';
const fs = require('fs');
const path = require('path');
const {Tokenizer} = require('tokenizers');

const ROOT = path.resolve(__dirname, '..', '..');
const DATA = path.join(ROOT, 'tests', 'data', 'tokenizer');
const TOKENIZERS = [
  ['golden_tiny.jsonl', path.join(ROOT, 'tests', 'data', 'tiny', 'tokenizer.json'),
   'tests/data/tiny/tokenizer.json'],
  ['golden_bert.jsonl',
   path.join(ROOT, '..', 'shared', 'data', 'tokenizer', 'bert-base-uncased-wordpiece',
             'tokenizer.json'),
   '../shared/data/tokenizer/bert-base-uncased-wordpiece/tokenizer.json'],
];
const TRUNCATION_LENGTHS = [8, 16];

// Pipelines neither real tokenizer uses, over a character-level vocabulary
// (every character the normalised corpus has, alone and with "##", plus a
// few words), so that every character's offsets are checked. Written to
// variants.json, which the C++ test reads to build the same tokenizers.
const SPECIALS = ['[UNK]', '[CLS]', '[SEP]', '[PAD]', '[MASK]'];
const WORDS = ['the', 'and', 'of', 'to', 'in', 'is', '##ing', '##ed', '##s', 'hello', 'world',
               'caf', '##é', 'na', '##ïve', 'http', '##s', 'www', 'com'];
const special = (content, id) => ({id, content, single_word: false, lstrip: false, rstrip: false,
                                   normalized: false, special: true});
const VARIANTS = [
  {name: 'nfc_lowercase_wsplit',
   normalizer: {type: 'Sequence', normalizers: [{type: 'NFC'}, {type: 'Lowercase'}]},
   pre_tokenizer: {type: 'WhitespaceSplit'},
   post_processor: {type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1]},
   decoder: {type: 'WordPiece', prefix: '##', cleanup: false},
   added_tokens: [special('[MASK]', 4),
                  {id: 9999, content: 'naïve', single_word: false, lstrip: false, rstrip: false,
                   normalized: true, special: false}]},
  {name: 'nfkd_strip_digits_sequence',
   normalizer: {type: 'Sequence', normalizers: [
     {type: 'NFKD'}, {type: 'StripAccents'},
     {type: 'Replace', pattern: {Regex: '[0-9]+'}, content: '0'}]},
   pre_tokenizer: {type: 'Sequence', pretokenizers: [{type: 'WhitespaceSplit'},
                                                     {type: 'BertPreTokenizer'}]},
   post_processor: null, decoder: null, added_tokens: []},
  {name: 'nfkc_whitespace_reversed_template',
   normalizer: {type: 'Sequence', normalizers: [{type: 'NFKC'}, {type: 'Lowercase'},
                {type: 'Replace', pattern: {String: 'é'}, content: 'e\u0301!'}]},
   pre_tokenizer: {type: 'Whitespace'},
   post_processor: {type: 'TemplateProcessing',
     single: [{SpecialToken: {id: '[CLS]', type_id: 0}}, {Sequence: {id: 'A', type_id: 0}},
              {SpecialToken: {id: '[SEP]', type_id: 0}}],
     pair: [{Sequence: {id: 'B', type_id: 1}}, {SpecialToken: {id: '[SEP]', type_id: 1}},
            {Sequence: {id: 'A', type_id: 0}}, {SpecialToken: {id: '[SEP]', type_id: 0}}],
     special_tokens: {'[CLS]': {id: '[CLS]', ids: [1], tokens: ['[CLS]']},
                      '[SEP]': {id: '[SEP]', ids: [2, 3], tokens: ['[SEP]', '[PAD]']}}},
   decoder: {type: 'WordPiece', prefix: '##', cleanup: true},
   added_tokens: [special('[CLS]', 1), special('[SEP]', 2)]},
  {name: 'bert_cased',
   normalizer: {type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true,
                strip_accents: null, lowercase: false},
   pre_tokenizer: {type: 'BertPreTokenizer'},
   post_processor: {type: 'BertProcessing', sep: ['[SEP]', 2], cls: ['[CLS]', 1]},
   decoder: {type: 'WordPiece', prefix: '##', cleanup: true},
   added_tokens: SPECIALS.map((t, i) => special(t, i))},
];
const VARIANT_MAX_LINE = 240;    // the hand-written part of corpus.txt
const VARIANT_MAX_CHARS = 100;

function variantJson(v, vocab) {
  return JSON.stringify({
    version: '1.0', truncation: null, padding: null, added_tokens: v.added_tokens,
    normalizer: v.normalizer, pre_tokenizer: v.pre_tokenizer, post_processor: v.post_processor,
    decoder: v.decoder,
    model: {type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##',
            max_input_chars_per_word: 100, vocab},
  });
}

async function writeVariants(lines, version) {
  const selected = [];
  lines.forEach((l, i) => {
    if (i < VARIANT_MAX_LINE && Array.from(l).length <= VARIANT_MAX_CHARS) selected.push(i);
  });
  // The vocabulary: every character of every normalised selected line.
  const chars = new Set();
  for (const v of VARIANTS) {
    const t = Tokenizer.fromString(variantJson(v, {'[UNK]': 0}));
    const n = t.getNormalizer();
    for (const i of selected) for (const c of n.normalizeString(lines[i])) chars.add(c);
  }
  const vocab = {};
  for (const t of SPECIALS.concat(WORDS)) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  for (const c of Array.from(chars).sort((a, b) => a.codePointAt(0) - b.codePointAt(0))) {
    for (const t of [c, '##' + c]) if (!(t in vocab)) vocab[t] = Object.keys(vocab).length;
  }
  fs.writeFileSync(path.join(DATA, 'variants.json'),
                   JSON.stringify({variants: VARIANTS, vocab}) + '\n');
  const out = [JSON.stringify({kind: 'meta', tokenizer: 'variants.json',
                               hf_tokenizers_version: version, corpus_lines: lines.length})];
  for (const v of VARIANTS) {
    const t = Tokenizer.fromString(variantJson(v, vocab));
    for (const i of selected) {
      const text = lines[i];
      const enc = await t.encode(text);
      out.push(JSON.stringify(record('single', i, enc, [text],
                                     {variant: v.name, decoded: await t.decode(enc.getIds(), true)})));
      if (i % 20 === 0 && i + 1 < lines.length) {
        const pair = await t.encode(text, lines[i + 1]);
        out.push(JSON.stringify(record('pair', i, pair, [text, lines[i + 1]], {
          variant: v.name, special_mask: pair.getSpecialTokensMask(),
          sequence_ids: pair.getSequenceIds().map(s => (s === null || s === undefined) ? -1 : s),
        })));
        t.setTruncation(12);
        const cut = await t.encode(text, lines[i + 1]);
        t.disableTruncation();
        out.push(JSON.stringify(record('truncated', i, cut, [text, lines[i + 1]], {
          variant: v.name, pair: true, max_length: 12,
          n_truncated: pair.getIds().length - cut.getIds().length,
        })));
      }
    }
  }
  fs.writeFileSync(path.join(DATA, 'golden_variants.jsonl'), out.join('\n') + '\n');
  console.log(`wrote variants.json (${Object.keys(vocab).length} tokens) and ` +
              `golden_variants.jsonl: ${out.length} records`);
}

function readLines(file) {
  const text = fs.readFileSync(file, 'utf8');
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

// Byte offset of every code point of `text` (and of its end).
function codePointBytes(text) {
  const bytes = [0];
  let b = 0;
  for (const ch of text) {
    b += Buffer.byteLength(ch, 'utf8');
    bytes.push(b);
  }
  return bytes;
}

function byteOffsets(enc, texts) {
  const maps = texts.map(codePointBytes);
  const seq = enc.getSequenceIds();
  const out = [];
  enc.getOffsets().forEach(([s, e], i) => {
    if (seq[i] === null || seq[i] === undefined) {
      out.push(s, e);  // special token: (0, 0)
      return;
    }
    const m = maps[seq[i]];
    if (s >= m.length || e >= m.length) throw new Error(`offset out of range in ${texts}`);
    out.push(m[s], m[e]);
  });
  return out;
}

function record(kind, line, enc, texts, extra) {
  const r = {kind, line, ids: enc.getIds()};
  const types = enc.getTypeIds();
  if (types.some(x => x !== 0)) r.type_ids = types;
  r.offsets = byteOffsets(enc, texts);
  return Object.assign(r, extra || {});
}

async function main() {
  const lines = readLines(path.join(DATA, 'corpus.txt'));
  const version = require('tokenizers/package.json').version;
  for (const [outName, file, shownPath] of TOKENIZERS) {
    const t = Tokenizer.fromFile(file);
    t.disableTruncation();
    t.disablePadding();
    const out = [JSON.stringify({kind: 'meta', tokenizer: shownPath,
                                 hf_tokenizers_version: version, corpus_lines: lines.length})];
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i];
      const enc = await t.encode(text);
      const extra = {decoded: await t.decode(enc.getIds(), true)};
      if (i % 10 === 0) extra.decoded_all = await t.decode(enc.getIds(), false);
      out.push(JSON.stringify(record('single', i, enc, [text], extra)));
      if (i % 10 === 0) {
        const bare = await t.encode(text, null, {addSpecialTokens: false});
        out.push(JSON.stringify(record('no_special', i, bare, [text])));
      }
      if (i % 8 === 0 && i + 1 < lines.length) {
        const pair = await t.encode(text, lines[i + 1]);
        out.push(JSON.stringify(record('pair', i, pair, [text, lines[i + 1]], {
          special_mask: pair.getSpecialTokensMask(),
          sequence_ids: pair.getSequenceIds().map(s => (s === null || s === undefined) ? -1 : s),
        })));
      }
      if (i % 9 === 0 && i + 1 < lines.length) {
        for (const maxLength of TRUNCATION_LENGTHS) {
          for (const isPair of [false, true]) {
            const texts = isPair ? [text, lines[i + 1]] : [text];
            const full = await t.encode(...texts);
            t.setTruncation(maxLength);
            const enc = await t.encode(...texts);
            t.disableTruncation();
            out.push(JSON.stringify(record('truncated', i, enc, texts, {
              pair: isPair, max_length: maxLength,
              n_truncated: full.getIds().length - enc.getIds().length,
            })));
          }
        }
      }
    }
    fs.writeFileSync(path.join(DATA, outName), out.join('\n') + '\n');
    console.log(`wrote ${outName}: ${out.length} records`);
  }
  await writeVariants(lines, version);
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
