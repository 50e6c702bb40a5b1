#include "src/tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iterator>

namespace fff::tok {
namespace {

#include "src/tokenizer/unicode_tables.inc"

template <size_t N>
bool InRanges(const CodePointRange (&table)[N], char32_t cp) {
  const auto* it = std::upper_bound(
      std::begin(table), std::end(table), cp,
      [](char32_t c, const CodePointRange& r) { return c < r.first; });
  return it != std::begin(table) && cp <= (it - 1)->last;
}

utf8proc_category_t Category(char32_t cp) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool IsAsciiPunctuation(char32_t cp) {
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) ||
         (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126);
}

}  // namespace

size_t FindInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s + i, 8);
      if ((word & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;  // no surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;  // <= U+10FFFF
    } else {
      return i;
    }
    if (i + len > n || s[i + 1] < lo || s[i + 1] > hi) return i;
    for (int k = 2; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return kValidUtf8;
}

bool IsAscii(std::string_view text) {
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, 8);
    if (word & 0x8080808080808080ull) return false;
  }
  for (; i < text.size(); ++i) {
    if (!IsAsciiByte(text[i])) return false;
  }
  return true;
}

char32_t DecodeUtf8(const char* p, int* length) {
  const auto* s = reinterpret_cast<const unsigned char*>(p);
  const unsigned char c = s[0];
  if (c < 0x80) {
    *length = 1;
    return c;
  }
  if (c < 0xE0) {
    *length = 2;
    return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu);
  }
  if (c < 0xF0) {
    *length = 3;
    return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
  }
  *length = 4;
  return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) |
         (s[3] & 0x3Fu);
}

int AppendUtf8(char32_t cp, std::string* out) {
  char buf[4];
  int n;
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
    return 1;
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    buf[0] = static_cast<char>(0xF0 | (cp >> 18));
    buf[1] = static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = static_cast<char>(0x80 | (cp & 0x3F));
    n = 4;
  }
  out->append(buf, n);
  return n;
}

size_t CountCodePoints(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += !IsContinuationByte(c);
  return n;
}

bool IsWhitespace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 9 && cp <= 13);
  switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
      return true;
    default:
      return cp >= 0x2000 && cp <= 0x200A;
  }
}

bool IsWordChar(char32_t cp) {
  if (cp < 0x80) {
    return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') ||
           (cp >= 'A' && cp <= 'Z') || cp == '_';
  }
  bool word;
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_PC:
      word = true;
      break;
    default:
      word = false;
  }
  return word != InRanges(kWordCharFlips, cp);
}

bool IsBertPunctuation(char32_t cp) {
  if (cp < 0x80) return IsAsciiPunctuation(cp);
  bool punct;
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      punct = true;
      break;
    default:
      punct = false;
  }
  return punct != InRanges(kPunctuationFlips, cp);
}

bool IsBertRemoved(char32_t cp) {
  if (cp < 0x80) {
    return cp != '\t' && cp != '\n' && cp != '\r' && (cp < 0x20 || cp == 0x7F);
  }
  if (cp == 0xFFFD) return true;
  bool control;
  switch (Category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      control = true;
      break;
    default:
      control = false;
  }
  return control != InRanges(kControlFlips, cp);
}

bool IsChineseChar(char32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

bool IsCombiningMark(char32_t cp) {
  if (cp < 0x300) return false;
  const utf8proc_category_t c = Category(cp);
  const bool mark = c == UTF8PROC_CATEGORY_MN || c == UTF8PROC_CATEGORY_MC ||
                    c == UTF8PROC_CATEGORY_ME;
  return mark != InRanges(kCombiningMarkFlips, cp);
}

bool IsNonspacingMark(char32_t cp) {
  if (cp < 0x300) return false;
  return (Category(cp) == UTF8PROC_CATEGORY_MN) !=
         InRanges(kNonspacingMarkFlips, cp);
}

int CombiningClass(char32_t cp) {
  if (cp < 0x300 || !IsCombiningMark(cp)) return 0;
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))
      ->combining_class;
}

int ToLowercase(char32_t cp, char32_t out[2]) {
  if (cp < 0x80) {
    out[0] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    return 1;
  }
  if (cp == 0x130) {  // 'İ': the one unconditional two-code-point lowercase
    out[0] = 'i';
    out[1] = 0x307;
    return 2;
  }
  const auto* it = std::lower_bound(
      std::begin(kLowercaseOverrides), std::end(kLowercaseOverrides), cp,
      [](const LowercaseOverride& o, char32_t c) { return o.from < c; });
  if (it != std::end(kLowercaseOverrides) && it->from == cp) {
    out[0] = it->to;
  } else {
    out[0] = static_cast<char32_t>(
        utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
  }
  return 1;
}

int Decompose(char32_t cp, bool compatibility, char32_t* out) {
  if (cp < 0xC0 && !(compatibility && cp >= 0xA0)) {
    out[0] = cp;
    return 1;
  }
  if (compatibility ? InRanges(kNoCompatDecomposition, cp)
                    : InRanges(kNoCanonicalDecomposition, cp)) {
    out[0] = cp;
    return 1;
  }
  utf8proc_int32_t buf[kMaxDecomposition];
  int boundclass = 0;
  const int options =
      UTF8PROC_DECOMPOSE | (compatibility ? UTF8PROC_COMPAT : 0);
  const utf8proc_ssize_t n = utf8proc_decompose_char(
      static_cast<utf8proc_int32_t>(cp), buf, kMaxDecomposition,
      static_cast<utf8proc_option_t>(options), &boundclass);
  if (n <= 0 || n > kMaxDecomposition) {
    out[0] = cp;
    return 1;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    out[i] = static_cast<char32_t>(buf[i]);
  }
  return static_cast<int>(n);
}

char32_t Compose(char32_t starter, char32_t next) {
  if (next < 0x300) return 0;  // nothing composes with Latin-1 or ASCII
  utf8proc_int32_t pair[2] = {static_cast<utf8proc_int32_t>(starter),
                              static_cast<utf8proc_int32_t>(next)};
  if (utf8proc_normalize_utf32(pair, 2, UTF8PROC_COMPOSE) != 1) return 0;
  const auto composite = static_cast<char32_t>(pair[0]);
  // utf8proc also composes the post-composition exclusions; HF's Unicode
  // 9.0 tables know nothing of composites added later.
  if (utf8proc_get_property(pair[0])->comp_exclusion ||
      InRanges(kNoCanonicalDecomposition, composite)) {
    return 0;
  }
  return composite;
}

std::string CodePointsHex(std::u32string_view cps) {
  std::string s;
  char buf[16];
  for (char32_t cp : cps) {
    if (!s.empty()) s.push_back(' ');
    const int n =
        std::snprintf(buf, sizeof(buf), "%x", static_cast<unsigned>(cp));
    s.append(buf, n);
  }
  return s;
}

}  // namespace fff::tok
