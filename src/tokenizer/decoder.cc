#include "src/tokenizer/decoder.h"

#include <utility>

namespace fff::tok {
namespace {

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  size_t pos = s->find(from);
  if (pos == std::string::npos) return;
  std::string out;
  size_t last = 0;
  for (; pos != std::string::npos; pos = s->find(from, last)) {
    out.append(*s, last, pos - last);
    out.append(to);
    last = pos + from.size();
  }
  out.append(*s, last, std::string::npos);
  *s = std::move(out);
}

void Cleanup(std::string* s) {
  static constexpr std::pair<std::string_view, std::string_view> kRules[] = {
      {" .", "."},   {" ?", "?"},     {" !", "!"},     {" ,", ","},
      {" ' ", "'"},  {" n't", "n't"}, {" 'm", "'m"},   {" do not", " don't"},
      {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
  };
  for (const auto& [from, to] : kRules) ReplaceAll(s, from, to);
}

}  // namespace

std::string DecodeTokens(const std::vector<std::string_view>& tokens,
                         const std::optional<WordPieceDecoder>& decoder) {
  std::string out;
  if (!decoder) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i) out.push_back(' ');
      out.append(tokens[i]);
    }
    return out;
  }
  std::string piece;
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string_view t = tokens[i];
    piece.clear();
    if (i != 0) {
      if (t.substr(0, decoder->prefix.size()) == decoder->prefix) {
        t.remove_prefix(decoder->prefix.size());
      } else {
        piece.push_back(' ');
      }
    }
    piece.append(t);
    if (decoder->cleanup) Cleanup(&piece);
    out += piece;
  }
  return out;
}

}  // namespace fff::tok
