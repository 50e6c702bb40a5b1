// Internal helpers over fff::DType (the public names and sizes are in
// fff/safetensors.h).
#ifndef FFF_SRC_IO_DTYPE_H_
#define FFF_SRC_IO_DTYPE_H_

#include <optional>
#include <string_view>

#include "fff/safetensors.h"

namespace fff::internal {

// The DType whose safetensors name is exactly `name` ("F32", ...).
std::optional<DType> DTypeFromName(std::string_view name);

// "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL": for error messages.
const char* KnownDTypeNames();

}  // namespace fff::internal

#endif  // FFF_SRC_IO_DTYPE_H_
