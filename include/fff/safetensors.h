// Safetensors checkpoints: a hostile-input reader over mmap, and a writer.
//
// File format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON mapping each tensor name to
// {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the
// byte after the header) plus an optional "__metadata__" string map, then the
// data section. The reader trusts nothing in the file: header length bound,
// JSON well-formedness, offsets inside the file, dtype x shape == byte length
// (with overflow checks), no overlapping ranges. Every error names the file
// and, where one is at fault, the tensor, with expected vs got.
#ifndef FFF_SAFETENSORS_H_
#define FFF_SAFETENSORS_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fff/status.h"

namespace fff {

// Element types, named as in the safetensors header ("F32", "BF16", ...).
enum class DType { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool };

// "F32", "BF16", ...
const char* DTypeName(DType dtype);
// Bytes per element.
size_t DTypeSize(DType dtype);

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // empty: a 0-d scalar (one element)
  int64_t n_elements = 0;      // product of shape (1 for 0-d)
  uint64_t offset_bytes = 0;   // from the start of the data section
  uint64_t size_bytes = 0;     // n_elements * DTypeSize(dtype)
};

// "[2304, 768]" (or "[]" for a scalar): the form error messages use.
std::string ShapeString(std::span<const int64_t> shape);

// A parsed, validated safetensors file. Open maps the file read-only (no
// copy); the mapping lives as long as the reader. Movable, not copyable.
// Thread safety: const methods may be called concurrently.
class SafetensorsReader {
 public:
  // Limits applied to every file (a header larger than this is rejected
  // before it is read).
  static constexpr uint64_t kMaxHeaderBytes = 100u << 20;

  // Errors: NotFound (no such file), DataLoss (malformed or truncated),
  // OutOfRange (header length or a shape beyond the supported limits).
  static Result<SafetensorsReader> Open(const std::string& path);
  // Parses a file image already in memory (tests, fuzzing). `bytes` must
  // outlive the reader; `name` stands for the path in messages.
  static Result<SafetensorsReader> FromBuffer(std::span<const uint8_t> bytes,
                                              std::string name);

  SafetensorsReader(SafetensorsReader&&) noexcept;
  SafetensorsReader& operator=(SafetensorsReader&&) noexcept;
  ~SafetensorsReader();

  const std::string& path() const;
  // All tensors, in header order.
  const std::vector<TensorInfo>& tensors() const;
  // nullptr when absent.
  const TensorInfo* Find(std::string_view name) const;
  // The "__metadata__" map (empty when absent).
  const std::map<std::string, std::string>& metadata() const;
  // The tensor's bytes as stored (little-endian), size_bytes long.
  std::span<const uint8_t> Bytes(const TensorInfo& info) const;
  // File offset of the data section (8 + header length): a tensor's bytes
  // start at DataOffset() + offset_bytes in the file.
  uint64_t DataOffset() const;

  // Converts a F32, F16, BF16 or F64 tensor to float32 into `dst`
  // (dst.size() must equal n_elements). Other dtypes: an error naming the
  // tensor and its dtype.
  Status ReadF32(const TensorInfo& info, std::span<float> dst) const;
  // Finds `name`, checks its shape equals `expected_shape` ("tensor X in
  // FILE: expected shape [a, b], got [c, d]"; "missing tensor X in FILE"),
  // and converts it to float32. dst.size() must equal the shape's product.
  // Errors: NotFound (missing tensor), InvalidArgument (shape, dst size or a
  // dtype that is not floating point).
  Status ReadF32(std::string_view name, std::span<const int64_t> expected_shape,
                 std::span<float> dst) const;

 private:
  struct Impl;
  explicit SafetensorsReader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// One tensor to write: `data` holds n_elements * DTypeSize(dtype) bytes,
// little-endian.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// Writes a safetensors file (tensors in the given order, back to back; the
// header is padded with spaces so the data section starts at a multiple of
// `data_alignment` bytes from the file's start: 8 as the format's reference
// writer does, 4096 to page-align it for zero-copy mapping; a power of two
// >= 8). Header keys sorted. Writes to `path`.tmp and renames, so a failure
// never leaves a partial file at `path`. Duplicate or empty names are errors.
Status WriteSafetensors(
    const std::string& path, std::span<const TensorToWrite> tensors,
    const std::map<std::string, std::string>& metadata = {},
    uint64_t data_alignment = 8);

}  // namespace fff

#endif  // FFF_SAFETENSORS_H_
