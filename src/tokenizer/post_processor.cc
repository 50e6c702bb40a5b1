#include "src/tokenizer/post_processor.h"

#include <algorithm>

namespace fff::tok {
namespace {

void Append(const SequenceTokens& seq, int32_t type_id, int32_t sequence_id,
            Encoding* out) {
  out->ids.insert(out->ids.end(), seq.ids.begin(), seq.ids.end());
  out->offsets.insert(out->offsets.end(), seq.offsets.begin(),
                      seq.offsets.end());
  out->type_ids.insert(out->type_ids.end(), seq.size(), type_id);
  out->special_tokens_mask.insert(out->special_tokens_mask.end(), seq.size(),
                                  0);
  out->sequence_ids.insert(out->sequence_ids.end(), seq.size(), sequence_id);
}

void AppendSpecial(const TemplatePiece& piece, Encoding* out) {
  const size_t n = piece.ids.size();
  out->ids.insert(out->ids.end(), piece.ids.begin(), piece.ids.end());
  out->offsets.insert(out->offsets.end(), n, {0, 0});
  out->type_ids.insert(out->type_ids.end(), n, piece.type_id);
  out->special_tokens_mask.insert(out->special_tokens_mask.end(), n, 1);
  out->sequence_ids.insert(out->sequence_ids.end(), n, -1);
}

// cls / sep around $A in one template; leaves them alone when absent.
void ClsSepIn(const std::vector<TemplatePiece>& t, int32_t* cls, int32_t* sep) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (!t[i].is_sequence || t[i].sequence != 0) continue;
    if (*cls < 0 && i > 0 && !t[i - 1].is_sequence && !t[i - 1].ids.empty()) {
      *cls = t[i - 1].ids[0];
    }
    if (*sep < 0 && i + 1 < t.size() && !t[i + 1].is_sequence &&
        !t[i + 1].ids.empty()) {
      *sep = t[i + 1].ids[0];
    }
    return;
  }
}

// The length HF's tokenize_with_limit leaves: splits are tokenized in order
// until, after a word, `max_length` tokens are reached.
size_t LimitedLength(const SequenceTokens& seq, size_t max_length) {
  for (size_t i = 0; i < seq.split_ends.size(); ++i) {
    if (!seq.split_is_added[i] && seq.split_ends[i] >= max_length) {
      return seq.split_ends[i];
    }
  }
  return seq.size();
}

}  // namespace

PostProcessor::PostProcessor(std::vector<TemplatePiece> single,
                             std::vector<TemplatePiece> pair)
    : has_template_(true), single_(std::move(single)), pair_(std::move(pair)) {}

size_t PostProcessor::NumSpecialTokens(bool pair) const {
  size_t n = 0;
  for (const TemplatePiece& p : pair ? pair_ : single_) {
    if (!p.is_sequence) n += p.ids.size();
  }
  return n;
}

void PostProcessor::FindClsSep(int32_t* cls, int32_t* sep) const {
  *cls = *sep = -1;
  ClsSepIn(pair_, cls, sep);
  ClsSepIn(single_, cls, sep);
}

void PostProcessor::Assemble(const SequenceTokens& a, const SequenceTokens* b,
                             bool add_special_tokens, Encoding* out) const {
  *out = Encoding{};
  const size_t reserve = a.size() + (b ? b->size() : 0) + 8;
  out->ids.reserve(reserve);
  out->offsets.reserve(reserve);
  out->type_ids.reserve(reserve);
  out->special_tokens_mask.reserve(reserve);
  out->sequence_ids.reserve(reserve);
  if (!has_template_) {
    Append(a, 0, 0, out);
    if (b) Append(*b, 1, 1, out);
  } else {
    for (const TemplatePiece& p : b ? pair_ : single_) {
      if (p.is_sequence) {
        const SequenceTokens& seq = p.sequence == 0 ? a : *b;
        Append(seq, p.type_id, p.sequence, out);
      } else if (add_special_tokens) {
        AppendSpecial(p, out);
      }
    }
  }
  out->attention_mask.assign(out->ids.size(), 1);
}

size_t TruncateLongestFirst(size_t budget, size_t max_length, SequenceTokens* a,
                            SequenceTokens* b) {
  const size_t total = a->size() + (b ? b->size() : 0);
  if (total <= budget) return 0;
  if (!b) {
    a->Truncate(budget);
    return total - budget;
  }
  // HF: with n1 the shorter length, keep n1 and give the longer the rest;
  // if the shorter alone is too long, both get half (the longer, or the
  // second on a tie, the odd token).
  size_t n1 = LimitedLength(*a, max_length);
  size_t n2 = LimitedLength(*b, max_length);
  const bool swapped = n1 > n2;
  if (swapped) std::swap(n1, n2);
  n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swapped) std::swap(n1, n2);
  a->Truncate(n1);
  b->Truncate(n2);
  return total - a->size() - b->size();
}

}  // namespace fff::tok
