// manifest.json of a token shard directory (include/fff/token_shards.h):
// the struct and its JSON form.
#ifndef FFF_SRC_DATA_MANIFEST_H_
#define FFF_SRC_DATA_MANIFEST_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fff/status.h"

namespace fff::data {

// Where the token stream stands: the next line to read is at byte `offset`
// of input `input` (== the number of inputs at the end); `in_document`: a
// document has begun and its <sep> is still due; `carry`: tokens produced
// but not yet in a shard.
struct StreamState {
  int32_t input = 0;
  int64_t offset = 0;
  bool in_document = false;
  std::vector<int32_t> carry;
  bool operator==(const StreamState&) const = default;
};

struct ShardEntry {
  std::string file;  // name inside the directory
  int64_t n_sequences = 0;
  uint64_t checksum = 0;
  StreamState next;  // the state after this shard
};

struct InputEntry {
  std::string path;
  int64_t bytes = 0;  // file size on disk
};

struct Manifest {
  std::string tokenizer_path;
  int64_t tokenizer_bytes = 0;
  uint64_t tokenizer_fnv1a64 = 0;
  int32_t vocab_size = 0;
  int32_t sep_id = -1;
  uint32_t token_bytes = 0;
  int32_t seq_len = 0;
  int64_t sequences_per_shard = 0;
  std::vector<InputEntry> inputs;
  std::vector<ShardEntry> shards;
  bool complete = false;
  int64_t n_tokens_dropped = 0;
};

inline constexpr const char* kManifestName = "manifest.json";

std::string ManifestToJson(const Manifest& m);
// DataLoss errors name `source` and the JSON field.
Result<Manifest> ParseManifest(std::string_view json,
                               const std::string& source);

}  // namespace fff::data

#endif  // FFF_SRC_DATA_MANIFEST_H_
