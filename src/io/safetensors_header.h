// The JSON header of a safetensors file, parsed against its schema in one
// streaming (SAX) pass: memory stays proportional to the tensors described,
// whatever the input, and the first problem stops the parse.
#ifndef FFF_SRC_IO_SAFETENSORS_HEADER_H_
#define FFF_SRC_IO_SAFETENSORS_HEADER_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fff/safetensors.h"
#include "fff/status.h"

namespace fff::internal {

// Rank above which a shape is rejected (OutOfRange); no real tensor has more
// dimensions, and the bound keeps hostile headers and messages small.
inline constexpr size_t kMaxRank = 64;

// One tensor entry as written: the syntax and types are checked, the numbers
// are not yet checked against each other or the data section.
struct HeaderEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // each dim in [0, INT64_MAX]
  uint64_t begin = 0;          // data_offsets[0]
  uint64_t end = 0;            // data_offsets[1]
};

struct Header {
  std::vector<HeaderEntry> entries;  // in header order
  std::map<std::string, std::string> metadata;
};

// Parses `json` (the header bytes, without the length field). The header
// must be a JSON object starting with '{' (trailing whitespace is allowed),
// mapping unique tensor names to objects with exactly the fields "dtype" (a
// known dtype name), "shape" (an array of at most kMaxRank integers >= 0) and
// "data_offsets" (an array of two integers >= 0), plus an optional
// "__metadata__" object of unique string keys to string values. Errors are
// DataLoss (OutOfRange for a rank over kMaxRank), start with "`file`: " and
// name the tensor and field at fault.
Result<Header> ParseHeader(std::string_view json, const std::string& file);

}  // namespace fff::internal

#endif  // FFF_SRC_IO_SAFETENSORS_HEADER_H_
