#include "src/io/dtype.h"

#include <string>

#include "fff/safetensors.h"

namespace fff {
namespace {

struct DTypeRow {
  DType dtype;
  const char* name;
  size_t size;
};

constexpr DTypeRow kDTypes[] = {
    {DType::kF64, "F64", 8},   {DType::kF32, "F32", 4}, {DType::kF16, "F16", 2},
    {DType::kBF16, "BF16", 2}, {DType::kI64, "I64", 8}, {DType::kI32, "I32", 4},
    {DType::kI16, "I16", 2},   {DType::kI8, "I8", 1},   {DType::kU8, "U8", 1},
    {DType::kBool, "BOOL", 1},
};

const DTypeRow* FindRow(DType dtype) {
  for (const DTypeRow& row : kDTypes) {
    if (row.dtype == dtype) return &row;
  }
  return nullptr;
}

}  // namespace

// An out-of-range enum value (a caller's cast) gives "?" and size 0, which
// the writer rejects.
const char* DTypeName(DType dtype) {
  const DTypeRow* row = FindRow(dtype);
  return row != nullptr ? row->name : "?";
}

size_t DTypeSize(DType dtype) {
  const DTypeRow* row = FindRow(dtype);
  return row != nullptr ? row->size : 0;
}

std::string ShapeString(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i != 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace internal {

std::optional<DType> DTypeFromName(std::string_view name) {
  for (const DTypeRow& row : kDTypes) {
    if (name == row.name) return row.dtype;
  }
  return std::nullopt;
}

const char* KnownDTypeNames() {
  return "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";
}

}  // namespace internal
}  // namespace fff
