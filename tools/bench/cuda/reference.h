// fff-cuda-bench's CPU references, in double precision: the FFF forward of
// one row (tree walk, exact erf GELU), the FFF gradients on a given routing,
// and the dense FF forward; and the relative error the checks compare with.
// Host-only; every layout is fff.h's (row-major, w_out node-major).
#ifndef FFF_TOOLS_BENCH_CUDA_REFERENCE_H_
#define FFF_TOOLS_BENCH_CUDA_REFERENCE_H_

#include <cstdint>
#include <vector>

#include "fff/fff.h"

namespace fff::cuda_bench {

double GeluRef(double z);      // exact: 0.5 z (1 + erf(z / sqrt 2))
double GeluGradRef(double z);  // its derivative
// 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), cuBLASLt's GELU.
double GeluTanhRef(double z);

struct HostWeights {         // fp32 values (bf16 weights converted exactly)
  std::vector<float> w_in;   // [n_total, d_in]
  std::vector<float> b_in;   // [n_total]
  std::vector<float> w_out;  // [n_total, d_out], node-major
};

// ||a - b|| / ||b|| (NaN anywhere gives NaN, which fails every tolerance).
double RelErr(const std::vector<double>& ref, const std::vector<float>& got);

struct RefRow {
  std::vector<double> y;       // [d_out]
  std::vector<int32_t> nodes;  // [n_trees * levels]
  std::vector<double> logits;  // [n_trees * levels]
  int ties = 0;                // decisions inside the rounding band
  int mismatches = 0;          // other decisions that differ from `follow`
};

// Walks one row in double. Where the reference logit lies inside the
// rounding band of zero (|z| <= 1e-4 * (sum |x_k w_k| + |b|), far above an
// fp32 dot product's error), the device's recorded decision `follow` is taken
// as right; any other disagreement is counted and the walk continues on the
// device's path (so a wrong node counts at its level and the next).
RefRow ReferenceRow(const fff::FffShape& s, const HostWeights& w,
                    const float* x, const int32_t* follow);

struct RefGrads {
  std::vector<double> dx, dw_in, db_in, dw_out;
};

// The gradients of fff.h in double on the routing `nodes` [n_rows, n_trees,
// levels] (the device's). Returns how many (row, tree) walks are not a
// root-to-leaf path (those are left out of the sums). d_model 768.
int ReferenceBackward(const fff::FffShape& shape, const HostWeights& hw,
                      const std::vector<float>& hx,
                      const std::vector<float>& hdy,
                      const std::vector<int32_t>& hn, int64_t n_rows,
                      RefGrads* out);

struct HostDense {  // fp32 set 0 and the first rows of x
  std::vector<float> w1, b1, w2, b2, x;
  int64_t rows = 0;
};

// The dense FF y = GELU(x W1^T + b1) W2^T + b2 [rows, 768] of h's rows,
// with the tanh-form GELU or the exact one.
std::vector<double> DenseForwardReference(const HostDense& h, bool tanh_gelu);

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_REFERENCE_H_
