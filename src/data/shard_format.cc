#include "src/data/shard_format.h"

#include <bit>
#include <cstdio>
#include <cstring>

#include "fff/token_shards.h"

namespace fff::data {
namespace {

static_assert(std::endian::native == std::endian::little,
              "shards are little-endian; add byte swapping for this target");

uint32_t LoadU32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
uint64_t LoadU64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
void StoreU32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, sizeof(v)); }
void StoreU64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, sizeof(v)); }

std::string Printable(const uint8_t* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' && p[i] != '\\') {
      s += static_cast<char>(p[i]);
    } else {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02X", p[i]);
      s += hex;
    }
  }
  return s;
}

// `s` in double quotes (built by appending: GCC 12 warns falsely on
// "\"" + s + "\"").
std::string Quote(const std::string& s) {
  std::string q(1, '"');
  q += s;
  q += '"';
  return q;
}

Status Mismatch(const std::string& path, const char* field,
                const std::string& expected, const std::string& got) {
  return Status(StatusCode::kDataLoss, path + ": " + field + ": expected " +
                                           expected + ", got " + got);
}

// First id >= vocab_size, or -1.
template <class T>
int64_t FindBadId(const uint8_t* payload, uint64_t n, uint32_t vocab_size) {
  for (uint64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, payload + i * sizeof(T), sizeof(T));
    if (static_cast<uint64_t>(v) >= vocab_size) return static_cast<int64_t>(i);
  }
  return -1;
}

}  // namespace

uint64_t Fnv1a64(std::span<const uint8_t> bytes, uint64_t hash) {
  for (const uint8_t b : bytes) {
    hash ^= b;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

std::string HexU64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx",
                static_cast<unsigned long long>(v));
  return buf;
}

std::vector<uint8_t> EncodeShardHeader(const ShardHeader& h) {
  std::vector<uint8_t> out(kTokenShardHeaderBytes, 0);
  std::memcpy(out.data(), kTokenShardMagic, 8);
  StoreU32(&out[8], kTokenShardVersion);
  StoreU32(&out[12], kTokenShardHeaderBytes);
  StoreU32(&out[16], h.seq_len);
  StoreU32(&out[20], h.token_bytes);
  StoreU64(&out[24], h.n_sequences);
  StoreU32(&out[32], h.vocab_size);
  StoreU64(&out[40], h.checksum);
  return out;
}

Status ValidateShard(std::span<const uint8_t> file, const std::string& path,
                     const ShardExpectation& e) {
  const auto num = [](uint64_t v) { return std::to_string(v); };
  if (file.size() < kTokenShardHeaderBytes) {
    return Mismatch(
        path, "file size",
        "at least " + num(kTokenShardHeaderBytes) + " bytes (the header)",
        num(file.size()) + " bytes");
  }
  const uint8_t* p = file.data();
  if (std::memcmp(p, kTokenShardMagic, 8) != 0) {
    return Mismatch(path, "magic", Quote(std::string(kTokenShardMagic, 8)),
                    Quote(Printable(p, 8)));
  }
  if (LoadU32(p + 8) != kTokenShardVersion) {
    return Mismatch(path, "format version", num(kTokenShardVersion),
                    num(LoadU32(p + 8)));
  }
  if (LoadU32(p + 12) != kTokenShardHeaderBytes) {
    return Mismatch(path, "header bytes", num(kTokenShardHeaderBytes),
                    num(LoadU32(p + 12)));
  }
  const struct {
    const char* name;
    uint64_t got, expected;
  } fields[] = {
      {"seq_len", LoadU32(p + 16), e.seq_len},
      {"token bytes", LoadU32(p + 20), e.token_bytes},
      {"n_sequences", LoadU64(p + 24), e.n_sequences},
      {"vocab_size", LoadU32(p + 32), e.vocab_size},
      {"reserved bytes 36..39", LoadU32(p + 36), 0},
      {"reserved bytes 48..55", LoadU64(p + 48), 0},
      {"reserved bytes 56..63", LoadU64(p + 56), 0},
  };
  for (const auto& f : fields) {
    if (f.got != f.expected) {
      return Mismatch(path, f.name, num(f.expected) + " (manifest.json)",
                      num(f.got));
    }
  }
  uint64_t n_tokens = 0, payload_bytes = 0;
  const bool overflow =
      __builtin_mul_overflow(e.n_sequences, e.seq_len, &n_tokens) ||
      __builtin_mul_overflow(n_tokens, e.token_bytes, &payload_bytes) ||
      payload_bytes > UINT64_MAX - kTokenShardHeaderBytes;
  if (overflow || file.size() - kTokenShardHeaderBytes != payload_bytes) {
    return Mismatch(path, "file size",
                    num(kTokenShardHeaderBytes + payload_bytes) + " bytes (" +
                        num(kTokenShardHeaderBytes) + "-byte header + " +
                        num(e.n_sequences) + " sequences x " + num(e.seq_len) +
                        " tokens x " + num(e.token_bytes) + " bytes)",
                    num(file.size()) + " bytes");
  }
  const uint64_t header_checksum = LoadU64(p + 40);
  if (header_checksum != e.checksum) {
    return Mismatch(path, "checksum in the header",
                    HexU64(e.checksum) + " (manifest.json)",
                    HexU64(header_checksum));
  }
  const uint8_t* payload = p + kTokenShardHeaderBytes;
  const uint64_t actual = Fnv1a64({payload, payload_bytes});
  if (actual != header_checksum) {
    return Mismatch(path, "payload checksum (FNV-1a 64)",
                    HexU64(header_checksum) + " (header)", HexU64(actual));
  }
  const int64_t bad =
      e.token_bytes == 2 ? FindBadId<uint16_t>(payload, n_tokens, e.vocab_size)
                         : FindBadId<uint32_t>(payload, n_tokens, e.vocab_size);
  if (bad >= 0) {
    const auto i = static_cast<uint64_t>(bad);
    uint32_t id = 0;
    std::memcpy(&id, payload + i * e.token_bytes, e.token_bytes);
    return Status(StatusCode::kDataLoss,
                  path + ": token " + num(i) + " (sequence " +
                      num(i / e.seq_len) + ", position " + num(i % e.seq_len) +
                      "): id " + num(id) + ": expected < vocab_size " +
                      num(e.vocab_size));
  }
  return Status::Ok();
}

}  // namespace fff::data
