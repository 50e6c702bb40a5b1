// WriteSafetensors: validates everything first, then writes `path`.tmp and
// renames it over `path`.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>

#include "fff/safetensors.h"
#include "src/io/atomic_file.h"
#include "src/io/text.h"

namespace fff {
namespace {

Status Invalid(const std::string& path, const std::string& message) {
  return InvalidArgumentError(path + ": " + message);
}

// Checks one tensor and returns its byte size.
Result<uint64_t> CheckTensor(const std::string& path, const TensorToWrite& t,
                             size_t i) {
  const std::string what = "tensor #" + std::to_string(i);
  if (t.name.empty()) return Invalid(path, what + " has an empty name");
  if (!internal::IsValidUtf8(t.name)) {
    return Invalid(path, what + " name " + internal::Quoted(t.name) +
                             " is not valid UTF-8");
  }
  const std::string tensor = "tensor " + internal::Quoted(t.name);
  if (t.name == "__metadata__") {
    return Invalid(path, tensor + ": the name is reserved for metadata");
  }
  const size_t elem_bytes = DTypeSize(t.dtype);
  if (elem_bytes == 0) {
    return Invalid(path, tensor + ": unknown dtype value " +
                             std::to_string(static_cast<int>(t.dtype)));
  }
  for (size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] < 0) {
      return Invalid(path, tensor + ": shape[" + std::to_string(d) + "] is " +
                               std::to_string(t.shape[d]) + ", expected >= 0");
    }
  }
  int64_t n = 1;
  bool overflow = false;
  for (int64_t dim : t.shape) overflow |= __builtin_mul_overflow(n, dim, &n);
  uint64_t bytes = 0;
  if (overflow ||
      __builtin_mul_overflow(static_cast<uint64_t>(n), elem_bytes, &bytes)) {
    return OutOfRangeError(path + ": " + tensor + ": shape " +
                           ShapeString(t.shape) + " of " + DTypeName(t.dtype) +
                           " is too large (overflow)");
  }
  if (t.data == nullptr && bytes != 0) {
    return Invalid(path, tensor + ": data is null, expected " +
                             std::to_string(bytes) + " bytes (shape " +
                             ShapeString(t.shape) + " " + DTypeName(t.dtype) +
                             ")");
  }
  return bytes;
}

}  // namespace

Status WriteSafetensors(const std::string& path,
                        std::span<const TensorToWrite> tensors,
                        const std::map<std::string, std::string>& metadata,
                        uint64_t data_alignment) {
  if (path.empty()) return InvalidArgumentError("WriteSafetensors: empty path");
  if (data_alignment < 8 || (data_alignment & (data_alignment - 1)) != 0) {
    return InvalidArgumentError(
        path + ": data_alignment: expected a power of two >= 8, got " +
        std::to_string(data_alignment));
  }
  nlohmann::json header = nlohmann::json::object();
  std::unordered_map<std::string_view, size_t> seen;
  std::vector<uint64_t> sizes;
  sizes.reserve(tensors.size());
  uint64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorToWrite& t = tensors[i];
    FFF_ASSIGN_OR_RETURN(const uint64_t bytes, CheckTensor(path, t, i));
    if (const auto [it, inserted] = seen.emplace(t.name, i); !inserted) {
      return Invalid(path, "tensor " + internal::Quoted(t.name) +
                               " appears twice (#" +
                               std::to_string(it->second) + " and #" +
                               std::to_string(i) + ")");
    }
    if (__builtin_add_overflow(offset, bytes, &offset)) {
      return OutOfRangeError(path + ": the tensors exceed 2^64 bytes");
    }
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset - bytes, offset}}};
    sizes.push_back(bytes);
  }
  for (const auto& [key, value] : metadata) {
    if (!internal::IsValidUtf8(key) || !internal::IsValidUtf8(value)) {
      return Invalid(path, "metadata key " + internal::Quoted(key) +
                               ": key or value is not valid UTF-8");
    }
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;

  // Every string was checked to be UTF-8 above, so the replace handler never
  // fires; it only guarantees dump() cannot throw.
  std::string json =
      header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  json.append((data_alignment - (8 + json.size()) % data_alignment) %
                  data_alignment,
              ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i) {
    length[i] =
        static_cast<uint8_t>(static_cast<uint64_t>(json.size()) >> (8 * i));
  }

  internal::AtomicFile tmp(path);
  FFF_RETURN_IF_ERROR(tmp.Create());
  FFF_RETURN_IF_ERROR(tmp.Write(length, sizeof(length)));
  FFF_RETURN_IF_ERROR(tmp.Write(json.data(), json.size()));
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (sizes[i] != 0) {
      FFF_RETURN_IF_ERROR(tmp.Write(tensors[i].data, sizes[i]));
    }
  }
  return tmp.Commit();
}

}  // namespace fff
