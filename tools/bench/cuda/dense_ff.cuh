// fff-cuda-bench's dense baseline: BERT's FF 768 -> 3072 -> 768,
// y = GELU(x W1^T + b1) W2^T + b2, forward and forward+backward on
// cuBLAS / cuBLASLt in fp32, tf32 and bf16.
#ifndef FFF_TOOLS_BENCH_CUDA_DENSE_FF_CUH_
#define FFF_TOOLS_BENCH_CUDA_DENSE_FF_CUH_

#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/inputs.cuh"

namespace fff::cuda_bench {

// Times the dense FF forward and forward+backward at in.n_rows tokens in
// each precision (rows dense_fwd, dense_fwd_bwd), after checking y's first
// rows against the double reference (a warning). The first product uses
// cuBLASLt's GELU_BIAS / GELU_AUX_BIAS epilogue, the second BIAS; where the
// library lacks them or they fail at run time, cublasGemmEx plus an exact-erf
// bias + GELU kernel. Records which in g_report.dense_gelu and the rows'
// notes. Skipped (one row) once the time budget is spent.
void MeasureDense(Ctx& ctx, const TokenInputs& in);

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_DENSE_FF_CUH_
