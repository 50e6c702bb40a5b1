// The normalizers of HF `tokenizers` that fff supports, each reproducing
// HF's output text and alignment map exactly (see NormalizedText). Text that
// is all ASCII takes fast paths that give the same result.
#ifndef FFF_SRC_TOKENIZER_NORMALIZER_H_
#define FFF_SRC_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "src/tokenizer/normalized_text.h"
#include "src/tokenizer/replace_pattern.h"

namespace fff::tok {

// Immutable after construction; Apply is thread-safe.
class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Normalises `*text` in place. `*scratch` is working space (its content is
  // undefined afterwards); valid UTF-8 in, valid UTF-8 out.
  virtual void Apply(NormalizedText* text, NormalizedText* scratch) const = 0;
};

// HF Replace: every match of `pattern` becomes `content`; the content's
// characters take the alignment of the last character of the match.
std::unique_ptr<Normalizer> MakeReplace(ReplacePattern pattern,
                                        std::string content);

enum class UnicodeForm { kNfd, kNfkd, kNfc, kNfkc };
// HF NFD / NFKD / NFC / NFKC on the whole piece (Unicode 9.0 data).
std::unique_ptr<Normalizer> MakeUnicodeNormalizer(UnicodeForm form);
// HF Lowercase: Rust char::to_lowercase per code point (no final-sigma or
// locale rules; 'İ' becomes "i̇").
std::unique_ptr<Normalizer> MakeLowercase();
// HF StripAccents: removes combining marks (Mn, Mc, Me of Unicode 9.0).
std::unique_ptr<Normalizer> MakeStripAccents();

struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // HF's null means "same as lowercase"
  bool lowercase = true;
};
// HF BertNormalizer: clean_text (drop controls, map whitespace to ' '),
// spaces around CJK ideographs, NFD + drop Mn, lowercase; in that order.
std::unique_ptr<Normalizer> MakeBertNormalizer(
    const BertNormalizerOptions& options);

// A Sequence: the steps in order.
class NormalizerChain {
 public:
  void Add(std::unique_ptr<Normalizer> step) {
    steps_.push_back(std::move(step));
  }
  bool empty() const { return steps_.empty(); }
  void Apply(NormalizedText* text, NormalizedText* scratch) const {
    for (const auto& step : steps_) step->Apply(text, scratch);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_NORMALIZER_H_
