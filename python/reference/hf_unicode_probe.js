#!/usr/bin/env node
// Dumps, for every Unicode scalar value, what HuggingFace `tokenizers` does
// with it in each primitive fff's tokenizer emulates. One line per code point:
//   cp  ws  bp  clean  nfd  nfkd  nfc  nfkc  lower  strip  bert_strip  cjk
//   ws:    Whitespace pre-tokenizer class: W (\w), S (\s), P (neither)
//   bp:    BertPreTokenizer class: S (whitespace), P (punctuation), N (neither)
//   clean: BertNormalizer clean_text: X (removed), S (becomes ' '), = (kept)
//   others: the normalizer's output as hex code points, '=' when unchanged,
//           '' when removed.
// Used by make_unicode_tables.py. Run from the repository root:
//   NODE_PATH=/tmp/npmtok/node_modules node python/reference/hf_unicode_probe.js /tmp/hf_cp.tsv
'use strict';
const t = require('tokenizers');
const fs = require('fs');

const ws = t.whitespacePreTokenizer();
const bp = t.bertPreTokenizer();
const bert = o => t.bertNormalizer(Object.assign(
    {cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false}, o));
const clean = bert({cleanText: true});
const normalizers = [
  t.nfdNormalizer(), t.nfkdNormalizer(), t.nfcNormalizer(), t.nfkcNormalizer(),
  t.lowercase(), t.stripAccentsNormalizer(), bert({stripAccents: true}),
  bert({handleChineseChars: true}),
];
const hex = s => Array.from(s).map(c => c.codePointAt(0).toString(16)).join(' ');

const out = [];
for (let cp = 0; cp <= 0x10FFFF; cp++) {
  if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // not scalar values
  const c = String.fromCodePoint(cp);
  const w = ws.preTokenizeString('a' + c);
  const wsClass = w.length === 2 ? 'P' : (w[0][0] === 'a' ? 'S' : 'W');
  const b = bp.preTokenizeString('a' + c + 'a');
  const bpClass = b.length === 2 ? 'S' : (b.length === 3 ? 'P' : 'N');
  const cl = clean.normalizeString(c);
  const cleanClass = cl === '' ? 'X' : (cl === c ? '=' : (cl === ' ' ? 'S' : '?' + hex(cl)));
  const cols = [cp.toString(16), wsClass, bpClass, cleanClass];
  for (const n of normalizers) {
    const o = n.normalizeString(c);
    cols.push(o === c ? '=' : hex(o));
  }
  out.push(cols.join('\t'));
}
fs.writeFileSync(process.argv[2] || '/tmp/hf_cp.tsv', out.join('\n') + '\n');
