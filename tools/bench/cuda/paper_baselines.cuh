// fff-cuda-bench's baselines at the FFF shape, the paper's two ways of
// computing the FFF layer: the naive kernel (one thread per token, serial
// loops over trees, levels and features; fp32) and the masked-dense training
// computation (every logit by one GEMM, GELU times the 0/1 mask of visited
// nodes, a second GEMM, and the backward GEMMs; fp32, tf32, bf16).
#ifndef FFF_TOOLS_BENCH_CUDA_PAPER_BASELINES_CUH_
#define FFF_TOOLS_BENCH_CUDA_PAPER_BASELINES_CUH_

#include <string>
#include <vector>

#include "fff/fff.h"
#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/checks.cuh"
#include "tools/bench/cuda/inputs.cuh"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {

// The naive_fwd row: checks the naive kernel on the rows `host` holds
// against their reference y (a warning), then times it over the weight sets
// w and the inputs in, accumulating into y ([n_rows, 768] fp32, zeroed by
// each call). r: the shape's row with flops and bytes filled in; skipped
// above --naive-max-visits (row, visited node) pairs.
void MeasureNaive(Ctx& ctx, const TokenInputs& in, const fff::FffShape& shape,
                  const std::vector<FffWeightSet>& w, const HostShape& host,
                  const std::string& label, DevBuf& y, Row r);

// The masked_fwd and masked_fwd_bwd rows in fp32, tf32 and bf16 (base: the
// shape's row), each precision's forward y first checked against the
// reference on its own routing (a warning). dw_in, dw_out [n_total, 768] and
// db_in [n_total] (fp32) receive the weight gradients (the FFF rows' buffers,
// so the shape's memory peak stays one set of them).
void MeasureMasked(Ctx& ctx, const TokenInputs& in, const fff::FffShape& shape,
                   const std::vector<FffWeightSet>& w, const HostShape& host,
                   const std::string& label, const Row& base, DevBuf& dw_in,
                   DevBuf& dw_out, DevBuf& db_in);

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_PAPER_BASELINES_CUH_
