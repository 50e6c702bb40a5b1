// Post-processing: truncation to a token budget and the template that adds
// special tokens around one sequence or a pair (HF's TemplateProcessing;
// BertProcessing is the template [CLS] $A:0 [SEP]:0 / $B:1 [SEP]:1; no
// post-processor: the sequences as they are, type ids 0 and 1).
#ifndef FFF_SRC_TOKENIZER_POST_PROCESSOR_H_
#define FFF_SRC_TOKENIZER_POST_PROCESSOR_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fff/tokenizer.h"

namespace fff::tok {

// The tokens one input sequence produced, before post-processing, and the
// pieces ("splits") they came from.
struct SequenceTokens {
  std::vector<int32_t> ids;
  std::vector<std::pair<uint32_t, uint32_t>> offsets;  // input byte ranges
  // Per split, in order: the number of tokens up to its end, and whether it
  // was an added token (otherwise a pre-tokenized word).
  std::vector<uint32_t> split_ends;
  std::vector<uint8_t> split_is_added;

  size_t size() const { return ids.size(); }
  void clear() {
    ids.clear();
    offsets.clear();
    split_ends.clear();
    split_is_added.clear();
  }
  void EndSplit(bool added) {
    split_ends.push_back(static_cast<uint32_t>(ids.size()));
    split_is_added.push_back(added);
  }
  void Truncate(size_t n) {
    if (n < ids.size()) {
      ids.resize(n);
      offsets.resize(n);
    }
  }
};

struct TemplatePiece {
  bool is_sequence = false;
  int sequence = 0;          // 0: $A, 1: $B (is_sequence only)
  std::vector<int32_t> ids;  // the special token's ids (otherwise)
  std::string name;          // the special token's name, for messages
  int32_t type_id = 0;
};

// Immutable after construction; thread-safe.
class PostProcessor {
 public:
  // No post-processor (HF's default processing).
  PostProcessor() = default;
  // Preconditions (the loader checks them): `single` uses only $A, `pair`
  // uses $A and/or $B.
  PostProcessor(std::vector<TemplatePiece> single,
                std::vector<TemplatePiece> pair);

  // Tokens the template adds (HF's added_tokens(is_pair)).
  size_t NumSpecialTokens(bool pair) const;
  // Special ids as this file's template places them: cls is the special
  // token right before $A, sep the one right after, read from the pair
  // template and then the single one (-1 when neither has one).
  void FindClsSep(int32_t* cls, int32_t* sep) const;

  // Builds the final encoding from `a` (and `b` when non-null).
  void Assemble(const SequenceTokens& a, const SequenceTokens* b,
                bool add_special_tokens, Encoding* out) const;

 private:
  bool has_template_ = false;
  std::vector<TemplatePiece> single_, pair_;
};

// HF's truncation with TruncationStrategy::LongestFirst, direction Right,
// stride 0: shortens `a` (and `b`) so that together they have at most
// `budget` tokens. Returns the number of tokens dropped.
//
// For a pair the split depends on the sequences' lengths, and HF measures
// them after tokenizing each sequence only until it reached `max_length`
// tokens (whole words at a time; PreTokenizedString::tokenize_with_limit):
// that length, not the full one, decides which sequence is "longest".
size_t TruncateLongestFirst(size_t budget, size_t max_length, SequenceTokens* a,
                            SequenceTokens* b);

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_POST_PROCESSOR_H_
