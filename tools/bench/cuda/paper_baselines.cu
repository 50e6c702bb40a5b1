// fff-cuda-bench's baselines from the paper (paper_baselines.cuh): the naive
// kernel and the masked-dense computation's routing and masked-GELU kernels,
// and their measurements.
#include "tools/bench/cuda/paper_baselines.cuh"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fff/fff.h"
#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/checks.cuh"
#include "tools/bench/cuda/config.h"
#include "tools/bench/cuda/inputs.cuh"
#include "tools/bench/cuda/reference.h"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {
namespace {

// One thread per token; serial loops over trees, levels and features; y is
// accumulated in global memory (the caller zeroes it first). fp32, fff's
// layouts (w_out node-major). Rows past n_rows do nothing, so no write leaves
// y's n_rows x d_out elements.
__global__ void NaiveFffForwardKernel(const float* x, const float* w_in,
                                      const float* b_in, const float* w_out,
                                      float* y, int64_t n_rows, int d_in,
                                      int d_out, int n_trees, int depth,
                                      int64_t n_nodes) {
  const int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (r >= n_rows) return;
  const float* xr = x + r * d_in;
  float* yr = y + r * d_out;
  for (int t = 0; t < n_trees; ++t) {
    int64_t node = 0;
    for (int level = 0; level <= depth; ++level) {
      const int64_t g = t * n_nodes + node;
      const float* wi = w_in + g * d_in;
      float acc = 0.0f;
      for (int k = 0; k < d_in; ++k) acc += xr[k] * wi[k];
      const float z = acc + b_in[g];
      const float a = Gelu(z);
      const float* wo = w_out + g * d_out;
      for (int k = 0; k < d_out; ++k) yr[k] += a * wo[k];
      node = 2 * node + 1 + (z > 0.0f ? 1 : 0);
    }
  }
}

// Whether global node g is on row `row_nodes`' path ([n_trees, levels]):
// node n of a tree sits on level floor(log2(n+1)).
__device__ __forceinline__ bool OnPath(const int32_t* row_nodes, int64_t g,
                                       int64_t n_nodes, int levels) {
  const int64_t t = g / n_nodes;
  const int n = static_cast<int>(g - t * n_nodes);
  const int level = 31 - __clz(n + 1);
  return row_nodes[t * levels + level] == n;
}

// One thread per (row, tree): walks the tree over the precomputed logits
// z [n_rows, n_total] (bias not yet added) and records the visited nodes.
template <class T>
__global__ void MaskedRouteKernel(const T* z, const float* b_in, int64_t n_rows,
                                  int n_trees, int levels, int64_t n_nodes,
                                  int32_t* nodes) {
  const int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x;
  if (i >= n_rows * n_trees) return;
  const int64_t r = i / n_trees;
  const int64_t t = i - r * n_trees;
  const int64_t n_total = n_trees * n_nodes;
  int node = 0;
  for (int level = 0; level < levels; ++level) {
    const int64_t g = t * n_nodes + node;
    const float v = ToFloat(z[r * n_total + g]) + b_in[g];
    nodes[i * levels + level] = node;
    node = 2 * node + 1 + (v > 0.0f ? 1 : 0);
  }
}

// a = GELU(z + b) * mask, mask the 0/1 on-path indicator from the routing.
// One block per row.
template <class T>
__global__ void MaskedGeluKernel(const T* z, const float* b_in,
                                 const int32_t* nodes, T* a, int64_t n_total,
                                 int64_t n_nodes, int n_trees, int levels) {
  const int64_t r = blockIdx.x;
  const int32_t* row_nodes = nodes + r * n_trees * levels;
  for (int64_t g = threadIdx.x; g < n_total; g += blockDim.x) {
    const int64_t i = r * n_total + g;
    const float mask = OnPath(row_nodes, g, n_nodes, levels) ? 1.0f : 0.0f;
    a[i] = FromFloat<T>(Gelu(ToFloat(z[i]) + b_in[g]) * mask);
  }
}

// dz = da * mask * GELU'(z + b), in place over da. One block per row.
template <class T>
__global__ void MaskedGeluBackwardKernel(T* da, const T* z, const float* b_in,
                                         const int32_t* nodes, int64_t n_total,
                                         int64_t n_nodes, int n_trees,
                                         int levels) {
  const int64_t r = blockIdx.x;
  const int32_t* row_nodes = nodes + r * n_trees * levels;
  for (int64_t g = threadIdx.x; g < n_total; g += blockDim.x) {
    const int64_t i = r * n_total + g;
    const float mask = OnPath(row_nodes, g, n_nodes, levels) ? 1.0f : 0.0f;
    da[i] =
        FromFloat<T>(ToFloat(da[i]) * mask * GeluGrad(ToFloat(z[i]) + b_in[g]));
  }
}

}  // namespace

void MeasureNaive(Ctx& ctx, const TokenInputs& in, const fff::FffShape& shape,
                  const std::vector<FffWeightSet>& w, const HostShape& host,
                  const std::string& label, DevBuf& y, Row r) {
  const int64_t n_rows = in.n_rows;
  const int64_t n_visited = shape.n_visited();
  const int64_t n_nodes = shape.n_nodes();
  const int levels = static_cast<int>(shape.depth + 1);
  const int n_trees = static_cast<int>(shape.n_trees);
  const int n_sets = in.n_sets;
  const size_t act = static_cast<size_t>(n_rows * kDModel);
  r.what = "naive_fwd";
  r.precision = "fp32";
  r.order_kind = 2;
  r.note = "one thread per token, serial loops";
  if (n_rows * n_visited > g_opt.naive_max_visits) {
    r.status = "skipped: rows x visited nodes > --naive-max-visits";
  }
  if (host.rows > 0) {  // the checked rows alone (it accumulates into y)
    DevBuf yn(static_cast<size_t>(host.rows * kDModel) * 4);
    CUDA_CHECK(cudaMemsetAsync(yn.get(), 0, yn.bytes(), ctx.stream));
    NaiveFffForwardKernel<<<static_cast<unsigned>((host.rows + 127) / 128), 128,
                            0, ctx.stream>>>(
        in.x32[0].as<float>(), w[0].w_in32.as<float>(), w[0].b_in.as<float>(),
        w[0].w_out32.as<float>(), yn.as<float>(), host.rows,
        static_cast<int>(kDModel), static_cast<int>(kDModel), n_trees,
        levels - 1, n_nodes);
    CUDA_CHECK(cudaGetLastError());
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    const std::vector<float> got = CopyToHost<float>(yn.get(), host.y.size());
    const double e = RelErr(host.y, got);
    AddCheck({"naive kernel forward fp32 " + label + " y", e, 1e-5, e < 1e-5,
              false, std::to_string(host.rows) + " rows"});
  }
  Measure(ctx, r, [&](int rep) -> std::string {
    const FffWeightSet& ws_ = w[rep % n_sets];
    const cudaError_t e = cudaMemsetAsync(y.get(), 0, act * 4, ctx.stream);
    if (e != cudaSuccess) return cudaGetErrorString(e);
    const int threads = 128;
    const int64_t blocks = (n_rows + threads - 1) / threads;
    NaiveFffForwardKernel<<<static_cast<unsigned>(blocks), threads, 0,
                            ctx.stream>>>(
        Rows<float>(in.x32, rep), ws_.w_in32.as<float>(), ws_.b_in.as<float>(),
        ws_.w_out32.as<float>(), y.as<float>(), n_rows,
        static_cast<int>(kDModel), static_cast<int>(kDModel), n_trees,
        levels - 1, n_nodes);
    RETURN_IF_LAUNCH_ERROR();
    return "";
  });
}

void MeasureMasked(Ctx& ctx, const TokenInputs& in, const fff::FffShape& shape,
                   const std::vector<FffWeightSet>& w, const HostShape& host,
                   const std::string& label, const Row& base, DevBuf& dw_in,
                   DevBuf& dw_out, DevBuf& db_in) {
  const int64_t n_rows = in.n_rows;
  const int64_t n_total = shape.n_total_nodes();
  const int64_t n_visited = shape.n_visited();
  const int64_t n_nodes = shape.n_nodes();
  const int levels = static_cast<int>(shape.depth + 1);
  const int n_trees = static_cast<int>(shape.n_trees);
  const int n_sets = in.n_sets;
  const size_t act = static_cast<size_t>(n_rows * kDModel);
  const size_t trace = static_cast<size_t>(n_rows * n_visited);
  // Masked-dense: Z^T (n_total x N) = op_T(W_in as 768 x n_total) X^T; route;
  // A = GELU(Z + b) * mask; Y^T (768 x N) = (W_out as 768 x n_total) A^T.
  const size_t wide = static_cast<size_t>(n_rows * n_total);
  DevBuf z(wide * 4), a(wide * 4), da(wide * 4), ym(act * 4), dxm(act * 4);
  DevBuf mnodes(trace * 4);
  const int64_t d = kDModel;
  for (Prec p : {Prec::kFp32, Prec::kTf32, Prec::kBf16}) {
    const bool bf = p == Prec::kBf16;
    const cudaDataType t = AbType(p);
    const std::vector<DevBuf>& xs = bf ? in.x16 : in.x32;
    const std::vector<DevBuf>& dys = bf ? in.dy16 : in.dy32;
    const void* ones = bf ? in.ones16.get() : in.ones32.get();
    auto forward = [&, p, bf, t](int rep) -> std::string {
      const FffWeightSet& ws_ = w[rep % n_sets];
      const void* w_in = bf ? ws_.w_in16.get() : ws_.w_in32.get();
      const void* w_out = bf ? ws_.w_out16.get() : ws_.w_out32.get();
      const float* b = ws_.b_in.as<float>();
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_T, CUBLAS_OP_N, n_total,
                           n_rows, d, w_in, d, xs[rep % n_sets].get(), d,
                           z.get(), t, n_total));
      const int64_t walkers = n_rows * n_trees;
      const unsigned route_blocks =
          static_cast<unsigned>((walkers + 255) / 256);
      // Route over Z, then A = GELU(Z + b) * mask, in the run's element type.
      auto route_and_activate = [&](auto element) -> std::string {
        using T = decltype(element);
        MaskedRouteKernel<T><<<route_blocks, 256, 0, ctx.stream>>>(
            z.as<T>(), b, n_rows, n_trees, levels, n_nodes,
            mnodes.as<int32_t>());
        RETURN_IF_LAUNCH_ERROR();
        MaskedGeluKernel<T>
            <<<static_cast<unsigned>(n_rows), 256, 0, ctx.stream>>>(
                z.as<T>(), b, mnodes.as<int32_t>(), a.as<T>(), n_total, n_nodes,
                n_trees, levels);
        RETURN_IF_LAUNCH_ERROR();
        return {};
      };
      RETURN_IF_ERROR(bf ? route_and_activate(Bf16{})
                         : route_and_activate(float{}));
      return Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, d, n_rows, n_total,
                  w_out, d, a.get(), n_total, ym.get(), t, d);
    };
    auto backward = [&, p, bf, t](int rep) -> std::string {
      const FffWeightSet& ws_ = w[rep % n_sets];
      const void* w_in = bf ? ws_.w_in16.get() : ws_.w_in32.get();
      const void* w_out = bf ? ws_.w_out16.get() : ws_.w_out32.get();
      const float* b = ws_.b_in.as<float>();
      const void* x = xs[rep % n_sets].get();
      const void* dy = dys[rep % n_sets].get();
      // dA^T (n_total x N) = op_T(W_out as 768 x n_total) dY^T
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_T, CUBLAS_OP_N, n_total,
                           n_rows, d, w_out, d, dy, d, da.get(), t, n_total));
      auto gelu_backward = [&](auto element) {
        using T = decltype(element);
        MaskedGeluBackwardKernel<T>
            <<<static_cast<unsigned>(n_rows), 256, 0, ctx.stream>>>(
                da.as<T>(), z.as<T>(), b, mnodes.as<int32_t>(), n_total,
                n_nodes, n_trees, levels);
      };
      if (bf) {
        gelu_backward(Bf16{});
      } else {
        gelu_backward(float{});
      }
      RETURN_IF_LAUNCH_ERROR();
      // dW_out^T (768 x n_total) = dY^T A; dW_in^T = X^T dZ; db = dZ^T 1;
      // dX^T (768 x N) = (W_in as 768 x n_total) dZ^T.
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_T, d, n_total,
                           n_rows, dy, d, a.get(), n_total, dw_out.get(),
                           CUDA_R_32F, d));
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_T, d, n_total,
                           n_rows, x, d, da.get(), n_total, dw_in.get(),
                           CUDA_R_32F, d));
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, n_total, 1,
                           n_rows, da.get(), n_total, ones, n_rows, db_in.get(),
                           CUDA_R_32F, n_total));
      return Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, d, n_rows, n_total,
                  w_in, d, da.get(), n_total, dxm.get(), t, d);
    };
    if (host.rows > 0) {  // the baseline computes FFF: check it does
      const std::string err = forward(0);
      CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
      if (err.empty()) {
        const size_t n = static_cast<size_t>(host.rows * d);
        CheckMaskedForward(
            shape, host,
            bf ? ToHostFloat<Bf16>(ym.get(), n)
               : ToHostFloat<float>(ym.get(), n),
            CopyToHost<int32_t>(mnodes.get(),
                                static_cast<size_t>(host.rows * n_visited)),
            p, label);
      }
    }
    const double gemm_flops = 2.0 * 2.0 * n_rows * d * n_total;
    Row r = base;
    r.what = "masked_fwd";
    r.precision = PrecName(p);
    r.order_kind = 5 + static_cast<int>(p);
    r.flops = gemm_flops;
    r.note = "exact erf GELU";
    Measure(ctx, r, forward);
    r.what = "masked_fwd_bwd";
    r.order_kind = 8 + static_cast<int>(p);
    r.flops = 3.0 * gemm_flops;
    Measure(ctx, r, [&](int rep) -> std::string {
      RETURN_IF_ERROR(forward(rep));
      return backward(rep);
    });
  }
}

}  // namespace fff::cuda_bench
