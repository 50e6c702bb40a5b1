#include "src/tokenizer/replace_pattern.h"

#include <algorithm>
#include <cstring>

#include "src/tokenizer/unicode.h"

namespace fff::tok {
namespace {

constexpr std::string_view kMetacharacters = ".^$|?*+()[]{}\\";
constexpr uint32_t kMaxRepeat = 100000;  // Oniguruma's limit
constexpr uint32_t kUnbounded = UINT32_MAX;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses `count` hex digits (or, when count is 0, digits up to '}').
bool ParseHex(std::string_view s, size_t* i, size_t count, char32_t* out) {
  uint32_t v = 0;
  size_t n = 0;
  while (*i < s.size() && (count == 0 || n < count)) {
    const int h = HexValue(s[*i]);
    if (h < 0) break;
    v = v * 16 + static_cast<uint32_t>(h);
    if (v > 0x10FFFF) return false;
    ++*i;
    ++n;
  }
  if (n == 0 || (count != 0 && n != count)) return false;
  if (v >= 0xD800 && v <= 0xDFFF) return false;
  *out = v;
  return true;
}

class Parser {
 public:
  explicit Parser(std::string_view re) : re_(re) {}

  // One character, literal or escaped; false with *why set on failure.
  bool Char(char32_t* cp, std::string* why) {
    if (i_ >= re_.size()) {
      *why = "unexpected end of pattern";
      return false;
    }
    if (re_[i_] != '\\') {
      int len;
      *cp = DecodeUtf8(re_.data() + i_, &len);
      i_ += len;
      return true;
    }
    if (++i_ >= re_.size()) {
      *why = "trailing backslash";
      return false;
    }
    const char e = re_[i_++];
    switch (e) {
      case 't':
        *cp = '\t';
        return true;
      case 'n':
        *cp = '\n';
        return true;
      case 'r':
        *cp = '\r';
        return true;
      case 'f':
        *cp = '\f';
        return true;
      case 'v':
        *cp = '\v';
        return true;
      case 'u':
        if (ParseHex(re_, &i_, 4, cp)) return true;
        *why = "bad \\u escape";
        return false;
      case 'x':
        if (i_ < re_.size() && re_[i_] == '{') {
          ++i_;
          if (ParseHex(re_, &i_, 0, cp) && i_ < re_.size() && re_[i_] == '}') {
            ++i_;
            return true;
          }
          *why = "bad \\x{...} escape";
          return false;
        }
        // Oniguruma reads \x80-\xFF as raw bytes, not code points.
        if (ParseHex(re_, &i_, 2, cp) && *cp < 0x80) return true;
        *why = "\\xHH escapes above \\x7F are raw bytes in Oniguruma";
        return false;
      default:
        if (static_cast<unsigned char>(e) < 0x80 &&
            !((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
              (e >= 'A' && e <= 'Z'))) {
          *cp = static_cast<unsigned char>(e);
          return true;
        }
        *why = std::string("escape \\") + e + " is not supported";
        return false;
    }
  }

  bool Class(std::vector<std::pair<char32_t, char32_t>>* ranges, bool* negated,
             std::string* why) {
    ++i_;  // '['
    if (i_ < re_.size() && re_[i_] == '^') {
      *negated = true;
      ++i_;
    }
    if (i_ < re_.size() && re_[i_] == ']') {
      *why = "empty or ']'-leading class";
      return false;
    }
    while (i_ < re_.size() && re_[i_] != ']') {
      if (re_[i_] == '[' || re_.substr(i_, 2) == "&&") {
        *why = "nested classes and intersections are not supported";
        return false;
      }
      char32_t lo, hi;
      if (!Char(&lo, why)) return false;
      hi = lo;
      if (i_ + 1 < re_.size() && re_[i_] == '-' && re_[i_ + 1] != ']') {
        ++i_;
        if (!Char(&hi, why)) return false;
        if (hi < lo) {
          *why = "reversed range in class";
          return false;
        }
      }
      ranges->emplace_back(lo, hi);
    }
    if (i_ >= re_.size()) {
      *why = "unterminated class";
      return false;
    }
    ++i_;  // ']'
    return true;
  }

  bool Number(uint32_t* v) {
    size_t n = 0;
    uint64_t x = 0;
    while (i_ < re_.size() && re_[i_] >= '0' && re_[i_] <= '9') {
      x = x * 10 + static_cast<uint64_t>(re_[i_++] - '0');
      if (x > kMaxRepeat) return false;
      ++n;
    }
    *v = static_cast<uint32_t>(x);
    return n > 0;
  }

  bool Quantifier(uint32_t* min, uint32_t* max, std::string* why) {
    if (i_ >= re_.size()) return true;  // exactly once
    const char q = re_[i_++];
    if (q == '+') {
      *min = 1;
      *max = kUnbounded;
    } else if (q == '{') {
      if (!Number(min)) {
        *why = "bad {n,m} quantifier";
        return false;
      }
      *max = *min;
      if (i_ < re_.size() && re_[i_] == ',') {
        ++i_;
        *max = kUnbounded;
        if (i_ < re_.size() && re_[i_] != '}' && !Number(max)) {
          *why = "bad {n,m} quantifier";
          return false;
        }
      }
      if (i_ >= re_.size() || re_[i_] != '}' || *max < *min) {
        *why = "bad {n,m} quantifier";
        return false;
      }
      ++i_;
    } else {
      *why = std::string("quantifier '") + q + "' is not supported";
      return false;
    }
    if (*min == 0) {
      *why = "patterns that match the empty string are not supported";
      return false;
    }
    return true;
  }

  bool AtEnd() const { return i_ >= re_.size(); }
  char Peek() const { return re_[i_]; }

 private:
  std::string_view re_;
  size_t i_ = 0;
};

}  // namespace

ReplacePattern ReplacePattern::Literal(std::string literal) {
  ReplacePattern p;
  p.literal_ = std::move(literal);
  return p;
}

Result<ReplacePattern> ReplacePattern::FromRegex(std::string_view regex) {
  const auto fail = [&](const std::string& why) {
    return InvalidArgumentError("unsupported regex \"" + std::string(regex) +
                                "\": " + why);
  };
  if (regex.empty()) return fail("empty pattern");
  if (FindInvalidUtf8(regex) != kValidUtf8) return fail("invalid UTF-8");
  if (regex.find_first_of(kMetacharacters) == std::string_view::npos) {
    return Literal(std::string(regex));
  }
  ReplacePattern p;
  Parser parser(regex);
  std::string why;
  if (parser.Peek() == '[') {
    if (!parser.Class(&p.ranges_, &p.negated_, &why)) return fail(why);
  } else if (kMetacharacters.find(parser.Peek()) != std::string_view::npos &&
             parser.Peek() != '\\') {
    return fail(std::string("metacharacter '") + parser.Peek() +
                "' is not supported here");
  } else {
    char32_t cp;
    if (!parser.Char(&cp, &why)) return fail(why);
    p.ranges_.emplace_back(cp, cp);
  }
  if (!parser.Quantifier(&p.min_, &p.max_, &why)) return fail(why);
  if (!parser.AtEnd()) {
    return fail(
        "only one character or class with one quantifier is "
        "supported");
  }
  std::sort(p.ranges_.begin(), p.ranges_.end());
  for (char32_t c = 0; c < 128; ++c) p.ascii_[c] = p.ClassContains(c);
  p.any_non_ascii_ =
      p.negated_ || std::any_of(p.ranges_.begin(), p.ranges_.end(),
                                [](auto& r) { return r.second >= 0x80; });
  if (!p.any_non_ascii_ &&
      std::count(p.ascii_.begin(), p.ascii_.end(), true) == 1) {
    p.only_ascii_byte_ = static_cast<int>(
        std::find(p.ascii_.begin(), p.ascii_.end(), true) - p.ascii_.begin());
  }
  return p;
}

bool ReplacePattern::ClassContains(char32_t cp) const {
  bool in = false;
  for (const auto& [lo, hi] : ranges_) {
    if (cp >= lo && cp <= hi) {
      in = true;
      break;
    }
  }
  return in != negated_;
}

void ReplacePattern::FindMatches(
    std::string_view text, bool text_is_ascii,
    std::vector<std::pair<size_t, size_t>>* matches) const {
  if (!literal_.empty()) {
    for (size_t pos = text.find(literal_); pos != std::string_view::npos;
         pos = text.find(literal_, pos + literal_.size())) {
      matches->emplace_back(pos, pos + literal_.size());
    }
    return;
  }
  if (text_is_ascii &&
      std::none_of(ascii_.begin(), ascii_.end(), [](bool b) { return b; })) {
    return;
  }
  const size_t n = text.size();
  size_t p = 0;
  while (p < n) {
    // Skip to the next character that can start a match.
    if (only_ascii_byte_ >= 0) {
      const void* hit = std::memchr(text.data() + p, only_ascii_byte_, n - p);
      if (!hit) return;
      p = static_cast<const char*>(hit) - text.data();
    } else {
      while (p < n && IsAsciiByte(text[p]) &&
             !ascii_[static_cast<unsigned char>(text[p])]) {
        ++p;
      }
      if (p == n) return;
    }
    // Greedy run of matching characters at p.
    size_t q = p;
    uint32_t count = 0;
    int first_len = 1;
    while (q < n && count < max_) {
      int len = 1;
      const auto b = static_cast<unsigned char>(text[q]);
      bool in;
      if (b < 0x80) {
        in = ascii_[b];
      } else {
        const char32_t cp = DecodeUtf8(text.data() + q, &len);
        in = any_non_ascii_ && ClassContains(cp);
      }
      if (q == p) first_len = len;
      if (!in) break;
      q += len;
      ++count;
    }
    if (count >= min_) {
      matches->emplace_back(p, q);
      p = q;
    } else {
      // No match starts inside a run shorter than min_ either.
      p = q > p ? q : p + first_len;
    }
  }
}

}  // namespace fff::tok
