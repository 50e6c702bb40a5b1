#include "src/tokenizer/normalizer.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "src/tokenizer/unicode.h"

namespace fff::tok {
namespace {

// One character of a decomposition stream with HF's change marker.
struct Item {
  char32_t cp;
  int change;
  int ccc;
};

// Keeps the characters `keep` accepts, in place. Kept characters keep their
// alignment (HF's NormalizedString::filter).
template <class Keep>
void FilterInPlace(NormalizedText* t, const Keep& keep) {
  std::string& s = t->text;
  const size_t n = s.size();
  size_t w = 0;
  bool ascii = true;
  for (size_t r = 0; r < n;) {
    int len;
    const char32_t cp = DecodeUtf8(s.data() + r, &len);
    if (keep(cp)) {
      if (w != r) {
        std::memmove(&s[w], &s[r], len);
        std::copy(t->align.begin() + r, t->align.begin() + r + len,
                  t->align.begin() + w);
      }
      w += len;
      ascii = ascii && cp < 0x80;
    }
    r += len;
  }
  s.resize(w);
  t->align.resize(w);
  t->ascii = ascii;
}

// HF's Decompositions iterator: full decomposition of every character (the
// first code point replaces it, the others are inserted), then a stable sort
// by combining class of every run of non-starters.
void DecomposeItems(std::string_view s, bool compat, std::vector<Item>* out) {
  out->clear();
  char32_t buf[kMaxDecomposition];
  for (size_t i = 0; i < s.size();) {
    int len;
    const char32_t cp = DecodeUtf8(s.data() + i, &len);
    i += len;
    const int n = Decompose(cp, compat, buf);
    for (int k = 0; k < n; ++k) {
      out->push_back({buf[k], k == 0 ? 0 : 1, CombiningClass(buf[k])});
    }
  }
  auto& v = *out;
  for (size_t i = 0; i < v.size();) {
    if (v[i].ccc == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < v.size() && v[j].ccc != 0) ++j;
    if (j - i > 1) {
      std::stable_sort(
          v.begin() + i, v.begin() + j,
          [](const Item& a, const Item& b) { return a.ccc < b.ccc; });
    }
    i = j;
  }
}

// HF's Recompositions iterator (the canonical composition algorithm with its
// change bookkeeping: a composite's change is k + c - 1).
void RecomposeItems(const std::vector<Item>& in, std::vector<Item>* out) {
  out->clear();
  std::vector<Item> pending;  // non-starters blocked from the composee
  bool have_composee = false;
  Item composee{};
  int last_ccc = -1;  // -1: none since the composee
  for (const Item& it : in) {
    if (!have_composee) {
      if (it.ccc != 0) {
        out->push_back(it);
      } else {
        composee = it;
        have_composee = true;
      }
      continue;
    }
    if (last_ccc >= 0 && last_ccc >= it.ccc) {  // blocked
      if (it.ccc == 0) {
        out->push_back(composee);
        out->insert(out->end(), pending.begin(), pending.end());
        pending.clear();
        composee = it;
        last_ccc = -1;
      } else {
        pending.push_back(it);
        last_ccc = it.ccc;
      }
      continue;
    }
    if (const char32_t c = Compose(composee.cp, it.cp)) {
      composee = {c, composee.change + it.change - 1, 0};
      continue;
    }
    if (last_ccc < 0 && it.ccc == 0) {
      out->push_back(composee);
      composee = it;
      continue;
    }
    pending.push_back(it);
    last_ccc = it.ccc;
  }
  if (have_composee) out->push_back(composee);
  out->insert(out->end(), pending.begin(), pending.end());
}

// Text is processed in alternating runs: ASCII characters are starters that
// neither decompose nor compose with what precedes them, so a run of them is
// copied as is and ends any reordering or composition. (The last ASCII
// character before other text goes with that text: it may compose with it.)
void NormalizeUnicode(UnicodeForm form, NormalizedText* text,
                      NormalizedText* scratch) {
  if (text->ascii) return;  // ASCII is invariant under every form
  thread_local std::vector<Item> decomposed, composed;
  const bool compat = form == UnicodeForm::kNfkd || form == UnicodeForm::kNfkc;
  const bool compose = form == UnicodeForm::kNfc || form == UnicodeForm::kNfkc;
  const std::string& s = text->text;
  const size_t n = s.size();
  Transformer t(*text, scratch);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && IsAsciiByte(s[j])) ++j;
    if (compose && j < n && j > i) --j;
    if (j > i) {
      t.CopyAscii(j - i);
      i = j;
    }
    if (i == n) break;
    size_t k = IsAsciiByte(s[i]) ? i + 1 : i;
    while (k < n && !IsAsciiByte(s[k])) ++k;
    DecomposeItems(std::string_view(s).substr(i, k - i), compat, &decomposed);
    const std::vector<Item>* items = &decomposed;
    if (compose) {
      RecomposeItems(decomposed, &composed);
      items = &composed;
    }
    for (const Item& it : *items) t.Emit(it.cp, it.change);
    i = k;
  }
  text->Swap(*scratch);
}

void LowercaseText(NormalizedText* text, NormalizedText* scratch) {
  if (text->ascii) {
    for (char& c : text->text) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    }
    return;
  }
  Transformer t(*text, scratch);
  const std::string& s = text->text;
  char32_t lower[2];
  for (size_t i = 0; i < s.size();) {
    size_t j = i;
    while (j < s.size() && IsAsciiByte(s[j])) ++j;
    if (j > i) {
      t.CopyAscii(j - i, /*lowercase=*/true);
      i = j;
      continue;
    }
    int len;
    const char32_t cp = DecodeUtf8(s.data() + i, &len);
    i += len;
    const int n = ToLowercase(cp, lower);
    t.Emit(lower[0], 0);
    if (n == 2) t.Emit(lower[1], 1);
  }
  text->Swap(*scratch);
}

class Replace final : public Normalizer {
 public:
  Replace(ReplacePattern pattern, std::string content)
      : pattern_(std::move(pattern)),
        content_(std::move(content)),
        content_ascii_(IsAscii(content_)) {}

  void Apply(NormalizedText* text, NormalizedText* scratch) const override {
    thread_local std::vector<std::pair<size_t, size_t>> matches;
    matches.clear();
    pattern_.FindMatches(text->text, text->ascii, &matches);
    if (matches.empty()) return;
    const std::string& s = text->text;
    const auto& align = text->align;
    scratch->Clear();
    scratch->base = text->base;
    size_t last = 0;
    for (const auto& [b, e] : matches) {
      scratch->text.append(s, last, b - last);
      scratch->align.insert(scratch->align.end(), align.begin() + last,
                            align.begin() + b);
      scratch->text += content_;
      scratch->align.insert(scratch->align.end(), content_.size(),
                            align[e - 1]);
      last = e;
    }
    scratch->text.append(s, last, std::string::npos);
    scratch->align.insert(scratch->align.end(), align.begin() + last,
                          align.end());
    scratch->ascii = text->ascii ? content_ascii_ : IsAscii(scratch->text);
    text->Swap(*scratch);
  }

 private:
  ReplacePattern pattern_;
  std::string content_;
  bool content_ascii_;
};

class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) : form_(form) {}
  void Apply(NormalizedText* text, NormalizedText* scratch) const override {
    NormalizeUnicode(form_, text, scratch);
  }

 private:
  UnicodeForm form_;
};

class Lowercase final : public Normalizer {
 public:
  void Apply(NormalizedText* text, NormalizedText* scratch) const override {
    LowercaseText(text, scratch);
  }
};

class StripAccents final : public Normalizer {
 public:
  void Apply(NormalizedText* text, NormalizedText*) const override {
    if (text->ascii) return;
    FilterInPlace(text, [](char32_t cp) { return !IsCombiningMark(cp); });
  }
};

class BertNormalizer final : public Normalizer {
 public:
  explicit BertNormalizer(const BertNormalizerOptions& o) : o_(o) {}

  void Apply(NormalizedText* text, NormalizedText* scratch) const override {
    if (text->ascii) {
      ApplyAscii(text);
      return;
    }
    if (o_.clean_text) {
      // filter(controls) then map(whitespace -> ' '), done in one pass: a
      // mapped character keeps its alignment and output never outgrows input.
      std::string& s = text->text;
      size_t w = 0;
      bool ascii = true;
      for (size_t r = 0; r < s.size();) {
        int len;
        const char32_t cp = DecodeUtf8(s.data() + r, &len);
        if (!IsBertRemoved(cp)) {
          if (IsBertWhitespace(cp)) {
            s[w] = ' ';
            text->align[w] = text->align[r];
            w += 1;
          } else {
            std::memmove(&s[w], &s[r], len);
            std::copy(text->align.begin() + r, text->align.begin() + r + len,
                      text->align.begin() + w);
            w += len;
            ascii = ascii && cp < 0x80;
          }
        }
        r += len;
      }
      s.resize(w);
      text->align.resize(w);
      text->ascii = ascii;
    }
    if (o_.handle_chinese_chars && !text->ascii)
      SpaceChineseChars(text, scratch);
    if (o_.strip_accents && !text->ascii) {
      NormalizeUnicode(UnicodeForm::kNfd, text, scratch);
      FilterInPlace(text, [](char32_t cp) { return !IsNonspacingMark(cp); });
    }
    if (o_.lowercase) LowercaseText(text, scratch);
  }

 private:
  void ApplyAscii(NormalizedText* text) const {
    std::string& s = text->text;
    size_t w = 0;
    for (size_t r = 0; r < s.size(); ++r) {
      char c = s[r];
      if (o_.clean_text) {
        if (IsBertRemoved(static_cast<unsigned char>(c))) continue;
        if (c == '\t' || c == '\n' || c == '\r') c = ' ';
      }
      if (o_.lowercase && c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      s[w] = c;
      text->align[w] = text->align[r];
      ++w;
    }
    s.resize(w);
    text->align.resize(w);
  }

  static void SpaceChineseChars(NormalizedText* text, NormalizedText* scratch) {
    const std::string& s = text->text;
    bool any = false;
    for (size_t i = 0; i < s.size() && !any;) {
      int len;
      any = IsChineseChar(DecodeUtf8(s.data() + i, &len));
      i += len;
    }
    if (!any) return;
    Transformer t(*text, scratch);
    for (size_t i = 0; i < s.size();) {
      int len;
      const char32_t cp = DecodeUtf8(s.data() + i, &len);
      i += len;
      if (IsChineseChar(cp)) {
        t.Emit(' ', 0);
        t.Emit(cp, 1);
        t.Emit(' ', 1);
      } else {
        t.Emit(cp, 0);
      }
    }
    text->Swap(*scratch);
  }

  BertNormalizerOptions o_;
};

}  // namespace

std::unique_ptr<Normalizer> MakeReplace(ReplacePattern pattern,
                                        std::string content) {
  return std::make_unique<Replace>(std::move(pattern), std::move(content));
}

std::unique_ptr<Normalizer> MakeUnicodeNormalizer(UnicodeForm form) {
  return std::make_unique<UnicodeNormalizer>(form);
}

std::unique_ptr<Normalizer> MakeLowercase() {
  return std::make_unique<Lowercase>();
}

std::unique_ptr<Normalizer> MakeStripAccents() {
  return std::make_unique<StripAccents>();
}

std::unique_ptr<Normalizer> MakeBertNormalizer(
    const BertNormalizerOptions& options) {
  return std::make_unique<BertNormalizer>(options);
}

}  // namespace fff::tok
