// Test and benchmark helpers for the FFF layer: deterministic random weights
// and inputs, the double-precision reference with per-element error bounds
// derived from the arithmetic, inputs resampled to keep a margin from zero
// logits, and a comparison that tells routing flips from numeric errors.
#ifndef FFF_TESTS_TESTING_FFF_TESTING_H_
#define FFF_TESTS_TESTING_FFF_TESTING_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "src/base/aligned_buffer.h"

namespace fff::testing {

// Unit roundoff of float (2^-24).
inline constexpr double kFloatU = 1.0 / (1 << 24);
// max |GELU'(z)| (attained near z = 2.42), bounds how a logit error moves the
// activation.
inline constexpr double kGeluLipschitz = 1.13;
// Allowed error of the vectorised GELU beyond the float result's rounding.
inline constexpr double kGeluAbsError = 2e-7;

// Owning FFF weights in fff's layouts, 64-byte aligned as the model's are.
struct FffWeights {
  FffShape shape;
  AlignedVector<float> w_in;   // [n_total, d_in]
  AlignedVector<float> b_in;   // [n_total]
  AlignedVector<float> w_out;  // [n_total, d_out] node-major
  FffWeightsView view() const { return {w_in, b_in, w_out}; }
};

// Seeded weights with logits of order one: w_in ~ U(-1,1) sqrt(3/d_in),
// b_in ~ U(-0.5, 0.5), w_out ~ U(-1, 1). Never zero.
FffWeights MakeRandomWeights(const FffShape& shape, uint64_t seed);

// Seeded weights as crammedBERT initialises them (every Linear N(0, 0.02)),
// with N(0, 0.02) biases instead of zeros: with unit-variance inputs the
// logits have a spread of 0.02 sqrt(d_in) and routing is balanced (each
// child about equally likely), the least favourable case for sharing nodes
// between rows. Used by the benchmarks.
FffWeights MakeInitWeights(const FffShape& shape, uint64_t seed);

// `n_rows` x `cols` N(0, 1) values (as after a LayerNorm), row-major.
std::vector<float> MakeNormalRows(int64_t n_rows, int64_t cols, uint64_t seed);

// `n_rows` rows of `cols` U(-1, 1) values at row stride `stride`, starting
// `offset` floats into the returned buffer (to test misaligned views).
std::vector<float> MakeRandomRows(int64_t n_rows, int64_t cols, int64_t stride,
                                  int64_t offset, uint64_t seed);

// The double-precision reference of one batch plus the error a correct float
// implementation may show, derived per element:
//   logit:  |dz| <= (d_in + 2) u (sum_i |x_i w_i| + |b|)   (any summation
//           order, with or without FMA)
//   output: |dy_o| <= sum_k (1.13 |dz_k| + 2e-7 + u |a_k|) |w_out_ko|
//                     + (n_visited + 1) u sum_k |a_k w_out_ko|
struct FffReference {
  FffShape shape;
  int64_t n_rows = 0;
  std::vector<double> y;        // [n_rows, d_out]
  std::vector<double> y_bound;  // [n_rows, d_out]
  std::vector<int32_t> nodes;   // [n_rows, n_trees, depth+1] within tree
  std::vector<double> logits;   // [n_rows, n_trees, depth+1]
  std::vector<double> logit_bound;
};

FffReference ComputeReference(const FffWeights& w, const float* x,
                              int64_t x_stride, int64_t n_rows);

// Redraws rows of x (in place, from `seed`) until every visited logit is more
// than twice its error bound away from zero, so a correct float kernel cannot
// route differently. Returns the number of redraws.
int64_t ResampleForMargin(const FffWeights& w, float* x, int64_t x_stride,
                          int64_t n_rows, uint64_t seed);

// The double-precision gradients of one batch (fff/fff.h, Gradients), added
// to given initial weight gradients, with per-element error bounds derived
// from the float arithmetic (u = 2^-24, dz and a per visit, cnt = rows that
// visit the node):
//   da:     (d_out + 1) u sum_o |dy_o w_out_o|        (float dot)
//   GELU':  0.8 |dlogit| + 4u (|Phi| + |z phi|) + 2u  (|GELU''| <= 0.8)
//   dz:     |dda| (|GELU'| + dGELU') + |da| dGELU' + u |dz|
//   dx_i:   sum_k |ddz_k w_in_ki| + (n_visited + 1) u sum_k |dz_k w_in_ki|
//   dw_in:  sum_r |ddz_r x_ri| + (cnt + 1) u (|g0| + sum_r |dz_r x_ri|)
//   db_in:  sum_r |ddz_r| + (cnt + 1) u (|g0| + sum_r |dz_r|)
//   dw_out: sum_r da_r |dy_ro| + (cnt + 1) u (|g0| + sum_r |a_r dy_ro|)
//           with da_r the activation bound of the forward.
struct FffBackwardReference {
  std::vector<double> dx, dx_bound;          // [n_rows, d_in]
  std::vector<double> dw_in, dw_in_bound;    // [n_total, d_in]
  std::vector<double> db_in, db_in_bound;    // [n_total]
  std::vector<double> dw_out, dw_out_bound;  // [n_total, d_out] node-major
  std::vector<uint8_t> visited;              // [n_total]: any row visits it
};

// `fwd` is ComputeReference of the same batch; dw_in0, db_in0, dw_out0 are
// the initial gradients (the kernel accumulates into them).
FffBackwardReference ComputeBackwardReference(
    const FffWeights& w, const FffReference& fwd, const float* x,
    int64_t x_stride, const float* dy, int64_t dy_stride,
    const std::vector<float>& dw_in0, const std::vector<float>& db_in0,
    const std::vector<float>& dw_out0);

// The worst |got - want| / bound over n elements (> 1 fails); `at` receives
// its index. NaN counts as a failure.
double WorstRatio(const float* got, const std::vector<double>& want,
                  const std::vector<double>& bound, int64_t* at);

// One mismatch: a routing flip, or the worst numeric error.
struct FffComparison {
  bool ok = true;
  // Routing: the first flip found (row, tree, level) and its reference logit.
  int64_t n_flips = 0;
  int64_t flip_row = -1, flip_tree = -1, flip_level = -1;
  double flip_logit = 0;
  // Numerics (only meaningful without flips): worst error / bound ratio.
  int64_t worst_row = -1, worst_col = -1;
  double worst_got = 0, worst_want = 0, worst_err = 0, worst_bound = 0;
  double worst_ratio = 0;  // err / bound; > 1 fails
  std::string Describe() const;
};

// Compares y (row stride y_stride) and, when given, the visited nodes against
// the reference. A routing flip is reported as such (rows that route
// differently are excluded from the numeric check).
FffComparison Compare(const FffReference& ref, const float* y, int64_t y_stride,
                      const int32_t* nodes);

}  // namespace fff::testing

#endif  // FFF_TESTS_TESTING_FFF_TESTING_H_
