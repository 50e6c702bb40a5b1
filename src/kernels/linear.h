// Linear: y = act(x W^T + b), the dense products of the encoder (attention
// projections, dense feedforward, heads), on oneDNN.
//
// Layouts (PyTorch nn.Linear, so checkpoints load without transposing):
// x [n_rows, d_in]  row-major, contiguous (stride == d_in)
// w [d_out, d_in]   row-major, repacked once at Create into oneDNN's layout;
//                   or, for CreateFromTiled, W^T already in the tiled
//                   layout below (viewed in place when this CPU's kernel
//                   reads that layout: a memory-mapped checkpoint then needs
//                   no repack and no copy, docs/model.md)
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
  // CreateFromTiled only: true reads the tiled weights in place when the
  // kernel oneDNN picks on this CPU reads exactly that layout (they must
  // then outlive the Linear); false, or another layout, copies them.
  bool view_tiled = true;
};

// The default column tile width (LinearOptions::tile_cols).
inline constexpr int64_t kLinearTileCols = 384;

// The tiled weight layout: W^T [d_in, d_out] cut into column tiles of
// kLinearTileCols (the last one narrower when d_out is not a multiple),
// each tile stored row-major [d_in, cols] and the tiles back to back - so
// W[n][k] is at (n / T) * T * d_in + k * cols(n / T) + n % T, T =
// kLinearTileCols. Each tile is what oneDNN's f32 matmul reads for one
// fixed-shape tile on CPUs where it picks its jit sgemm kernel (x86 AVX2 /
// AVX-512 here: "gemm:jit"). d_in * d_out floats.
// w [d_out, d_in] (PyTorch nn.Linear) -> tiled, and back. Errors name the
// wrong size.
Status TileLinearWeights(int64_t d_in, int64_t d_out, std::span<const float> w,
                         std::span<float> tiled);
Status UntileLinearWeights(int64_t d_in, int64_t d_out,
                           std::span<const float> tiled, std::span<float> w);

class Linear {
 public:
  // Copies (repacks) `w` and `b` (b may be empty): the spans need not
  // outlive the object. `name` labels errors and logs (e.g. the tensor name).
  static Result<Linear> Create(int64_t d_in, int64_t d_out,
                               std::span<const float> w,
                               std::span<const float> b,
                               const LinearOptions& options, std::string name);
  // The same product from W^T in the tiled layout above (options.tile_cols
  // must be 0 or kLinearTileCols). Viewed in place (no copy) when
  // options.view_tiled and this CPU's kernel reads the layout (see
  // views_weights()); the results are bitwise those of Create either way.
  static Result<Linear> CreateFromTiled(int64_t d_in, int64_t d_out,
                                        std::span<const float> tiled,
                                        std::span<const float> b,
                                        const LinearOptions& options,
                                        std::string name);
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
  // True when every tile reads the caller's tiled weights in place.
  bool views_weights() const;

 private:
  struct Impl;
  explicit Linear(std::unique_ptr<Impl> impl);
  // Exactly one of `plain` ([d_out, d_in]) and `tiled` is non-empty.
  static Result<Linear> CreateImpl(int64_t d_in, int64_t d_out,
                                   std::span<const float> plain,
                                   std::span<const float> tiled,
                                   std::span<const float> b,
                                   const LinearOptions& options,
                                   std::string name);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_SRC_KERNELS_LINEAR_H_
