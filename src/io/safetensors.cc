// SafetensorsReader: validates a mapped (or in-memory) file image once at
// open; reads afterwards only check the caller's arguments and convert.
#include "fff/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <utility>

#include "src/io/convert.h"
#include "src/io/mapped_file.h"
#include "src/io/safetensors_header.h"
#include "src/io/text.h"

namespace fff {
namespace {

// What a validated file image holds.
struct Contents {
  std::span<const uint8_t> data;  // the data section
  uint64_t data_offset = 0;       // its offset in the file
  std::vector<TensorInfo> tensors;
  std::map<std::string, size_t, std::less<>> index;  // name -> tensors[i]
  std::map<std::string, std::string> metadata;
};

Status DataLoss(const std::string& file, const std::string& message) {
  return Status(StatusCode::kDataLoss, file + ": " + message);
}

std::string TensorName(const std::string& name) {
  return "tensor " + internal::Quoted(name);
}

// "4 x 5 F32 = 80" (a scalar: "a scalar F32 = 4"): how a byte size follows
// from shape and dtype.
std::string SizeDerivation(const TensorInfo& t) {
  std::string s;
  if (t.shape.empty()) s = "a scalar";
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i != 0) s += " x ";
    s += std::to_string(t.shape[i]);
  }
  return s + " " + DTypeName(t.dtype) + " = " + std::to_string(t.size_bytes);
}

// Element count and byte size of entry `e`, with overflow checks.
Status SizeTensor(const internal::HeaderEntry& e, const std::string& file,
                  TensorInfo* t) {
  int64_t n = 1;
  for (int64_t dim : e.shape) {
    if (__builtin_mul_overflow(n, dim, &n)) {
      return Status(StatusCode::kOutOfRange,
                    file + ": " + TensorName(e.name) + ": shape " +
                        ShapeString(e.shape) +
                        " has more elements than int64 can count");
    }
  }
  uint64_t bytes;
  if (__builtin_mul_overflow(static_cast<uint64_t>(n), DTypeSize(e.dtype),
                             &bytes)) {
    return Status(StatusCode::kOutOfRange,
                  file + ": " + TensorName(e.name) + ": shape " +
                      ShapeString(e.shape) + " of " + DTypeName(e.dtype) +
                      " needs more than 2^64 bytes");
  }
  t->name = e.name;
  t->dtype = e.dtype;
  t->shape = e.shape;
  t->n_elements = n;
  t->offset_bytes = e.begin;
  t->size_bytes = bytes;
  return Status::Ok();
}

// Checks every entry against the data section (`data_bytes` long) and fills
// c->tensors and c->index. Like the format's reference reader, the
// ranges sorted by begin must tile the data section exactly: no holes, no
// overlaps, nothing after the last tensor.
Status BuildTensors(const internal::Header& header, uint64_t data_bytes,
                    const std::string& file, Contents* c) {
  c->tensors.reserve(header.entries.size());
  for (const internal::HeaderEntry& e : header.entries) {
    TensorInfo t;
    FFF_RETURN_IF_ERROR(SizeTensor(e, file, &t));
    const std::string offsets = "data_offsets [" + std::to_string(e.begin) +
                                ", " + std::to_string(e.end) + "]";
    if (e.begin > e.end) {
      return DataLoss(file, TensorName(e.name) + ": " + offsets +
                                ": expected begin <= end");
    }
    if (e.end > data_bytes) {
      return DataLoss(file, TensorName(e.name) + ": " + offsets +
                                ": end is past the data section, expected <= " +
                                std::to_string(data_bytes));
    }
    if (e.end - e.begin != t.size_bytes) {
      return DataLoss(file, TensorName(e.name) + ": data_offsets span " +
                                std::to_string(e.end - e.begin) +
                                " bytes, expected " + SizeDerivation(t));
    }
    c->tensors.push_back(std::move(t));
  }

  const std::vector<TensorInfo>& ts = c->tensors;
  std::vector<size_t> order(ts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::pair(ts[a].offset_bytes, ts[a].size_bytes) <
           std::pair(ts[b].offset_bytes, ts[b].size_bytes);
  });
  uint64_t expected = 0;
  const TensorInfo* previous = nullptr;
  for (size_t i : order) {
    const TensorInfo& t = ts[i];
    if (t.offset_bytes != expected) {
      const std::string where =
          previous == nullptr ? std::string("the start of the data section")
                              : "the end of " + TensorName(previous->name);
      return DataLoss(file,
                      TensorName(t.name) + ": data_offsets begin " +
                          std::to_string(t.offset_bytes) + ", expected " +
                          std::to_string(expected) + " (" + where +
                          "): tensors must tile the data section without " +
                          (t.offset_bytes < expected ? "overlap" : "gaps"));
    }
    expected = t.offset_bytes + t.size_bytes;
    previous = &t;
  }
  if (expected != data_bytes) {
    return DataLoss(
        file, "data section is " + std::to_string(data_bytes) +
                  " bytes, but the tensors cover " + std::to_string(expected) +
                  (previous != nullptr ? " (up to the end of " +
                                             TensorName(previous->name) + ")"
                                       : std::string(" (no tensors)")) +
                  ": expected them to cover it exactly");
  }
  for (size_t i = 0; i < ts.size(); ++i) c->index.emplace(ts[i].name, i);
  return Status::Ok();
}

// Parses and validates the file image `bytes`; `file` names it in messages.
Result<Contents> Parse(std::span<const uint8_t> bytes,
                       const std::string& file) {
  if (bytes.size() < 8) {
    return DataLoss(file, "file is " + std::to_string(bytes.size()) +
                              " bytes, expected at least 8 (the header "
                              "length)");
  }
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = header_bytes << 8 | bytes[i];
  if (header_bytes > SafetensorsReader::kMaxHeaderBytes) {
    return Status(StatusCode::kOutOfRange,
                  file + ": header length " + std::to_string(header_bytes) +
                      " exceeds the limit of " +
                      std::to_string(SafetensorsReader::kMaxHeaderBytes) +
                      " bytes");
  }
  const uint64_t after_length = bytes.size() - 8;
  if (header_bytes > after_length) {
    return DataLoss(file, "header length " + std::to_string(header_bytes) +
                              " exceeds the " + std::to_string(after_length) +
                              " bytes after the length field (truncated "
                              "file?)");
  }
  const std::string_view json(reinterpret_cast<const char*>(bytes.data() + 8),
                              header_bytes);
  FFF_ASSIGN_OR_RETURN(internal::Header header,
                       internal::ParseHeader(json, file));
  Contents c;
  c.data = bytes.subspan(8 + header_bytes);
  c.data_offset = 8 + header_bytes;
  c.metadata = std::move(header.metadata);
  FFF_RETURN_IF_ERROR(BuildTensors(header, c.data.size(), file, &c));
  return c;
}

}  // namespace

struct SafetensorsReader::Impl {
  std::string name;           // path, or FromBuffer's name
  internal::MappedFile file;  // empty for FromBuffer
  Contents c;
};

SafetensorsReader::SafetensorsReader(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
SafetensorsReader::SafetensorsReader(SafetensorsReader&&) noexcept = default;
SafetensorsReader& SafetensorsReader::operator=(SafetensorsReader&&) noexcept =
    default;
SafetensorsReader::~SafetensorsReader() = default;

Result<SafetensorsReader> SafetensorsReader::Open(const std::string& path) {
  auto impl = std::make_unique<Impl>();
  impl->name = path;
  FFF_ASSIGN_OR_RETURN(impl->file, internal::MappedFile::Open(path));
  FFF_ASSIGN_OR_RETURN(impl->c, Parse(impl->file.bytes(), path));
  return SafetensorsReader(std::move(impl));
}

Result<SafetensorsReader> SafetensorsReader::FromBuffer(
    std::span<const uint8_t> bytes, std::string name) {
  auto impl = std::make_unique<Impl>();
  impl->name = std::move(name);
  FFF_ASSIGN_OR_RETURN(impl->c, Parse(bytes, impl->name));
  return SafetensorsReader(std::move(impl));
}

const std::string& SafetensorsReader::path() const { return impl_->name; }

const std::vector<TensorInfo>& SafetensorsReader::tensors() const {
  return impl_->c.tensors;
}

const TensorInfo* SafetensorsReader::Find(std::string_view name) const {
  const auto it = impl_->c.index.find(name);
  return it == impl_->c.index.end() ? nullptr : &impl_->c.tensors[it->second];
}

const std::map<std::string, std::string>& SafetensorsReader::metadata() const {
  return impl_->c.metadata;
}

namespace {

// True when `info` describes bytes inside `data` consistently (it came from
// this reader, or matches one of its tensors).
bool DescribesData(const TensorInfo& info, std::span<const uint8_t> data) {
  uint64_t bytes;
  return info.n_elements >= 0 &&
         !__builtin_mul_overflow(static_cast<uint64_t>(info.n_elements),
                                 DTypeSize(info.dtype), &bytes) &&
         bytes == info.size_bytes && info.offset_bytes <= data.size() &&
         info.size_bytes <= data.size() - info.offset_bytes;
}

}  // namespace

uint64_t SafetensorsReader::DataOffset() const {
  return impl_->c.data_offset;
}

std::span<const uint8_t> SafetensorsReader::Bytes(
    const TensorInfo& info) const {
  if (!DescribesData(info, impl_->c.data)) return {};
  return impl_->c.data.subspan(info.offset_bytes, info.size_bytes);
}

Status SafetensorsReader::ReadF32(const TensorInfo& info,
                                  std::span<float> dst) const {
  const std::string& file = impl_->name;
  if (!DescribesData(info, impl_->c.data)) {
    return InvalidArgumentError(TensorName(info.name) + " in " + file +
                                ": the TensorInfo does not describe a tensor "
                                "of this file");
  }
  if (dst.size() != static_cast<uint64_t>(info.n_elements)) {
    return InvalidArgumentError(TensorName(info.name) + " in " + file +
                                ": dst holds " + std::to_string(dst.size()) +
                                " floats, expected " +
                                std::to_string(info.n_elements) + " (shape " +
                                ShapeString(info.shape) + ")");
  }
  const uint8_t* src = impl_->c.data.data() + info.offset_bytes;
  const size_t n = dst.size();
  switch (info.dtype) {
    case DType::kF32:
      internal::F32FromF32(src, n, dst.data());
      return Status::Ok();
    case DType::kF16:
      internal::F32FromF16(src, n, dst.data());
      return Status::Ok();
    case DType::kBF16:
      internal::F32FromBf16(src, n, dst.data());
      return Status::Ok();
    case DType::kF64:
      internal::F32FromF64(src, n, dst.data());
      return Status::Ok();
    default:
      return InvalidArgumentError(
          TensorName(info.name) + " in " + file + ": dtype " +
          DTypeName(info.dtype) +
          " cannot be read as float32 (expected F32, F16, BF16 or F64)");
  }
}

Status SafetensorsReader::ReadF32(std::string_view name,
                                  std::span<const int64_t> expected_shape,
                                  std::span<float> dst) const {
  const TensorInfo* info = Find(name);
  if (info == nullptr) {
    return NotFoundError("missing " + TensorName(std::string(name)) + " in " +
                         impl_->name);
  }
  if (!std::equal(expected_shape.begin(), expected_shape.end(),
                  info->shape.begin(), info->shape.end())) {
    return InvalidArgumentError(
        TensorName(info->name) + " in " + impl_->name + ": expected shape " +
        ShapeString(expected_shape) + ", got " + ShapeString(info->shape));
  }
  return ReadF32(*info, dst);
}

}  // namespace fff
