// libFuzzer target: any bytes given to Tokenizer::FromTokenizerJsonString
// must give a tokenizer or a Status, never a crash, leak or undefined
// behaviour; an accepted tokenizer must encode and decode a few fixed texts
// with consistent results (ids in the id space, offsets inside the text).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fff/tokenizer.h"

namespace {

void Check(const fff::Tokenizer& tok, const fff::Encoding& e,
           size_t text_a_size, size_t text_b_size) {
  const size_t n = e.ids.size();
  if (e.type_ids.size() != n || e.offsets.size() != n ||
      e.special_tokens_mask.size() != n || e.attention_mask.size() != n ||
      e.sequence_ids.size() != n) {
    __builtin_trap();
  }
  for (size_t i = 0; i < n; ++i) {
    // Template ids come from the post-processor and may lie outside the
    // vocabulary, as in HF; every other id is in it.
    if (e.ids[i] < 0) __builtin_trap();
    if (!e.special_tokens_mask[i] && e.ids[i] >= tok.vocab_size()) {
      __builtin_trap();
    }
    const auto [begin, end] = e.offsets[i];
    const size_t limit = e.sequence_ids[i] == 1 ? text_b_size : text_a_size;
    if (begin > end || end > limit) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto tok = fff::Tokenizer::FromTokenizerJsonString(json, "fuzz.json");
  if (!tok.ok()) return 0;
  static const std::string_view kTexts[] = {
      "Hello, World! The quick brown fox.",
      "caf\xc3\xa9 na\xc3\xafve \xc3\x85ngstr\xc3\xb6m \xc4\xb0stanbul",
      "``quoted''   <mask> [MASK] [CLS] a<sep>b",
      "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80\xe2\x80\x8d x",
      "e\xcc\x81\xcc\xa3 \xef\xac\x81 \xe1\x84\x80\xe1\x85\xa1\xe1\x86\xa8",
      "",
      " \t\n",
      "invalid \xff utf-8",
  };
  fff::EncodeOptions truncate;
  truncate.max_length = 6;
  for (std::string_view text : kTexts) {
    auto e = tok->Encode(text);
    if (!e.ok()) continue;
    Check(*tok, *e, text.size(), 0);
    (void)tok->Decode(e->ids);
    (void)tok->Decode(e->ids, /*skip_special_tokens=*/false);
    auto p = tok->EncodePair(text, kTexts[0], truncate);
    if (p.ok()) {
      Check(*tok, *p, text.size(), kTexts[0].size());
      if (p->ids.size() > 6) __builtin_trap();
    }
  }
  const fff::SpecialTokenIds& s = tok->special_ids();
  for (int32_t id : {s.pad, s.unk, s.cls, s.sep, s.mask}) {
    (void)tok->IdToToken(id);
  }
  return 0;
}
