// Non-owning matrix views. fff functions take views in and never keep them
// past the call; the caller owns the memory.
#ifndef FFF_TENSOR_H_
#define FFF_TENSOR_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace fff {

// A row-major matrix of `rows` x `cols` elements whose rows start `stride`
// elements apart (stride >= cols; padding between rows is never touched),
// inside a buffer of `capacity` elements starting at `data`. The capacity lets
// fff reject a buffer too short for the shape instead of reading past it.
template <class T>
struct MatrixView {
  T* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;
  size_t capacity = 0;

  MatrixView() = default;
  // A view of `buffer` as rows x cols with the given stride (0: cols).
  MatrixView(std::span<T> buffer, int64_t rows_, int64_t cols_,
             int64_t stride_ = 0)
      : data(buffer.data()),
        rows(rows_),
        cols(cols_),
        stride(stride_ == 0 ? cols_ : stride_),
        capacity(buffer.size()) {}

  // Elements between data[0] and the end of the last row (0 when empty).
  int64_t ExtentElements() const {
    return rows == 0 || cols == 0 ? 0 : (rows - 1) * stride + cols;
  }
  T* Row(int64_t r) const { return data + r * stride; }
};

}  // namespace fff

#endif  // FFF_TENSOR_H_
