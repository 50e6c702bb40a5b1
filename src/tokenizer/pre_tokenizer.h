// The pre-tokenizers of HF `tokenizers` that fff supports. They only split
// (none changes the text), so a pre-tokenizer is a list of splitting rules
// applied in order (HF's Sequence), each to every piece the previous left.
#ifndef FFF_SRC_TOKENIZER_PRE_TOKENIZER_H_
#define FFF_SRC_TOKENIZER_PRE_TOKENIZER_H_

#include <cstdint>
#include <vector>

#include "src/tokenizer/normalized_text.h"

namespace fff::tok {

// Byte range [begin, end) of a NormalizedText's text.
struct Span {
  uint32_t begin, end;
};

enum class SplitRule {
  // HF Whitespace: the matches of regex \w+|[^\w\s]+ (Unicode classes).
  kWhitespace,
  // HF WhitespaceSplit: runs between whitespace.
  kWhitespaceSplit,
  // HF BertPreTokenizer: runs between whitespace, with every punctuation
  // character a piece of its own.
  kBert,
};

// Immutable after construction; Split is thread-safe.
class PreTokenizer {
 public:
  void Add(SplitRule rule) { rules_.push_back(rule); }
  bool empty() const { return rules_.empty(); }

  // Appends the pieces of text.text[begin, end) to *out, in order (empty
  // pieces never appear; no rules: the range itself when non-empty).
  // `*scratch` is working space.
  void Split(const NormalizedText& text, uint32_t begin, uint32_t end,
             std::vector<Span>* out, std::vector<Span>* scratch) const;

 private:
  std::vector<SplitRule> rules_;
};

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_PRE_TOKENIZER_H_
