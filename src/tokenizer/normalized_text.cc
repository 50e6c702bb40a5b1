#include "src/tokenizer/normalized_text.h"

#include "src/base/check.h"
#include "src/tokenizer/unicode.h"

namespace fff::tok {

void NormalizedText::Assign(std::string_view piece, uint32_t base_offset) {
  base = base_offset;
  text.assign(piece.data(), piece.size());
  align.resize(piece.size());
  ascii = true;
  const uint32_t n = static_cast<uint32_t>(piece.size());
  for (uint32_t i = 0; i < n;) {
    const auto lead = static_cast<unsigned char>(piece[i]);
    if (lead < 0x80) {
      align[i] = {base_offset + i, base_offset + i + 1};
      ++i;
      continue;
    }
    ascii = false;
    const uint32_t len = Utf8SequenceLength(lead);
    const Alignment a{base_offset + i, base_offset + i + len};
    for (uint32_t k = 0; k < len && i + k < n; ++k) align[i + k] = a;
    i += len;
  }
}

Transformer::Transformer(const NormalizedText& src, NormalizedText* dst,
                         size_t skip_chars)
    : src_(src), dst_(dst) {
  FFF_CHECK(&src != dst);
  dst_->Clear();
  dst_->base = src.base;
  dst_->text.reserve(src.text.size() + src.text.size() / 4 + 8);
  dst_->align.reserve(dst_->text.capacity());
  for (size_t i = 0; i < skip_chars; ++i) SkipSourceChar();
}

void Transformer::SkipSourceChar() {
  FFF_CHECK(cursor_ < src_.text.size());
  cursor_ += Utf8SequenceLength(static_cast<unsigned char>(src_.text[cursor_]));
}

void Transformer::Emit(char32_t cp, int change) {
  Alignment a;
  if (change > 0) {
    a = cursor_ > 0 ? src_.align[cursor_ - 1] : Alignment{src_.base, src_.base};
  } else {
    FFF_CHECK(cursor_ < src_.text.size());
    a = src_.align[cursor_];
    SkipSourceChar();
    for (int i = 0; i < -change; ++i) SkipSourceChar();
  }
  if (cp < 0x80) {
    dst_->text.push_back(static_cast<char>(cp));
    dst_->align.push_back(a);
    return;
  }
  const int n = AppendUtf8(cp, &dst_->text);
  dst_->align.insert(dst_->align.end(), n, a);
  dst_->ascii = false;
}

void Transformer::CopyAscii(size_t n, bool lowercase) {
  FFF_CHECK(cursor_ + n <= src_.text.size());
  const size_t at = dst_->text.size();
  dst_->text.append(src_.text, cursor_, n);
  dst_->align.insert(dst_->align.end(), src_.align.begin() + cursor_,
                     src_.align.begin() + cursor_ + n);
  cursor_ += n;
  if (lowercase) {
    for (size_t i = at; i < at + n; ++i) {
      char& c = dst_->text[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
  }
}

}  // namespace fff::tok
