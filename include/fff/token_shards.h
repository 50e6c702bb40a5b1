// Packed token shards: the MLM pretraining corpus tokenised once into
// fixed-length sequences (shared/design/ultrafastbert-spec.md section 5:
// sequences of seq_len tokens, `<sep>` between documents, no `<cls>`).
//
// Input: raw text in the shared/data corpus format (UTF-8, one paragraph per
// line, documents separated by one empty line; files ending in ".xz" are
// decompressed by running `xz -dc`). Each paragraph is encoded with
// Encode(add_special_tokens = false); the tokenizer's sep token follows each
// document (also at the end of every input file); the stream, all inputs in
// order, is cut into consecutive sequences of seq_len tokens (a final partial
// sequence is dropped), written as shards of at most sequences_per_shard
// sequences.
//
// Output directory:
//   shard-000000.bin, shard-000001.bin, ...  the shards, in stream order
//   manifest.json   tokenizer (path, size, FNV-1a 64 of the file), seq_len,
//                   sequences_per_shard, vocab_size, sep_id, dtype, the
//                   inputs (path, size), and per completed shard its file
//                   name, n_sequences, checksum and the stream state after
//                   it ("next": input index, byte offset of the next line,
//                   whether a document is open, the tokens carried over into
//                   the next shard); "complete" once all input is done.
// Every file is written atomically (tmp + fsync + rename), the manifest after
// each shard, so an interrupted run leaves a consistent directory. Running
// the same command again resumes: listed shards are verified (size, header,
// checksum) and kept, the run restarts from the state after the last good
// one, and the result is byte-identical to an uninterrupted run.
//
// Shard file format (all integers little-endian):
//   offset size  field
//        0    8  magic "FFFSHRD1"
//        8    4  format version (1)
//       12    4  header bytes (64)
//       16    4  seq_len
//       20    4  token bytes: 2 (uint16, vocab_size <= 65536) or 4 (uint32)
//       24    8  n_sequences
//       32    4  vocab_size (every token id is < vocab_size)
//       36    4  reserved, 0
//       40    8  FNV-1a 64 of the payload bytes
//       48   16  reserved, 0
//       64       payload: n_sequences * seq_len tokens, sequence-major
// The file is exactly 64 + n_sequences * seq_len * token_bytes bytes.
#ifndef FFF_TOKEN_SHARDS_H_
#define FFF_TOKEN_SHARDS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fff/status.h"

namespace fff {

inline constexpr char kTokenShardMagic[8] = {'F', 'F', 'F', 'S',
                                             'H', 'R', 'D', '1'};
inline constexpr uint32_t kTokenShardVersion = 1;
inline constexpr uint32_t kTokenShardHeaderBytes = 64;

struct TokenShardProgress {
  int64_t bytes_read = 0;    // text bytes consumed, all inputs (uncompressed)
  int64_t bytes_total = -1;  // text bytes of all inputs (-1: unknown)
  int32_t input_index = 0;   // the input being read
  int64_t n_shards = 0;      // completed shards, kept ones included
  int64_t n_sequences = 0;   // sequences in completed shards
};

struct TokenShardWriterOptions {
  int32_t seq_len = 128;                // tokens per sequence, >= 1
  int64_t sequences_per_shard = 16384;  // >= 1
  // Stop after this many shards are complete in the directory (0: no
  // limit); the run ends OK with complete = false and can be resumed.
  int64_t max_shards = 0;
  // Called after about every MiB of text and after each shard. Optional.
  std::function<void(const TokenShardProgress&)> progress;
  // Polled with progress; returning true stops like max_shards (the shard
  // being filled is lost, the completed ones stay). Optional.
  std::function<bool()> should_stop;
};

struct TokenShardWriteResult {
  bool complete = false;         // all input is in shards
  int64_t n_shards = 0;          // completed shards in the directory
  int64_t n_sequences = 0;       // sequences in them
  int64_t n_shards_kept = 0;     // verified from an earlier run, not rewritten
  int64_t bytes_read = 0;        // text bytes read by this run (skips included)
  int64_t n_tokens_dropped = 0;  // the final partial sequence (when complete)
};

// Tokenises `inputs` with the tokenizer.json at `tokenizer_path` into shards
// in `out_dir` (created if missing). Errors name the file and what is wrong:
// an unreadable input or a failing `xz` (NotFound / DataLoss), invalid UTF-8
// (InvalidArgument: file, line, byte offset), a manifest written for other
// inputs, tokenizer or options (FailedPrecondition, naming the field,
// expected vs got: use another directory), bad options (InvalidArgument).
// The tokenizer must have a sep token. Never prints.
Result<TokenShardWriteResult> WriteTokenShards(
    const std::string& tokenizer_path, const std::vector<std::string>& inputs,
    const std::string& out_dir, const TokenShardWriterOptions& options = {});

// The completed shards of a directory WriteTokenShards wrote, memory-mapped.
// Immutable after Open; const methods are thread-safe. Movable.
class TokenShardSet {
 public:
  // Maps every shard manifest.json lists and validates it: header fields
  // (magic, version, seq_len, token bytes, n_sequences, vocab_size against
  // the manifest), exact file size, payload checksum (header and manifest),
  // and every id < vocab_size. Errors (DataLoss, NotFound for a missing
  // file) name the file and the field with expected vs got. An incomplete
  // run's shards can be opened too (see complete()).
  static Result<TokenShardSet> Open(const std::string& dir);

  TokenShardSet(TokenShardSet&&) noexcept;
  TokenShardSet& operator=(TokenShardSet&&) noexcept;
  ~TokenShardSet();

  int64_t n_sequences() const;
  int32_t seq_len() const;
  int32_t vocab_size() const;
  int32_t sep_id() const;
  size_t n_shards() const;
  bool complete() const;  // the manifest says all input is in shards

  // Copies sequence i (0 <= i < n_sequences(), in stream order) to
  // out[0, seq_len()). Preconditions are checked (FFF_CHECK).
  void CopySequence(int64_t i, int32_t* out) const;

 private:
  struct Impl;
  explicit TokenShardSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_TOKEN_SHARDS_H_
