// The fast feedforward (FFF) layer of UltraFastBERT, computed conditionally:
// each input row touches only the tree nodes it visits.
//
// ---- Vocabulary (used the same way everywhere in fff) ----------------------
// depth:    a tree of depth D has D+1 levels, numbered 0 (the root) to D (the
//           leaves), and n_nodes = 2^(D+1) - 1 nodes. D = 0 is a single
//           neuron. This is the `depth` of UltraFastBERT's training module
//           (the "11" of UltraFastBERT-1x11: 4095 nodes, 12 visited).
// n_trees:  independent trees whose outputs are summed ("parallel size", the
//           1 of 1x11). Tree t owns global nodes t*n_nodes .. (t+1)*n_nodes-1.
// node:     breadth-first index inside a tree: root 0, children of n are
//           2n+1 (left) and 2n+2 (right).
//
// ---- Semantics (exactly UltraFastBERT's training module) ------------------
// For one row x (d_in values) and each tree t, start at node n = 0 and, for
// each of the depth+1 levels:
//   z = x . w_in[t*n_nodes + n] + b_in[t*n_nodes + n]        (logit)
//   y += GELU(z) * w_out[t*n_nodes + n]                       (exact erf GELU)
//   n = 2n + 1 + (z > 0)            (z == 0 goes left; the decision carries
//                                    no gradient and uses the pre-activation)
// y starts at zero and is the sum over all trees and levels, accumulated in
// the fixed order tree 0 level 0, tree 0 level 1, ..., tree T-1 level D.
//
// ---- Layouts ---------------------------------------------------------------
// x      [n_rows, d_in]                 row-major (row stride >= d_in)
// y      [n_rows, d_out]                row-major (row stride >= d_out)
// w_in   [n_trees*n_nodes, d_in]        row-major, PyTorch linear_in.weight
// b_in   [n_trees*n_nodes]              PyTorch linear_in.bias
// w_out  [n_trees*n_nodes, d_out]       NODE-MAJOR: row g holds node g's
//                                       output vector, so a visited node reads
//                                       one contiguous row. PyTorch stores
//                                       linear_out.weight as [d_out, n_total];
//                                       RepackTorchLinearOut converts it.
// trace  [n_rows, n_trees, depth+1]     visited node (within its tree) and its
//                                       logit, per row, tree and level.
//
// ---- Gradients (Backward) ---------------------------------------------------
// With g the global node of visit k = (tree, level) of row r, z its logit,
// a = GELU(z) and dy = dL/dy of the row:
//   da  = dy . w_out[g]            dz = da * GELU'(z)   (GELU' = Phi + z phi)
//   dx       = sum_k dz_k w_in[g_k]
//   dw_in[g] += sum over rows r visiting g of dz * x_r,   db_in[g] += dz
//   dw_out[g] += sum over rows r visiting g of a * dy_r
// Only visited nodes' rows are read or written; the routing decision carries
// no gradient (as in the paper's masked-dense training module).
#ifndef FFF_FFF_H_
#define FFF_FFF_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "fff/status.h"
#include "fff/tensor.h"

namespace fff {

// Node indices are int32 (in traces and kernels), so n_trees * n_nodes must
// stay below 2^31; with one tree that allows depth <= 29.
inline constexpr int64_t kFffMaxDepth = 29;

struct FffShape {
  int64_t d_in = 0;
  int64_t d_out = 0;
  int64_t depth = 0;
  int64_t n_trees = 1;

  // 2^(depth+1) - 1. Precondition: 0 <= depth <= kFffMaxDepth.
  int64_t n_nodes() const { return (int64_t{2} << depth) - 1; }
  int64_t n_total_nodes() const { return n_trees * n_nodes(); }
  // Nodes a row visits: n_trees * (depth + 1).
  int64_t n_visited() const { return n_trees * (depth + 1); }
};

// OK when every field is in range; otherwise names the field, e.g.
// "fff: depth: expected 0..29 (int32 node index), got 31".
Status ValidateFffShape(const FffShape& shape);

// Non-owning views of the three weight tensors (layouts above). Rows of
// w_in and w_out may be spaced wider than d_in / d_out (a row stride in
// elements; 0 = contiguous rows): the zero-copy checkpoint layout stores each
// node's w_in and w_out rows together in one page-aligned record
// (docs/model.md), so w_in and w_out then view the same memory.
struct FffWeightsView {
  std::span<const float> w_in;
  std::span<const float> b_in;
  std::span<const float> w_out;  // node-major
  int64_t w_in_stride = 0;       // 0: d_in
  int64_t w_out_stride = 0;      // 0: d_out
};

// OK when every span is non-null and exactly the size the shape needs
// (contiguous rows), or, with a stride, at least (n_total - 1) * stride +
// the row length, and a stride is >= the row length.
Status ValidateFffWeights(const FffShape& shape, const FffWeightsView& w);

// Converts PyTorch's linear_out.weight [d_out, n_total_nodes] (row-major) into
// fff's node-major w_out [n_total_nodes, d_out] (a transpose). Both spans must
// hold exactly d_out * n_total_nodes elements and must not overlap.
Status RepackTorchLinearOut(const FffShape& shape,
                            std::span<const float> torch_w_out,
                            std::span<float> w_out_node_major);

// How a batch is computed. Every strategy produces bitwise-identical results
// for a given SIMD target (the per-row arithmetic is the same), so the choice
// is purely about speed.
enum class FffStrategy {
  kAuto = 0,      // the plan chooses from n_rows (see docs/kernels.md)
  kRowWalk,       // each row walks its trees alone: best for small batches
  kLevelBatched,  // rows grouped by node level by level, so each weight row
                  // is read once per group: best for large batches
};
const char* FffStrategyName(FffStrategy strategy);

struct FffOptions {
  // Threads for Forward and Backward: 0 = OpenMP's maximum (OMP_NUM_THREADS or
  // cores).
  int n_threads = 0;
  FffStrategy strategy = FffStrategy::kAuto;
  // SIMD target by Highway name ("AVX3", "AVX2", "SSE4", "SCALAR"); empty =
  // the FFF_CPU_TARGET environment variable if set, else the best the CPU
  // supports. Naming a target the CPU lacks is an error.
  std::string target;
  // kAuto switches to kLevelBatched from this many rows on; -1 = the measured
  // default of the plan (docs/kernels.md).
  int64_t level_batched_min_rows = -1;
  // Forward writes y with streaming (non-temporal) stores when the call's
  // outputs (n_rows x d_out floats) take at least this many bytes and y's
  // rows are 64-byte aligned; -1 = the plan's default, the 32 MiB of the
  // last-level cache measured (docs/kernels.md). Results are the same either
  // way.
  int64_t stream_outputs_min_bytes = -1;
  // Batches routed block by block (those too small to split into subtrees,
  // and every tree of depth <= 2) compute this many top levels of every tree
  // densely: the logits of all their nodes, several weight rows per pass over
  // the inputs, then each row takes its path through them. 0 = off, up to 6;
  // -1 = the plan's measured default (docs/kernels.md). Results are the same
  // either way.
  int64_t dense_top_levels = -1;
};

// Optional per-row diagnostics, each [n_rows, n_trees, depth+1] (empty span =
// not wanted): the visited node within its tree and its logit z.
struct FffTrace {
  std::span<int32_t> nodes;
  std::span<float> logits;
};

// Routing recorded by Forward (an FffTrace), read by Backward.
struct FffConstTrace {
  std::span<const int32_t> nodes;
  std::span<const float> logits;
};

// Where Backward writes: dx is overwritten; the three weight gradients are
// accumulated into (+=), and only the rows of visited nodes are touched, so a
// caller zeroes them once and may accumulate several batches.
struct FffGradients {
  MatrixView<float> dx;     // [n_rows, d_in]
  std::span<float> dw_in;   // [n_trees*n_nodes, d_in]
  std::span<float> db_in;   // [n_trees*n_nodes]
  std::span<float> dw_out;  // [n_trees*n_nodes, d_out], node-major
};

// A planned FFF layer: validated shape, chosen SIMD target and thresholds,
// and scratch sized once, so Forward allocates nothing.
// The weights are viewed, not copied: they must outlive the layer.
// Thread safety: Forward uses the layer's scratch, so call it from one thread
// at a time per layer (it parallelises internally); const methods are safe.
class FffLayer {
 public:
  static Result<FffLayer> Create(const FffShape& shape,
                                 const FffWeightsView& weights,
                                 const FffOptions& options = {});

  FffLayer(FffLayer&&) noexcept;
  FffLayer& operator=(FffLayer&&) noexcept;
  ~FffLayer();

  // y = FFF(x). x: [n_rows, d_in], y: [n_rows, d_out] (overwritten). n_rows
  // may be 0. `trace`, when given, receives the routing. x and y must not
  // overlap.
  Status Forward(MatrixView<const float> x, MatrixView<float> y,
                 const FffTrace& trace = {});

  // Gradients of a loss given dy = dL/dy [n_rows, d_out], the forward's
  // input x and its recorded routing (both nodes and logits, as Forward wrote
  // them; Gradients section above). Every result is bitwise independent of
  // the thread count: dx per row in visit order; each weight row sums its
  // rows' terms in ascending row order, one thread per node. A trace whose
  // nodes are not a root-to-leaf path of the tree is an InvalidArgument
  // error; gradient buffers may not overlap each other or the inputs.
  // Allocates its scratch (O(n_rows * n_visited)) per call.
  Status Backward(MatrixView<const float> x, MatrixView<const float> dy,
                  const FffConstTrace& trace, const FffGradients& grads);

  const FffShape& shape() const;
  // The strategy kAuto resolves to for a batch of n_rows.
  FffStrategy StrategyFor(int64_t n_rows) const;
  // Highway name of the SIMD target in use, e.g. "AVX3".
  const char* target_name() const;
  int n_threads() const;

 private:
  struct Impl;
  explicit FffLayer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_FFF_H_
