// TokenShardSet: the shards of a directory, memory-mapped and validated.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "fff/token_shards.h"
#include "src/base/check.h"
#include "src/data/manifest.h"
#include "src/data/shard_format.h"
#include "src/io/mapped_file.h"

namespace fff {

struct TokenShardSet::Impl {
  data::Manifest manifest;
  std::vector<internal::MappedFile> files;
  std::vector<const uint8_t*> payloads;  // per shard, after the header
  std::vector<int64_t> first;  // per shard: index of its first sequence
  int64_t n_sequences = 0;
};

TokenShardSet::TokenShardSet(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
TokenShardSet::TokenShardSet(TokenShardSet&&) noexcept = default;
TokenShardSet& TokenShardSet::operator=(TokenShardSet&&) noexcept = default;
TokenShardSet::~TokenShardSet() = default;

Result<TokenShardSet> TokenShardSet::Open(const std::string& dir) {
  const std::string manifest_path = dir + "/" + data::kManifestName;
  FFF_ASSIGN_OR_RETURN(internal::MappedFile manifest_file,
                       internal::MappedFile::Open(manifest_path));
  const auto text = manifest_file.bytes();
  FFF_ASSIGN_OR_RETURN(
      data::Manifest m,
      data::ParseManifest(
          std::string_view(reinterpret_cast<const char*>(text.data()),
                           text.size()),
          manifest_path));
  if (m.sep_id >= m.vocab_size) {
    return Status(StatusCode::kDataLoss,
                  manifest_path + ": sep_id: expected < vocab_size " +
                      std::to_string(m.vocab_size) + ", got " +
                      std::to_string(m.sep_id));
  }
  const uint32_t token_bytes = m.vocab_size <= 65536 ? 2 : 4;
  if (m.token_bytes != token_bytes) {
    return Status(StatusCode::kDataLoss,
                  manifest_path + ": dtype: expected " +
                      (token_bytes == 2 ? "uint16" : "uint32") +
                      " for vocab_size " + std::to_string(m.vocab_size) +
                      ", got " + (m.token_bytes == 2 ? "uint16" : "uint32"));
  }
  auto impl = std::make_unique<Impl>();
  for (const data::ShardEntry& e : m.shards) {
    const std::string path = dir + "/" + e.file;
    FFF_ASSIGN_OR_RETURN(internal::MappedFile file,
                         internal::MappedFile::Open(path));
    data::ShardExpectation x;
    x.seq_len = static_cast<uint32_t>(m.seq_len);
    x.token_bytes = m.token_bytes;
    x.n_sequences = static_cast<uint64_t>(e.n_sequences);
    x.vocab_size = static_cast<uint32_t>(m.vocab_size);
    x.checksum = e.checksum;
    FFF_RETURN_IF_ERROR(data::ValidateShard(file.bytes(), path, x));
    impl->payloads.push_back(file.bytes().data() + kTokenShardHeaderBytes);
    impl->first.push_back(impl->n_sequences);
    impl->n_sequences += e.n_sequences;
    impl->files.push_back(std::move(file));
  }
  impl->manifest = std::move(m);
  return TokenShardSet(std::move(impl));
}

int64_t TokenShardSet::n_sequences() const { return impl_->n_sequences; }
int32_t TokenShardSet::seq_len() const { return impl_->manifest.seq_len; }
int32_t TokenShardSet::vocab_size() const { return impl_->manifest.vocab_size; }
int32_t TokenShardSet::sep_id() const { return impl_->manifest.sep_id; }
size_t TokenShardSet::n_shards() const { return impl_->files.size(); }
bool TokenShardSet::complete() const { return impl_->manifest.complete; }

void TokenShardSet::CopySequence(int64_t i, int32_t* out) const {
  const Impl& s = *impl_;
  FFF_CHECK(i >= 0 && i < s.n_sequences && out != nullptr);
  // The last shard whose first sequence is <= i (empty shards are skipped).
  const size_t shard =
      static_cast<size_t>(std::upper_bound(s.first.begin(), s.first.end(), i) -
                          s.first.begin()) -
      1;
  const auto seq_len = static_cast<size_t>(s.manifest.seq_len);
  const size_t local = static_cast<size_t>(i - s.first[shard]);
  const uint8_t* p =
      s.payloads[shard] + local * seq_len * s.manifest.token_bytes;
  if (s.manifest.token_bytes == 2) {
    for (size_t k = 0; k < seq_len; ++k) {
      uint16_t v;
      std::memcpy(&v, p + 2 * k, 2);
      out[k] = v;
    }
  } else {
    std::memcpy(out, p, seq_len * 4);
  }
}

}  // namespace fff
