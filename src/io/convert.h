// Exact conversions of stored floating-point elements to float32.
#ifndef FFF_SRC_IO_CONVERT_H_
#define FFF_SRC_IO_CONVERT_H_

#include <bit>
#include <cstddef>
#include <cstdint>

namespace fff::internal {

// IEEE 754 binary16 bits -> float, exactly (every half is a float): zeros,
// subnormals, normals, infinities, and NaNs (payload kept, shifted up).
inline float HalfBitsToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp_mant = h & 0x7fffu;
  uint32_t bits;
  if (exp_mant >= 0x7c00u) {  // inf / NaN
    bits = 0x7f800000u | ((exp_mant & 0x3ffu) << 13);
  } else if (exp_mant >= 0x0400u) {  // normal: rebias the exponent 15 -> 127
    bits = (exp_mant << 13) + ((127u - 15u) << 23);
  } else {  // zero / subnormal: mantissa * 2^-24, exact in float
    bits = std::bit_cast<uint32_t>(static_cast<float>(exp_mant) * 0x1p-24f);
  }
  return std::bit_cast<float>(bits | sign);
}

// bfloat16 bits -> float, exactly (bf16 is float32's upper half).
inline float Bf16BitsToFloat(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

// Converts `n` little-endian elements at `src` (any alignment) to float:
// F32 is copied, F16/BF16 converted exactly, F64 rounded to nearest.
// Preconditions: src holds n elements; dst holds n floats.
void F32FromF32(const uint8_t* src, size_t n, float* dst);
void F32FromF16(const uint8_t* src, size_t n, float* dst);
void F32FromBf16(const uint8_t* src, size_t n, float* dst);
void F32FromF64(const uint8_t* src, size_t n, float* dst);

}  // namespace fff::internal

#endif  // FFF_SRC_IO_CONVERT_H_
