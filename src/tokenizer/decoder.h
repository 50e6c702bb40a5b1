// Decoding token strings back to text: HF's WordPiece decoder, or HF's
// fallback when a file has no decoder (tokens joined by single spaces).
#ifndef FFF_SRC_TOKENIZER_DECODER_H_
#define FFF_SRC_TOKENIZER_DECODER_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fff::tok {

struct WordPieceDecoder {
  std::string prefix = "##";
  // HF's cleanup: drops the space before . ? ! , and contractions
  // (" 's" -> "'s", " do not" -> " don't", ...), token by token.
  bool cleanup = true;
};

// Immutable; thread-safe.
std::string DecodeTokens(const std::vector<std::string_view>& tokens,
                         const std::optional<WordPieceDecoder>& decoder);

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_DECODER_H_
