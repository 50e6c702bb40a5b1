// OpenFffCheckpointToRewrite, ReadFffLayerTensors, WriteRewrittenCheckpoint
// (src/model/checkpoint_rewrite.h).
#include "src/model/checkpoint_rewrite.h"

#include <fmt/format.h>

#include <filesystem>

#include "src/model/config.h"

namespace fff {

namespace fs = std::filesystem;

Result<FffCheckpointSource> OpenFffCheckpointToRewrite(
    const std::string& src_dir, const std::string& dst_dir,
    const std::string& what, const std::string& purpose) {
  std::error_code ec;
  if (fs::exists(dst_dir, ec) && fs::equivalent(src_dir, dst_dir, ec)) {
    return InvalidArgumentError(fmt::format(
        "{}: the output folder {} is the source model's folder; write "
        "elsewhere",
        what, dst_dir));
  }
  const std::string config_path = (fs::path(src_dir) / "config.json").string();
  FFF_ASSIGN_OR_RETURN(std::string config_text,
                       ReadTextFile(config_path, 16u << 20));
  FFF_ASSIGN_OR_RETURN(ModelConfig c,
                       ParseModelConfig(config_text, config_path));
  if (c.family != ModelFamily::kCrammedBert || c.ff_kind != FfKind::kFff) {
    return InvalidArgumentError(fmt::format("{}: {} is {} {}: {}", what,
                                            src_dir, ModelFamilyName(c.family),
                                            FfName(c), purpose));
  }
  const std::string weights_path =
      (fs::path(src_dir) / "model.safetensors").string();
  FFF_ASSIGN_OR_RETURN(SafetensorsReader reader,
                       SafetensorsReader::Open(weights_path));
  return FffCheckpointSource{std::move(config_text), c, weights_path,
                             std::move(reader)};
}

Result<FffLayerTensors> ReadFffLayerTensors(const SafetensorsReader& reader,
                                            const std::string& prefix,
                                            int64_t rows, int64_t d) {
  FffLayerTensors t;
  t.w_in.resize(static_cast<size_t>(rows * d));
  t.b_in.resize(static_cast<size_t>(rows));
  t.w_out.resize(static_cast<size_t>(d * rows));
  const int64_t in_shape[] = {rows, d};
  const int64_t b_shape[] = {rows};
  const int64_t out_shape[] = {d, rows};
  FFF_RETURN_IF_ERROR(
      reader.ReadF32(prefix + kFffLayerTensors[0], in_shape, t.w_in));
  FFF_RETURN_IF_ERROR(
      reader.ReadF32(prefix + kFffLayerTensors[1], b_shape, t.b_in));
  FFF_RETURN_IF_ERROR(
      reader.ReadF32(prefix + kFffLayerTensors[2], out_shape, t.w_out));
  for (const char* name : kFffLayerTensors) {
    t.source_bytes +=
        static_cast<int64_t>(reader.Find(prefix + name)->size_bytes);
  }
  return t;
}

Result<int64_t> WriteRewrittenCheckpoint(
    const std::string& src_dir, const std::string& dst_dir,
    const std::string& what, std::span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata, uint64_t data_alignment,
    std::initializer_list<const char*> files) {
  std::error_code ec;
  fs::create_directories(dst_dir, ec);
  if (ec) {
    return NotFoundError(
        fmt::format("{}: cannot create {}: {}", what, dst_dir, ec.message()));
  }
  const std::string dst_path =
      (fs::path(dst_dir) / "model.safetensors").string();
  FFF_RETURN_IF_ERROR(
      WriteSafetensors(dst_path, tensors, metadata, data_alignment));
  for (const char* f : files) {
    const fs::path from = fs::path(src_dir) / f;
    if (!fs::exists(from, ec)) continue;
    fs::copy_file(from, fs::path(dst_dir) / f,
                  fs::copy_options::overwrite_existing, ec);
    if (ec) {
      return NotFoundError(
          fmt::format("{}: copying {}: {}", what, from.string(), ec.message()));
    }
  }
  return static_cast<int64_t>(fs::file_size(dst_path, ec));
}

}  // namespace fff
