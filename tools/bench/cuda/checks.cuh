// fff-cuda-bench's correctness checks, run before timing: the FFF layer
// (FffForward / FffBackward, fp32 required, bf16 a warning) and the
// masked-dense and dense baselines' outputs (warnings) against the double
// CPU reference (reference.h). Each check is recorded with AddCheck.
#ifndef FFF_TOOLS_BENCH_CUDA_CHECKS_CUH_
#define FFF_TOOLS_BENCH_CUDA_CHECKS_CUH_

#include <cstdint>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/inputs.cuh"
#include "tools/bench/cuda/reference.h"

namespace fff::cuda_bench {

// Host copies of input set 0 of one shape, for the baseline checks.
struct HostShape {
  HostWeights w;
  std::vector<float> x;   // [rows, d_in]
  std::vector<double> y;  // [rows, d_out], the reference
  int64_t rows = 0;
};

// Checks FffForward<T> with and without routing output on the first rows of
// set 0 against the double reference (fp32: required, 1e-5; bf16: reported,
// 1e-2 against the reference on the bf16-rounded inputs). Returns the number
// of distinct nodes the whole batch visits (-1 if unknown), from the fp32
// routing. `host`, when given, receives the host copies of set 0 (weights in
// T's values, the checked rows of x) for the baseline checks. T is float or
// Bf16.
template <class T>
int64_t CheckForward(Ctx& ctx, const fff::FffShape& shape,
                     const FffWeightSet& w, const TokenInputs& in,
                     const std::string& label, HostShape* host = nullptr);

// FffBackward<T> for `shape` at n_rows rows against the double reference on
// the device's routing: every row, every gradient element (unvisited rows of
// the weight gradients must come back zero; outputs are poisoned first).
// T is float or Bf16.
template <class T>
void CheckBackward(Ctx& ctx, const fff::FffShape& shape, int64_t n_rows);

// Baseline outputs (not the code under test, so failures are warnings):
// ||y - ref|| / ||ref|| over the first rows, with a precision's tolerance.
double BaselineTolerance(Prec p);

// The masked-dense forward's y [rows, 768] on its own routing `nodes`
// against the double reference of fff.h walking the same paths.
void CheckMaskedForward(const fff::FffShape& shape, const HostShape& host,
                        const std::vector<float>& y,
                        const std::vector<int32_t>& nodes, Prec p,
                        const std::string& label);

// The dense forward's first rows against the double reference with the same
// GELU form (a baseline: a failure is a warning).
void CheckDenseForward(const HostDense& h, const std::vector<float>& y,
                       bool tanh_gelu, Prec p, int64_t n_rows);

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_CHECKS_CUH_
