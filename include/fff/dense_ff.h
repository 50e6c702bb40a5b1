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
  // Threads for Forward: 0 = OpenMP's maximum (OMP_NUM_THREADS or cores).
  int n_threads = 0;
};

// A planned dense FF: validated shapes, GEMM primitives and scratch created
// once, so Forward allocates nothing. Weights are viewed, not copied: they
// must outlive the object. Thread safety: one Forward at a time per object.
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
