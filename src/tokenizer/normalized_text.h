// NormalizedText: a piece of the input after normalisation, with the
// alignment map HuggingFace keeps (NormalizedString) so that every token can
// be traced back to the input bytes it came from.
#ifndef FFF_SRC_TOKENIZER_NORMALIZED_TEXT_H_
#define FFF_SRC_TOKENIZER_NORMALIZED_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fff::tok {

// Byte range [begin, end) of the input, absolute (offsets into the whole
// text passed to Encode).
struct Alignment {
  uint32_t begin = 0, end = 0;
  bool operator==(const Alignment&) const = default;
};

struct NormalizedText {
  std::string text;  // normalised UTF-8
  // One entry per byte of `text`: the input character that byte came from.
  // All bytes of one character share an entry, so HF's per-byte map and a
  // per-character one are the same thing.
  std::vector<Alignment> align;
  uint32_t base = 0;  // input offset of the piece (HF's "(0, 0)" maps here)
  bool ascii = true;  // every byte of `text` < 0x80: fast paths apply

  // The identity: `piece` is the input slice that starts at input byte
  // `base`. Precondition: valid UTF-8.
  void Assign(std::string_view piece, uint32_t base_offset);
  // Input range of the normalised bytes [b, e) (HF's convert_offsets on a
  // normalised range). Precondition: b < e <= text.size().
  Alignment InputRange(size_t b, size_t e) const {
    return {align[b].begin, align[e - 1].end};
  }
  void Clear() {
    text.clear();
    align.clear();
    ascii = true;
  }
  void Swap(NormalizedText& other) {
    text.swap(other.text);
    align.swap(other.align);
    std::swap(base, other.base);
    std::swap(ascii, other.ascii);
  }
};

// Rebuilds a NormalizedText from a stream of (code point, change) items the
// way HF's NormalizedString::transform does, which fixes the alignment of
// every new character:
//   change 0: the item replaces the next source character and takes its
//             alignment;
//   change -n: the same, and the n source characters after it are dropped;
//   change +1: the item is inserted and takes the alignment of the source
//             character just before the cursor (the one last consumed).
// Source characters never consumed are dropped.
class Transformer {
 public:
  // Starts writing `*dst` (cleared) from `src`, skipping its first
  // `skip_chars` characters. `src` must outlive the Transformer and differ
  // from `*dst`.
  Transformer(const NormalizedText& src, NormalizedText* dst,
              size_t skip_chars = 0);
  void Emit(char32_t cp, int change);
  // Emit(c, 0) for each of the next `n` source bytes, which must be ASCII,
  // lowercased when asked.
  void CopyAscii(size_t n, bool lowercase = false);

 private:
  void SkipSourceChar();
  const NormalizedText& src_;
  NormalizedText* dst_;
  size_t cursor_ = 0;  // byte offset into src_.text
};

}  // namespace fff::tok

#endif  // FFF_SRC_TOKENIZER_NORMALIZED_TEXT_H_
