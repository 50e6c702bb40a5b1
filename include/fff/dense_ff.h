// The dense feedforward block of BERT, y = GELU(x W1^T + b1) W2^T + b2, on the
// fastest GEMM of the machine (oneDNN). It serves dense crammedBERT models and
// is the honest baseline every FFF speed ratio is measured against.
//
// Layouts (PyTorch nn.Linear, so checkpoints load without repacking):
// x   [n_rows, d_in]        row-major (row stride >= d_in)
// w1  [d_hidden, d_in]      linear1.weight      b1 [d_hidden]
// w2  [d_out, d_hidden]     linear2.weight      b2 [d_out]
// y   [n_rows, d_out]       row-major (row stride >= d_out)
// GELU is the exact erf form.
#ifndef FFF_DENSE_FF_H_
#define FFF_DENSE_FF_H_

#include <cstdint>
#include <memory>
#include <span>

#include "fff/status.h"
#include "fff/tensor.h"

namespace fff {

struct DenseFfShape {
  int64_t d_in = 0;
  int64_t d_hidden = 0;
  int64_t d_out = 0;
};

struct DenseFfWeightsView {
  std::span<const float> w1;
  std::span<const float> b1;
  std::span<const float> w2;
  std::span<const float> b2;
};

struct DenseFfOptions {
  // Threads for Forward: 0 = OpenMP's maximum (OMP_NUM_THREADS or cores),
  // resolved once at Create (0..1024). oneDNN runs on OpenMP: Forward calls
  // omp_set_num_threads(n_threads) for its duration and restores the calling
  // thread's previous setting before returning.
  int n_threads = 0;
  // Tuning and testing knobs; the defaults are measured. Rows are processed
  // in chunks of at most `chunk_rows` (0 = automatic: 2048, fewer when
  // d_hidden > 3072 so a chunk's hidden activations stay <= 24 MiB).
  int64_t chunk_rows = 0;
  // Chunks of at least this many rows use the large-batch path (oneDNN's
  // sgemm on the caller's weights), smaller ones the small-batch path
  // (oneDNN's brgemm on weights repacked at Create). -1 = automatic (384 at
  // 1 thread, 1536 at more); 0 = always the large-batch path; a value above
  // chunk_rows = always the small-batch path.
  int64_t gemm_min_rows = -1;
};

// A planned dense FF: validated shapes, GEMM primitives and scratch created
// once, so Forward allocates no buffer (oneDNN itself makes small internal
// allocations per call). Weights are viewed: they must outlive the object.
// Create also keeps one copy of w1 and w2 repacked into the layout oneDNN's
// small-batch kernels prefer (~4 (d_in + d_out) d_hidden bytes), plus a
// hidden-activation buffer of chunk_rows x d_hidden floats. Thread safety:
// one Forward at a time per object.
class DenseFf {
 public:
  static Result<DenseFf> Create(const DenseFfShape& shape,
                                const DenseFfWeightsView& weights,
                                const DenseFfOptions& options = {});
  DenseFf(DenseFf&&) noexcept;
  DenseFf& operator=(DenseFf&&) noexcept;
  ~DenseFf();

  // y = GELU(x W1^T + b1) W2^T + b2. x: [n_rows, d_in], y: [n_rows, d_out]
  // (overwritten); n_rows may be 0; x and y must not overlap.
  Status Forward(MatrixView<const float> x, MatrixView<float> y);

  const DenseFfShape& shape() const;
  int n_threads() const;

 private:
  struct Impl;
  explicit DenseFf(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_DENSE_FF_H_
