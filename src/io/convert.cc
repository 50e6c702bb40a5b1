#include "src/io/convert.h"

#include <cstring>

// The file's bytes may sit at any alignment inside the mapping, so elements
// are loaded with memcpy (compiled to plain unaligned loads), never through a
// cast pointer. The host is little-endian, like the format.
static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; add byte swaps here");

namespace fff::internal {

void F32FromF32(const uint8_t* src, size_t n, float* dst) {
  if (n != 0) std::memcpy(dst, src, n * sizeof(float));
}

void F32FromF16(const uint8_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, sizeof(h));
    dst[i] = HalfBitsToFloat(h);
  }
}

void F32FromBf16(const uint8_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t b;
    std::memcpy(&b, src + 2 * i, sizeof(b));
    dst[i] = Bf16BitsToFloat(b);
  }
}

void F32FromF64(const uint8_t* src, size_t n, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    double d;
    std::memcpy(&d, src + 8 * i, sizeof(d));
    dst[i] = static_cast<float>(d);
  }
}

}  // namespace fff::internal
