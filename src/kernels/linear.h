// Linear: y = act(x W^T + b), the dense products of the encoder (attention
// projections, dense feedforward, heads), on oneDNN.
//
// Layouts (PyTorch nn.Linear, so checkpoints load without transposing):
// x [n_rows, d_in]  row-major, contiguous (stride == d_in)
// w [d_out, d_in]   row-major, repacked once at Create into oneDNN's layout
// b [d_out]         optional
// y [n_rows, d_out] row-major, contiguous
//
// Determinism: the output is cut into fixed tiles of `block_rows` rows by
// `tile_cols` columns (both chosen at Create, never from n_rows or the
// thread count); each tile is computed by one fixed-shape, single-threaded
// oneDNN matmul (a short last row block is padded through per-thread
// staging rows), and tiles are spread over threads. So every output
// element's arithmetic is the same whatever the other rows in the call,
// n_rows, the row's position in the batch or the thread count: a sequence
// gets the same bits whatever else a server batches with it.
#ifndef FFF_SRC_KERNELS_LINEAR_H_
#define FFF_SRC_KERNELS_LINEAR_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "fff/status.h"
#include "fff/tensor.h"

namespace fff {

enum class LinearActivation { kNone, kGelu /* exact erf */, kTanh };

struct LinearOptions {
  LinearActivation activation = LinearActivation::kNone;
  // Threads a Forward may use (1..1024); scratch is sized for this many.
  int n_threads = 1;
  // Rows per fixed-shape block (1..4096). 0 = the measured default.
  int64_t block_rows = 0;
  // Output columns per tile (0 = the measured default; >= d_out = one
  // tile). Column tiles let several threads share one row block.
  int64_t tile_cols = 0;
};

class Linear {
 public:
  // Copies (repacks) `w` and `b` (b may be empty): the spans need not
  // outlive the object. `name` labels errors and logs (e.g. the tensor name).
  static Result<Linear> Create(int64_t d_in, int64_t d_out,
                               std::span<const float> w,
                               std::span<const float> b,
                               const LinearOptions& options, std::string name);
  Linear(Linear&&) noexcept;
  Linear& operator=(Linear&&) noexcept;
  ~Linear();

  // y = act(x W^T + b). x: [n_rows, d_in] contiguous, y: [n_rows, d_out]
  // contiguous (overwritten), no overlap. Uses up to n_threads threads
  // (<= the planned count). Thread safety: one Forward at a time per object.
  Status Forward(MatrixView<const float> x, MatrixView<float> y,
                 int n_threads) const;

  int64_t d_in() const;
  int64_t d_out() const;
  int64_t block_rows() const;
  // oneDNN's implementation name, e.g. "brg:avx512_core".
  const std::string& impl_name() const;

 private:
  struct Impl;
  explicit Linear(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_SRC_KERNELS_LINEAR_H_
