// The token shard file format (include/fff/token_shards.h): header encoding,
// the payload checksum and the validation shared by the writer (verifying
// an earlier run's shards) and TokenShardSet.
#ifndef FFF_SRC_DATA_SHARD_FORMAT_H_
#define FFF_SRC_DATA_SHARD_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fff/status.h"

namespace fff::data {

// FNV-1a 64 of `bytes`, continuing from `hash` (start: kFnvOffsetBasis).
inline constexpr uint64_t kFnvOffsetBasis = 0xcbf29ce484222325ull;
uint64_t Fnv1a64(std::span<const uint8_t> bytes,
                 uint64_t hash = kFnvOffsetBasis);

// "0x" and 16 lower-case hex digits.
std::string HexU64(uint64_t v);

struct ShardHeader {
  uint32_t seq_len = 0;
  uint32_t token_bytes = 0;  // 2 or 4
  uint64_t n_sequences = 0;
  uint32_t vocab_size = 0;
  uint64_t checksum = 0;  // FNV-1a 64 of the payload
};

// The 64 header bytes.
std::vector<uint8_t> EncodeShardHeader(const ShardHeader& h);

// What a shard must hold (from the manifest).
struct ShardExpectation {
  uint32_t seq_len = 0;
  uint32_t token_bytes = 0;
  uint64_t n_sequences = 0;
  uint32_t vocab_size = 0;
  uint64_t checksum = 0;
};

// Validates a whole shard file's bytes: magic, version, header size,
// reserved fields, every header field against `e`, the exact file size, the
// payload checksum and every id < vocab_size. DataLoss errors name `path`
// and the field with expected vs got.
Status ValidateShard(std::span<const uint8_t> file, const std::string& path,
                     const ShardExpectation& e);

}  // namespace fff::data

#endif  // FFF_SRC_DATA_SHARD_FORMAT_H_
