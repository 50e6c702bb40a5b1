// The original fast feedforward network ("Fast Feedforward Networks",
// Belcak & Wattenhofer 2023; the `fastfeedforward` package): a binary tree
// of routers whose leaves are small feedforward networks. Training mixes
// every leaf softly (src/torch/leaf_fff_torch.h); inference, computed here,
// routes each row to one leaf and evaluates only that leaf.
//
// ---- Vocabulary --------------------------------------------------------
// depth:      D router levels: n_routers = 2^D - 1 routers (internal nodes)
//             and n_leaves = 2^D leaves. D = 0 is a single leaf (a plain
//             feedforward of width leaf_width). This is the package's
//             `depth`; it is NOT UltraFastBERT's (fff.h), whose depth-D tree
//             has D+1 levels of neurons.
// router:     breadth-first index: root 0, children of r are 2r+1 (left) and
//             2r+2 (right); a child index >= n_routers is leaf
//             (child - n_routers).
// leaf_width: hidden units of each leaf network.
//
// ---- Semantics (hard inference) ----------------------------------------
// For one row x (d_in values): start at router r = 0 and, D times,
//   z = x . router_w[r] + router_b[r];   r = 2r + 1 + (z >= 0)
// (z == 0 goes RIGHT, the package's rule; UltraFastBERT sends it left), then
// with leaf l = r - n_routers:
//   h[k] = act(x . leaf_w1[l][k] + leaf_b1[l][k])         k < leaf_width
//   y    = sum_k h[k] * leaf_w2[l][k] + leaf_b2[l]
// summed in k order, the bias last. The package's own inference path leaves
// out leaf_b2 (which its training adds); fff includes it, so inference is
// the limit of training with saturated routers.
//
// ---- Layouts -------------------------------------------------------------
// x         [n_rows, d_in]              row-major (stride >= d_in)
// y         [n_rows, d_out]             row-major (stride >= d_out)
// router_w  [n_routers, d_in]           the package's node_weights
// router_b  [n_routers]                 node_biases ([n_routers, 1])
// leaf_w1   [n_leaves, leaf_width, d_in]
//                                       HIDDEN-MAJOR: the package's w1s
//                                       [n_leaves, d_in, width] transposed
//                                       per leaf (RepackFastFeedForwardW1),
//                                       so each hidden unit is one row
// leaf_b1   [n_leaves, leaf_width]      b1s
// leaf_w2   [n_leaves, leaf_width, d_out]  w2s (same layout)
// leaf_b2   [n_leaves, d_out]           b2s
// leaves    [n_rows]                    the leaf each row reached
#ifndef FFF_LEAF_FFF_H_
#define FFF_LEAF_FFF_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "fff/status.h"
#include "fff/tensor.h"

namespace fff {

// Router and leaf indices are int32; 2^depth leaves must fit.
inline constexpr int64_t kLeafFffMaxDepth = 30;

enum class LeafActivation { kRelu, kGelu };  // GELU: exact erf form
const char* LeafActivationName(LeafActivation activation);

struct LeafFffShape {
  int64_t d_in = 0;
  int64_t d_out = 0;
  int64_t depth = 0;
  int64_t leaf_width = 0;
  LeafActivation activation = LeafActivation::kRelu;

  // 2^depth - 1 and 2^depth. Precondition: 0 <= depth <= kLeafFffMaxDepth.
  int64_t n_routers() const { return (int64_t{1} << depth) - 1; }
  int64_t n_leaves() const { return int64_t{1} << depth; }
};

// OK when every field is in range; otherwise names the field with expected
// vs got, e.g. "fff: leaf_width: expected >= 1, got 0".
Status ValidateLeafFffShape(const LeafFffShape& shape);

// Non-owning views of the six weight tensors (layouts above).
struct LeafFffWeightsView {
  std::span<const float> router_w;
  std::span<const float> router_b;
  std::span<const float> leaf_w1;  // hidden-major
  std::span<const float> leaf_b1;
  std::span<const float> leaf_w2;
  std::span<const float> leaf_b2;
};

// OK when every span is non-null and exactly the size the shape needs.
Status ValidateLeafFffWeights(const LeafFffShape& shape,
                              const LeafFffWeightsView& w);

// Owning weights (conversions return them).
struct LeafFffWeights {
  LeafFffShape shape;
  std::vector<float> router_w, router_b, leaf_w1, leaf_b1, leaf_w2, leaf_b2;
  LeafFffWeightsView view() const {
    return {router_w, router_b, leaf_w1, leaf_b1, leaf_w2, leaf_b2};
  }
};

// The package's w1s [n_leaves, d_in, leaf_width] into fff's hidden-major
// leaf_w1 [n_leaves, leaf_width, d_in]. Both spans hold exactly n_leaves *
// d_in * leaf_width floats and must not overlap.
Status RepackFastFeedForwardW1(const LeafFffShape& shape,
                               std::span<const float> package_w1s,
                               std::span<float> leaf_w1);

// An UltraFastBERT FFF with one tree of depth D as a leaf FFF of depth D:
// its levels 0..D-1 become the routers (same weights), and every leaf
// network holds the D+1 neurons of its root-to-leaf path (leaf_width D+1,
// GELU, W1/b1 rows = the path's w_in/b_in, W2 rows = the path's w_out,
// b2 = 0; ancestors are copied into every leaf below them, so the weights
// grow from 2^(D+1)-1 to 2^D (D+1) + 2^D - 1 rows). The two compute the
// same function except at a router logit of exactly 0, which UltraFastBERT
// routes left and the leaf FFF right (and up to float rounding, as the sums
// run in another order). There is no exact conversion the other way: a
// leaf FFF's routers add nothing to the output and its leaves need not
// share rows along paths. n_trees must be 1 (an UltraFastBERT FFF with T
// trees is the sum of T leaf FFFs). docs/leaf_fff.md.
Result<LeafFffWeights> LeafFffFromUltraFastBert(const FffShape& shape,
                                                const FffWeightsView& weights);

struct LeafFffOptions {
  // Threads for Forward: 0 = OpenMP's maximum (OMP_NUM_THREADS or cores).
  int n_threads = 0;
  // SIMD target by Highway name; empty = FFF_CPU_TARGET or the best the CPU
  // supports (as FffOptions::target).
  std::string target;
};

// A planned leaf FFF for hard inference: validated shape, chosen SIMD
// target, scratch sized once (Forward allocates nothing). Rows are routed
// (each alone), then grouped by leaf so a leaf's weights are read once per
// group; every row's arithmetic is the same whatever its group, block or
// thread, so results are bitwise independent of batch composition and
// thread count for a given target. The weights are viewed, not copied: they
// must outlive the layer. Thread safety: one Forward at a time per layer.
class LeafFffLayer {
 public:
  static Result<LeafFffLayer> Create(const LeafFffShape& shape,
                                     const LeafFffWeightsView& weights,
                                     const LeafFffOptions& options = {});
  LeafFffLayer(LeafFffLayer&&) noexcept;
  LeafFffLayer& operator=(LeafFffLayer&&) noexcept;
  ~LeafFffLayer();

  // y = LeafFFF(x) (overwritten). x: [n_rows, d_in], y: [n_rows, d_out];
  // n_rows may be 0; x and y must not overlap. `leaves`, when not empty,
  // receives each row's leaf ([n_rows]).
  Status Forward(MatrixView<const float> x, MatrixView<float> y,
                 std::span<int32_t> leaves = {});

  const LeafFffShape& shape() const;
  const char* target_name() const;
  int n_threads() const;

 private:
  struct Impl;
  explicit LeafFffLayer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff

#endif  // FFF_LEAF_FFF_H_
