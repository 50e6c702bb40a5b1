// Trains a WordPiece vocabulary on raw text and writes it as a HuggingFace
// tokenizer.json in the crammedBERT / UltraFastBERT form
// (shared/design/ultrafastbert-spec.md section 4): normalizer Sequence
// [Replace `` -> ", Replace '' -> ", NFD, Lowercase, StripAccents, Replace
// " {2,}" -> " ", Replace "[^\x00-\x7F]+" -> ""], pre-tokenizer Whitespace,
// WordPiece model (prefix "##", unk "<unk>"), TemplateProcessing
// `$A <sep>` / `<cls> $A <sep> $B <sep>`, WordPiece decoder.
//
// The training text is normalised and pre-tokenised by the very pipeline the
// written file describes (it is loaded from the file's own sections), so the
// words the vocabulary is learnt on are exactly the words Encode later sees.
//
// Algorithm (HF tokenizers' WordPieceTrainer, which is its BpeTrainer with
// the "##" prefix): count the words; the initial vocabulary is the special
// tokens (ids 0.. in the given order), then every character seen (bare, in
// code point order), then every character seen after the first of a word
// with the "##" prefix (code point order); then repeatedly the most frequent
// adjacent pair of symbols in the word list is merged (the new token is the
// concatenation, "##" kept only at its front) until the vocabulary has
// vocab_size tokens or no pair occurs min_frequency times. Ties are broken by
// the lower (first id, second id) pair, so the result is a function of the
// multiset of words only: byte-identical output for the same text, however it
// is split into AddText calls. Pair counts are maintained incrementally (only
// words containing the merged pair are revisited) with a lazy max-heap.
#ifndef FFF_WORDPIECE_TRAINER_H_
#define FFF_WORDPIECE_TRAINER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fff/status.h"

namespace fff {

struct WordPieceTrainerOptions {
  // Tokens in the vocabulary, special tokens included.
  int32_t vocab_size = 8192;
  // A pair is merged only if it occurs at least this often (counted over
  // word occurrences); >= 1.
  int64_t min_frequency = 2;
  // Words with more code points than this are left out of training. Also
  // the file's max_input_chars_per_word, so such words encode to <unk>.
  size_t max_chars_per_word = 100;
  // Special tokens, ids 0, 1, ... in this order; all listed in the file's
  // added_tokens (special, not normalised). Must contain the three below.
  std::vector<std::string> special_tokens = {"<pad>", "<s>",   "</s>",  "<unk>",
                                             "<cls>", "<sep>", "<mask>"};
  std::string unk_token = "<unk>";
  std::string cls_token = "<cls>";
  std::string sep_token = "<sep>";
};

struct WordPieceTrainProgress {
  int32_t vocab_size = 0;   // tokens so far
  int32_t target_size = 0;  // options.vocab_size
  int64_t n_merges = 0;     // merges done
  int64_t last_count = 0;   // frequency of the last merged pair
};

// Not thread-safe (one owner); movable.
class WordPieceTrainer {
 public:
  // InvalidArgument for bad options (vocab_size < 1, min_frequency < 1,
  // max_chars_per_word < 1, empty / duplicate / non-UTF-8 special tokens, an
  // unk/cls/sep token not among the special tokens).
  static Result<WordPieceTrainer> Create(WordPieceTrainerOptions options);

  WordPieceTrainer(WordPieceTrainer&&) noexcept;
  WordPieceTrainer& operator=(WordPieceTrainer&&) noexcept;
  ~WordPieceTrainer();

  // Counts the words of `text` (any number of calls: a line, a paragraph, a
  // whole file). Invalid UTF-8 is an InvalidArgument error naming the byte
  // offset in this text and in all text added so far; nothing of the text is
  // counted then. Text of 4 GiB or more is OutOfRange (split it).
  Status AddText(std::string_view text);

  // Word occurrences counted (words over max_chars_per_word excluded), and
  // distinct words among them.
  int64_t n_words() const;
  int64_t n_distinct_words() const;
  int64_t n_bytes() const;  // text bytes added

  // Trains and returns the tokenizer.json text (2-space indented JSON, vocab
  // in id order). Leaves the counts as they are, so more text may be added
  // and the trainer run again. InvalidArgument when vocab_size is smaller
  // than the special tokens plus the alphabet, naming both counts.
  // `progress`, when set, is called every 256 merges and at the end.
  Result<std::string> TrainTokenizerJson(
      const std::function<void(const WordPieceTrainProgress&)>& progress = {})
      const;

 private:
  struct Impl;
  explicit WordPieceTrainer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_WORDPIECE_TRAINER_H_
