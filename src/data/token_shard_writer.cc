// WriteTokenShards: text -> tokens -> fixed-length sequences -> shards,
// resumable from the manifest (include/fff/token_shards.h).
//
// The writer is one state machine over the token stream. Its state between
// two lines (StreamState: input, byte offset, open document, tokens not yet
// in a shard) is saved with each completed shard, so a later run restarts
// from exactly the point the shard ended and produces the same bytes.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <system_error>
#include <vector>

#include "fff/token_shards.h"
#include "fff/tokenizer.h"
#include "src/data/manifest.h"
#include "src/data/shard_format.h"
#include "src/data/text_input.h"
#include "src/io/atomic_file.h"
#include "src/io/mapped_file.h"

namespace fff {
namespace {

using data::InputEntry;
using data::Manifest;
using data::ShardEntry;
using data::StreamState;

constexpr int64_t kProgressBytes = int64_t{1} << 20;

std::string ShardName(size_t index) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "shard-%06zu.bin", index);
  return buf;
}

Status FailedPrecondition(const std::string& m) {
  return Status(StatusCode::kFailedPrecondition, m);
}

// The first difference between the directory's manifest and this run's
// settings, as an error; OK when they match.
Status CompareSettings(const Manifest& old, const Manifest& now,
                       const std::string& manifest_path) {
  const auto differ = [&](const std::string& field, const std::string& want,
                          const std::string& got) {
    return FailedPrecondition(
        manifest_path + ": " + field + ": this run has " + want +
        ", the directory was written with " + got +
        "; use another output directory (or the same tokenizer, inputs and "
        "options) to resume");
  };
  const auto num = [](int64_t v) { return std::to_string(v); };
  if (old.tokenizer_fnv1a64 != now.tokenizer_fnv1a64 ||
      old.tokenizer_bytes != now.tokenizer_bytes) {
    return differ(
        "tokenizer",
        now.tokenizer_path + " (" + num(now.tokenizer_bytes) +
            " bytes, FNV-1a " + data::HexU64(now.tokenizer_fnv1a64) + ")",
        old.tokenizer_path + " (" + num(old.tokenizer_bytes) +
            " bytes, FNV-1a " + data::HexU64(old.tokenizer_fnv1a64) + ")");
  }
  const struct {
    const char* name;
    int64_t now, old;
  } fields[] = {
      {"vocab_size", now.vocab_size, old.vocab_size},
      {"sep_id", now.sep_id, old.sep_id},
      {"token bytes (dtype)", now.token_bytes, old.token_bytes},
      {"seq_len", now.seq_len, old.seq_len},
      {"sequences_per_shard", now.sequences_per_shard, old.sequences_per_shard},
      {"number of inputs", static_cast<int64_t>(now.inputs.size()),
       static_cast<int64_t>(old.inputs.size())},
  };
  for (const auto& f : fields) {
    if (f.now != f.old) return differ(f.name, num(f.now), num(f.old));
  }
  for (size_t i = 0; i < now.inputs.size(); ++i) {
    const InputEntry& a = now.inputs[i];
    const InputEntry& b = old.inputs[i];
    if (a.path != b.path || a.bytes != b.bytes) {
      return differ("inputs[" + std::to_string(i) + "]",
                    "\"" + a.path + "\" (" + num(a.bytes) + " bytes)",
                    "\"" + b.path + "\" (" + num(b.bytes) + " bytes)");
    }
  }
  return Status::Ok();
}

// A listed shard is kept when its file is intact and its saved state is
// plausible for these settings.
bool ShardIsGood(const std::string& dir, const Manifest& m,
                 const ShardEntry& e) {
  if (e.n_sequences < 1 || e.n_sequences > m.sequences_per_shard) return false;
  if (e.next.input < 0 || static_cast<size_t>(e.next.input) > m.inputs.size()) {
    return false;
  }
  for (int32_t id : e.next.carry) {
    if (id >= m.vocab_size) return false;
  }
  auto file = internal::MappedFile::Open(dir + "/" + e.file);
  if (!file.ok()) return false;
  data::ShardExpectation x;
  x.seq_len = static_cast<uint32_t>(m.seq_len);
  x.token_bytes = m.token_bytes;
  x.n_sequences = static_cast<uint64_t>(e.n_sequences);
  x.vocab_size = static_cast<uint32_t>(m.vocab_size);
  x.checksum = e.checksum;
  return data::ValidateShard(file->bytes(), e.file, x).ok();
}

class Writer {
 public:
  Writer(const Tokenizer& tokenizer, Manifest manifest, std::string dir,
         const TokenShardWriterOptions& options,
         std::vector<int64_t> text_sizes)
      : tok_(tokenizer),
        m_(std::move(manifest)),
        dir_(std::move(dir)),
        o_(options),
        text_sizes_(std::move(text_sizes)) {}

  Result<TokenShardWriteResult> Run(int64_t n_kept) {
    result_.n_shards_kept = n_kept;
    for (const ShardEntry& e : m_.shards) result_.n_sequences += e.n_sequences;
    result_.n_shards = static_cast<int64_t>(m_.shards.size());
    if (m_.complete) {
      result_.complete = true;
      result_.n_tokens_dropped = m_.n_tokens_dropped;
      return result_;
    }
    if (StopForMaxShards()) return result_;
    FFF_RETURN_IF_ERROR(WriteManifest());
    StreamState state =
        m_.shards.empty() ? StreamState{} : m_.shards.back().next;
    pending_ = std::move(state.carry);
    shard_.reserve(static_cast<size_t>(m_.sequences_per_shard * m_.seq_len));
    const int32_t n_inputs = static_cast<int32_t>(m_.inputs.size());
    for (int32_t i = 0; i < state.input && i < n_inputs; ++i) {
      done_bytes_ += std::max<int64_t>(text_sizes_[i], 0);
    }
    for (int32_t i = state.input; i < n_inputs && !stop_; ++i) {
      const bool resume_here = i == state.input;
      FFF_RETURN_IF_ERROR(ReadInput(i, resume_here ? state.offset : 0,
                                    resume_here && state.in_document));
    }
    if (stop_) return result_;
    // End of all input: the last, partial shard; the rest of the tokens is
    // less than one sequence and dropped.
    StreamState end;
    end.input = n_inputs;
    if (n_in_shard_ > 0) {
      FFF_RETURN_IF_ERROR(WriteShard(end));
    }
    m_.complete = true;
    m_.n_tokens_dropped = static_cast<int64_t>(pending_.size() - pos_);
    FFF_RETURN_IF_ERROR(WriteManifest());
    result_.complete = true;
    result_.n_tokens_dropped = m_.n_tokens_dropped;
    Progress();
    return result_;
  }

 private:
  Status ReadInput(int32_t index, int64_t start_offset, bool in_document) {
    const std::string& path = m_.inputs[index].path;
    FFF_ASSIGN_OR_RETURN(auto input, data::TextInput::Open(path));
    input_index_ = index;
    input_ = input.get();
    int64_t line_no = 0;
    std::string line;
    // Resuming: skip the lines already in shards.
    while (input->offset() < start_offset) {
      FFF_ASSIGN_OR_RETURN(const bool more, input->ReadLine(&line));
      ++line_no;
      if (!more || input->offset() > start_offset) {
        input_ = nullptr;
        return FailedPrecondition(
            path + ": the resume point, byte " + std::to_string(start_offset) +
            " (manifest.json), is not the start of a line of this file; it "
            "changed since the shards were written");
      }
    }
    result_.bytes_read += input->offset();
    EncodeOptions no_special;
    no_special.add_special_tokens = false;
    int64_t last_progress = input->offset();
    for (;;) {
      const int64_t line_offset = input->offset();
      FFF_ASSIGN_OR_RETURN(const bool more, input->ReadLine(&line));
      if (!more) break;
      ++line_no;
      if (line.empty()) {
        if (in_document) pending_.push_back(m_.sep_id);
        in_document = false;
      } else {
        auto enc = tok_.Encode(line, no_special);
        if (!enc.ok()) {
          input_ = nullptr;
          return Status(enc.status().code(),
                        path + ": line " + std::to_string(line_no) +
                            " (text byte " + std::to_string(line_offset) +
                            "): " + enc.status().message());
        }
        pending_.insert(pending_.end(), enc->ids.begin(), enc->ids.end());
        in_document = true;
      }
      result_.bytes_read += input->offset() - line_offset;
      FFF_RETURN_IF_ERROR(Cut({index, input->offset(), in_document, {}}));
      if (stop_) break;
      if (input->offset() - last_progress >= kProgressBytes) {
        last_progress = input->offset();
        Progress();
        if (o_.should_stop && o_.should_stop()) stop_ = true;
        if (stop_) break;
      }
    }
    input_ = nullptr;
    if (stop_) return Status::Ok();  // the reader stops xz on destruction
    FFF_RETURN_IF_ERROR(input->Finish());
    done_bytes_ +=
        text_sizes_[index] >= 0 ? text_sizes_[index] : input->offset();
    // The end of a file ends its last document.
    if (in_document) pending_.push_back(m_.sep_id);
    return Cut({index + 1, 0, false, {}});
  }

  // Moves every complete sequence of pending tokens into the shard, writing
  // the shard whenever it is full; `after` is the stream state after the
  // tokens produced so far.
  Status Cut(StreamState after) {
    const auto seq_len = static_cast<size_t>(m_.seq_len);
    while (pending_.size() - pos_ >= seq_len) {
      shard_.insert(shard_.end(), pending_.begin() + pos_,
                    pending_.begin() + pos_ + seq_len);
      pos_ += seq_len;
      if (++n_in_shard_ == m_.sequences_per_shard) {
        after.carry.assign(pending_.begin() + pos_, pending_.end());
        FFF_RETURN_IF_ERROR(WriteShard(after));
        Progress();
        if (StopForMaxShards() || (o_.should_stop && o_.should_stop())) {
          stop_ = true;
          return Status::Ok();
        }
      }
    }
    if (pos_ == pending_.size()) {
      pending_.clear();
      pos_ = 0;
    } else if (pos_ >= (size_t{1} << 16)) {
      pending_.erase(pending_.begin(), pending_.begin() + pos_);
      pos_ = 0;
    }
    return Status::Ok();
  }

  Status WriteShard(StreamState next) {
    const size_t n_tokens = shard_.size();
    std::vector<uint8_t> payload(n_tokens * m_.token_bytes);
    if (m_.token_bytes == 2) {
      for (size_t i = 0; i < n_tokens; ++i) {
        const auto v = static_cast<uint16_t>(shard_[i]);
        std::memcpy(&payload[2 * i], &v, 2);
      }
    } else {
      std::memcpy(payload.data(), shard_.data(), n_tokens * 4);
    }
    ShardEntry e;
    e.file = ShardName(m_.shards.size());
    e.n_sequences = n_in_shard_;
    e.checksum = data::Fnv1a64(payload);
    e.next = std::move(next);
    data::ShardHeader h;
    h.seq_len = static_cast<uint32_t>(m_.seq_len);
    h.token_bytes = m_.token_bytes;
    h.n_sequences = static_cast<uint64_t>(n_in_shard_);
    h.vocab_size = static_cast<uint32_t>(m_.vocab_size);
    h.checksum = e.checksum;
    const std::vector<uint8_t> header = data::EncodeShardHeader(h);
    internal::AtomicFile file(dir_ + "/" + e.file);
    FFF_RETURN_IF_ERROR(file.Create());
    FFF_RETURN_IF_ERROR(file.Write(header.data(), header.size()));
    FFF_RETURN_IF_ERROR(file.Write(payload.data(), payload.size()));
    FFF_RETURN_IF_ERROR(file.Commit());
    m_.shards.push_back(std::move(e));
    result_.n_shards = static_cast<int64_t>(m_.shards.size());
    result_.n_sequences += n_in_shard_;
    shard_.clear();
    n_in_shard_ = 0;
    return WriteManifest();
  }

  Status WriteManifest() {
    return internal::WriteFileAtomically(dir_ + "/" + data::kManifestName,
                                         data::ManifestToJson(m_));
  }

  bool StopForMaxShards() const {
    return o_.max_shards > 0 &&
           static_cast<int64_t>(m_.shards.size()) >= o_.max_shards;
  }

  void Progress() {
    if (!o_.progress) return;
    TokenShardProgress p;
    p.bytes_read = done_bytes_ + (input_ ? input_->offset() : 0);
    p.bytes_total = 0;
    for (int64_t s : text_sizes_) {
      if (s < 0) {
        p.bytes_total = -1;
        break;
      }
      p.bytes_total += s;
    }
    p.input_index = input_index_;
    p.n_shards = static_cast<int64_t>(m_.shards.size());
    p.n_sequences = result_.n_sequences;
    o_.progress(p);
  }

  const Tokenizer& tok_;
  Manifest m_;
  std::string dir_;
  const TokenShardWriterOptions& o_;
  std::vector<int64_t> text_sizes_;  // per input, -1: unknown

  std::vector<int32_t> pending_;  // produced tokens; [pos_, end) not cut yet
  size_t pos_ = 0;
  std::vector<int32_t> shard_;  // the sequences of the shard being filled
  int64_t n_in_shard_ = 0;
  bool stop_ = false;
  int32_t input_index_ = 0;
  const data::TextInput* input_ = nullptr;  // the input being read
  int64_t done_bytes_ = 0;  // text bytes of the inputs before it
  TokenShardWriteResult result_;
};

}  // namespace

Result<TokenShardWriteResult> WriteTokenShards(
    const std::string& tokenizer_path, const std::vector<std::string>& inputs,
    const std::string& out_dir, const TokenShardWriterOptions& options) {
  const auto bad = [](const std::string& m) {
    return InvalidArgumentError("WriteTokenShards: " + m);
  };
  if (options.seq_len < 1) {
    return bad("seq_len: expected >= 1, got " +
               std::to_string(options.seq_len));
  }
  if (options.sequences_per_shard < 1 ||
      options.sequences_per_shard >
          std::numeric_limits<int32_t>::max() / options.seq_len) {
    return bad(
        "sequences_per_shard: expected in [1, " +
        std::to_string(std::numeric_limits<int32_t>::max() / options.seq_len) +
        "], got " + std::to_string(options.sequences_per_shard));
  }
  if (options.max_shards < 0) {
    return bad("max_shards: expected >= 0, got " +
               std::to_string(options.max_shards));
  }
  if (inputs.empty()) return bad("no input files");
  if (out_dir.empty()) return bad("empty output directory");

  FFF_ASSIGN_OR_RETURN(internal::MappedFile tokenizer_file,
                       internal::MappedFile::Open(tokenizer_path));
  const std::span<const uint8_t> tokenizer_bytes = tokenizer_file.bytes();
  FFF_ASSIGN_OR_RETURN(const Tokenizer tokenizer,
                       Tokenizer::FromTokenizerJsonString(
                           std::string_view(reinterpret_cast<const char*>(
                                                tokenizer_bytes.data()),
                                            tokenizer_bytes.size()),
                           tokenizer_path));
  if (tokenizer.special_ids().sep < 0) {
    return InvalidArgumentError(tokenizer_path +
                                ": no sep token (the post-processor's token "
                                "after $A), needed between documents");
  }

  Manifest now;
  now.tokenizer_path = tokenizer_path;
  now.tokenizer_bytes = static_cast<int64_t>(tokenizer_bytes.size());
  now.tokenizer_fnv1a64 = data::Fnv1a64(tokenizer_bytes);
  now.vocab_size = tokenizer.vocab_size();
  now.sep_id = tokenizer.special_ids().sep;
  now.token_bytes = now.vocab_size <= 65536 ? 2 : 4;
  now.seq_len = options.seq_len;
  now.sequences_per_shard = options.sequences_per_shard;
  std::vector<int64_t> text_sizes;
  for (const std::string& path : inputs) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) {
      return Status(ec == std::errc::no_such_file_or_directory
                        ? StatusCode::kNotFound
                        : StatusCode::kInvalidArgument,
                    path + ": cannot open: " + ec.message());
    }
    now.inputs.push_back({path, static_cast<int64_t>(size)});
    FFF_ASSIGN_OR_RETURN(const int64_t text_size, data::TextSize(path));
    text_sizes.push_back(text_size);
  }

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) {
    return Status(StatusCode::kFailedPrecondition,
                  out_dir + ": cannot create the directory: " + ec.message());
  }
  const std::string manifest_path = out_dir + "/" + data::kManifestName;
  int64_t n_kept = 0;
  if (std::filesystem::exists(manifest_path, ec)) {
    FFF_ASSIGN_OR_RETURN(internal::MappedFile file,
                         internal::MappedFile::Open(manifest_path));
    FFF_ASSIGN_OR_RETURN(
        Manifest old,
        data::ParseManifest(
            std::string_view(reinterpret_cast<const char*>(file.bytes().data()),
                             file.bytes().size()),
            manifest_path));
    FFF_RETURN_IF_ERROR(CompareSettings(old, now, manifest_path));
    // Keep the leading run of intact shards; the rest is written again.
    for (const ShardEntry& e : old.shards) {
      if (!ShardIsGood(out_dir, old, e)) break;
      now.shards.push_back(e);
    }
    n_kept = static_cast<int64_t>(now.shards.size());
    now.complete = old.complete && now.shards.size() == old.shards.size();
    now.n_tokens_dropped = now.complete ? old.n_tokens_dropped : 0;
  }
  Writer writer(tokenizer, std::move(now), out_dir, options,
                std::move(text_sizes));
  return writer.Run(n_kept);
}

}  // namespace fff
