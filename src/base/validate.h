// Argument checks shared by every op's public entry points. Each returns a
// Status naming the field with expected vs got, in the form
// "fff: <field>: expected <what>, got <value>".
#ifndef FFF_SRC_BASE_VALIDATE_H_
#define FFF_SRC_BASE_VALIDATE_H_

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "fff/status.h"
#include "fff/tensor.h"

namespace fff {

// True when the byte ranges [a, a + a_bytes) and [b, b + b_bytes) overlap.
inline bool Overlaps(const void* a, size_t a_bytes, const void* b,
                     size_t b_bytes) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  return a_bytes > 0 && b_bytes > 0 && pa < pb + b_bytes && pb < pa + a_bytes;
}

// A matrix view of `want_cols` columns (`cols_name` says which dimension):
// rows >= 0, stride >= cols, extent within int64 and within the capacity,
// non-null data when non-empty.
template <class T>
Status ValidateMatrix(const MatrixView<T>& m, const char* name,
                      int64_t want_cols, const char* cols_name) {
  if (m.rows < 0) {
    return InvalidArgumentError(
        fmt::format("fff: {}: expected rows >= 0, got {}", name, m.rows));
  }
  if (m.cols != want_cols) {
    return InvalidArgumentError(
        fmt::format("fff: {}: expected {} columns ({}), got {}", name,
                    want_cols, cols_name, m.cols));
  }
  if (m.stride < m.cols) {
    return InvalidArgumentError(
        fmt::format("fff: {}: expected row stride >= {} (columns), got {}",
                    name, m.cols, m.stride));
  }
  if (m.rows > 0 &&
      m.rows - 1 > (std::numeric_limits<int64_t>::max() - m.cols) / m.stride) {
    return OutOfRangeError(fmt::format(
        "fff: {}: {} rows of stride {} overflow int64", name, m.rows,
        m.stride));
  }
  const int64_t extent = m.ExtentElements();
  if (extent > 0 && m.data == nullptr) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: null data for {} x {} elements", name, m.rows, m.cols));
  }
  if (static_cast<uint64_t>(extent) > m.capacity) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: buffer too short: expected >= {} elements ({} rows, stride "
        "{}), got {}",
        name, extent, m.rows, m.stride, m.capacity));
  }
  return Status::Ok();
}

// A buffer of exactly `want` elements (`what` describes the shape), non-null
// when want > 0.
template <class T>
Status ValidateSpan(std::span<T> s, const char* name, int64_t want,
                    const char* what) {
  if (s.data() == nullptr && want > 0) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: null buffer, expected {} elements ({})", name, want, what));
  }
  if (static_cast<int64_t>(s.size()) != want) {
    return InvalidArgumentError(
        fmt::format("fff: {}: expected {} elements ({}), got {}", name, want,
                    what, s.size()));
  }
  return Status::Ok();
}

}  // namespace fff

#endif  // FFF_SRC_BASE_VALIDATE_H_
