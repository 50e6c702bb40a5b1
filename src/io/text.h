// Text helpers for messages built from hostile strings.
#ifndef FFF_SRC_IO_TEXT_H_
#define FFF_SRC_IO_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace fff::internal {

// True when `s` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) — what a JSON string may hold.
bool IsValidUtf8(std::string_view s);

// `s` made safe to embed in an error message: valid UTF-8 and printable
// characters kept; `"` and `\` escaped; control characters, DEL and bytes
// that are not valid UTF-8 written as \xNN; cut on a character boundary after
// at most `max_bytes` input bytes, with "..." appended. The result is always
// valid UTF-8 (messages may end up in JSON responses).
std::string Escaped(std::string_view s, size_t max_bytes = 200);

// Escaped(s) in double quotes: `tensor "a.b"`.
std::string Quoted(std::string_view s);

}  // namespace fff::internal

#endif  // FFF_SRC_IO_TEXT_H_
