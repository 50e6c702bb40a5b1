// WordPiece tokenizer compatible with HuggingFace `tokenizers`: reads a
// tokenizer.json (WordPiece model; normalizers Sequence / Replace / NFD /
// NFKC / NFC / NFKD / Lowercase / StripAccents / BertNormalizer;
// pre-tokenizers Whitespace / WhitespaceSplit / BertPreTokenizer / Sequence;
// TemplateProcessing / BertProcessing post-processors; WordPiece decoder;
// added and special tokens) or a classic BERT vocab.txt, and produces
// exactly the ids HuggingFace produces for the same text.
#ifndef FFF_TOKENIZER_H_
#define FFF_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fff/status.h"

namespace fff {

struct Encoding {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;             // per the post-processor template
  std::vector<uint8_t> special_tokens_mask;  // 1 for tokens the template added
  std::vector<uint8_t> attention_mask;  // all 1 (fff never pads an Encoding)
  // Byte range [begin, end) in the input text each token came from; (0, 0)
  // for tokens the post-processor added. For a pair, ranges of the second
  // sequence index the second text.
  std::vector<std::pair<uint32_t, uint32_t>> offsets;
  std::vector<int32_t> sequence_ids;  // 0 / 1 per token, -1 for added ones
  // Tokens dropped by truncation (0 when none).
  size_t n_truncated = 0;
};

struct EncodeOptions {
  bool add_special_tokens = true;
  // Most tokens in the result, special tokens included (0: no limit): the
  // sequences get max_length - NumSpecialTokens(pair) tokens (max_length
  // itself without special tokens; less than NumSpecialTokens is an
  // InvalidArgument error). Truncation is HF's TruncationStrategy::
  // LongestFirst, direction right, stride 0: a single sequence keeps its
  // first tokens; for a pair the shorter keeps its length if the longer can
  // have the rest, else each gets half (the longer the odd token), with
  // "longer" judged as HF judges it (on the lengths left after it stops
  // tokenizing a sequence at max_length tokens, whole words at a time).
  size_t max_length = 0;
  // When true, input needing truncation is an OutOfRange error instead.
  bool error_on_truncation = false;
};

// Ids of the special roles, read from the file (-1: the file has none):
//   unk:  the WordPiece model's unk_token;
//   cls:  the post-processor's special token right before $A, sep: the one
//         right after $A (pair template first, then the single one; for
//         BertProcessing its cls / sep);
//   mask, pad: the added special token whose content contains "mask" /
//         "pad" (ASCII case-insensitive), the lowest id if several.
struct SpecialTokenIds {
  int32_t pad = -1, unk = -1, cls = -1, sep = -1, mask = -1;
};

// Immutable after loading; every method is const and thread-safe.
class Tokenizer {
 public:
  // Errors name the file and the JSON field (e.g. "tokenizer.json:
  // normalizer.normalizers[2].type: unsupported \"Precompiled\""):
  // malformed JSON and fields of the wrong type are DataLoss, components fff
  // does not implement (other models, normalizers, pre-tokenizers,
  // post-processors, decoders; Replace regexes beyond one quantified
  // character or class; added tokens with single_word / lstrip / rstrip)
  // are Unimplemented, an unk_token missing from the vocabulary is
  // InvalidArgument (HF fails later, on the first unknown word). The file's
  // `truncation` and `padding` sections are ignored: fff truncates only
  // through EncodeOptions::max_length and never pads. Added tokens get ids as
  // HF gives them: a content already in the vocabulary keeps that id (the
  // file's "id" notwithstanding), a new one takes the next id after it.
  static Result<Tokenizer> FromTokenizerJson(const std::string& path);
  static Result<Tokenizer> FromTokenizerJsonString(std::string_view json,
                                                   std::string source_name);
  // Classic BERT: vocab.txt (one token per line, id = line number) with
  // BertNormalizer(lowercase = `lowercase`), BertPreTokenizer and the
  // [CLS] $A [SEP] / [CLS] $A [SEP] $B [SEP] templates.
  static Result<Tokenizer> FromVocabTxt(const std::string& path,
                                        bool lowercase = true);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Invalid UTF-8 is an InvalidArgument error naming the byte offset of the
  // first ill-formed sequence. Empty or whitespace-only text gives only the
  // template's special tokens. Offsets are byte ranges of `text`, exactly
  // HF's (its character offsets converted to bytes).
  Result<Encoding> Encode(std::string_view text,
                          const EncodeOptions& options = {}) const;
  Result<Encoding> EncodePair(std::string_view text_a, std::string_view text_b,
                              const EncodeOptions& options = {}) const;
  // WordPiece decoding as HF's decoder (prefix joined, cleanup applied; no
  // decoder in the file: tokens joined by spaces). Ids that are no token
  // are skipped, as HF does.
  Result<std::string> Decode(std::span<const int32_t> ids,
                             bool skip_special_tokens = true) const;

  // Size of the id space: max id + 1 over the vocabulary and added tokens.
  int32_t vocab_size() const;
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // Empty string for an id outside the vocabulary.
  std::string IdToToken(int32_t id) const;
  const SpecialTokenIds& special_ids() const;
  // Tokens the post-processor adds around one sequence / a pair (the
  // budget truncation must leave for them).
  size_t NumSpecialTokens(bool pair) const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_TOKENIZER_H_
