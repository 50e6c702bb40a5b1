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
  std::vector<int32_t> type_ids;        // per the post-processor template
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
  // Most tokens in the result, special tokens included (0: no limit). Longer
  // inputs are truncated longest-first (for a pair, one token at a time
  // from the longer sequence), as HF's TruncationStrategy::LongestFirst.
  size_t max_length = 0;
  // When true, input needing truncation is an error instead.
  bool error_on_truncation = false;
};

// Ids of the special roles, read from the file (-1: the file has none).
struct SpecialTokenIds {
  int32_t pad = -1, unk = -1, cls = -1, sep = -1, mask = -1;
};

// Immutable after loading; every method is const and thread-safe.
class Tokenizer {
 public:
  // Errors name the file and the JSON field (e.g. "tokenizer.json:
  // normalizer.normalizers[2].type: unsupported \"Precompiled\"").
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

  // Invalid UTF-8 is an error naming the byte offset.
  Result<Encoding> Encode(std::string_view text,
                          const EncodeOptions& options = {}) const;
  Result<Encoding> EncodePair(std::string_view text_a, std::string_view text_b,
                              const EncodeOptions& options = {}) const;
  // WordPiece decoding as HF's decoder (prefix joined, cleanup applied).
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
