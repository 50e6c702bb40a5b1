// fff-cuda-bench's dense FF baseline (dense_ff.cuh): a planned cuBLASLt
// product with an epilogue, the elementwise kernels of the fallback path and
// of the GELU backward, and the measurement.
#include "tools/bench/cuda/dense_ff.cuh"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/cuda/bench_util.cuh"
#include "tools/bench/cuda/checks.cuh"
#include "tools/bench/cuda/config.h"
#include "tools/bench/cuda/inputs.cuh"
#include "tools/bench/cuda/reference.h"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {
namespace {

// Derivative of 0.5 z (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), the form
// cuBLASLt's GELU epilogue computes.
__device__ __forceinline__ float GeluTanhGrad(float z) {
  const float k = 0.79788456080286536f;
  const float inner = k * (z + 0.044715f * z * z * z);
  const float t = tanhf(inner);
  return 0.5f * (1.0f + t) +
         0.5f * z * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * z * z);
}

// pre = in + bias (stored when pre != nullptr), act = GELU_erf(pre).
// `in` may alias `act`.
template <class T>
__global__ void BiasGeluKernel(const T* in, const T* bias, T* pre, T* act,
                               int64_t n, int cols) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float v = ToFloat(in[i]) + ToFloat(bias[i % cols]);
    if (pre != nullptr) pre[i] = FromFloat<T>(v);
    act[i] = FromFloat<T>(Gelu(v));
  }
}

template <class T>
__global__ void BiasAddKernel(T* y, const T* bias, int64_t n, int cols) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = FromFloat<T>(ToFloat(y[i]) + ToFloat(bias[i % cols]));
  }
}

// dh *= GELU'(pre), with the GELU form the forward used.
template <class T>
__global__ void GeluBackwardKernel(T* dh, const T* pre, int64_t n,
                                   bool tanh_form) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float z = ToFloat(pre[i]);
    const float d = tanh_form ? GeluTanhGrad(z) : GeluGrad(z);
    dh[i] = FromFloat<T>(ToFloat(dh[i]) * d);
  }
}

// One cuBLASLt product with an epilogue, planned once (descriptors and the
// heuristic's algorithm), run many times. D is column-major m x n (ld m), of
// the precision's type; bias (length m) of the same type.
class LtMatmul {
 public:
  LtMatmul() = default;
  LtMatmul(const LtMatmul&) = delete;
  LtMatmul& operator=(const LtMatmul&) = delete;
  ~LtMatmul() {
    if (pref_) cublasLtMatmulPreferenceDestroy(pref_);
    if (d_) cublasLtMatrixLayoutDestroy(d_);
    if (b_) cublasLtMatrixLayoutDestroy(b_);
    if (a_) cublasLtMatrixLayoutDestroy(a_);
    if (desc_) cublasLtMatmulDescDestroy(desc_);
  }

  // Empty on success, else why this epilogue/type combination is unavailable.
  std::string Init(cublasLtHandle_t lt, Prec p, cublasOperation_t ta,
                   cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                   int64_t lda, int64_t ldb, cublasLtEpilogue_t epilogue,
                   const void* bias, void* aux, size_t workspace_bytes) {
    lt_ = lt;
    const cudaDataType t = AbType(p);
    RETURN_IF_ERROR(
        BlasText(cublasLtMatmulDescCreate(&desc_, ComputeType(p), CUDA_R_32F),
                 "cublasLtMatmulDescCreate"));
    const int32_t op_a = ta;
    const int32_t op_b = tb;
    const uint32_t epi = epilogue;
    RETURN_IF_ERROR(
        BlasText(cublasLtMatmulDescSetAttribute(
                     desc_, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a)),
                 "TRANSA"));
    RETURN_IF_ERROR(
        BlasText(cublasLtMatmulDescSetAttribute(
                     desc_, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b)),
                 "TRANSB"));
    RETURN_IF_ERROR(
        BlasText(cublasLtMatmulDescSetAttribute(
                     desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)),
                 "EPILOGUE"));
    has_aux_ = aux != nullptr;
    if (has_aux_) {
      const int64_t aux_ld = m;
      RETURN_IF_ERROR(BlasText(cublasLtMatmulDescSetAttribute(
                                   desc_, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD,
                                   &aux_ld, sizeof(aux_ld)),
                               "EPILOGUE_AUX_LD"));
    }
    RETURN_IF_ERROR(SetPointers(bias, aux));
    const bool a_t = ta != CUBLAS_OP_N;
    const bool b_t = tb != CUBLAS_OP_N;
    RETURN_IF_ERROR(BlasText(
        cublasLtMatrixLayoutCreate(&a_, t, a_t ? k : m, a_t ? m : k, lda),
        "layout A"));
    RETURN_IF_ERROR(BlasText(
        cublasLtMatrixLayoutCreate(&b_, t, b_t ? n : k, b_t ? k : n, ldb),
        "layout B"));
    RETURN_IF_ERROR(
        BlasText(cublasLtMatrixLayoutCreate(&d_, t, m, n, m), "layout D"));
    RETURN_IF_ERROR(BlasText(cublasLtMatmulPreferenceCreate(&pref_),
                             "cublasLtMatmulPreferenceCreate"));
    const uint64_t ws = workspace_bytes;
    RETURN_IF_ERROR(BlasText(
        cublasLtMatmulPreferenceSetAttribute(
            pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws)),
        "MAX_WORKSPACE_BYTES"));
    int found = 0;
    RETURN_IF_ERROR(
        BlasText(cublasLtMatmulAlgoGetHeuristic(lt_, desc_, a_, b_, d_, d_,
                                                pref_, 1, &algo_, &found),
                 "cublasLtMatmulAlgoGetHeuristic"));
    if (found == 0) return "cublasLtMatmulAlgoGetHeuristic: no algorithm";
    return "";
  }

  std::string Run(const void* a, const void* b, void* d, const void* bias,
                  void* aux, void* workspace, size_t workspace_bytes,
                  cudaStream_t s) {
    RETURN_IF_ERROR(SetPointers(bias, aux));
    const float alpha = 1.0f;
    const float beta = 0.0f;
    return BlasText(
        cublasLtMatmul(lt_, desc_, &alpha, a, a_, b, b_, &beta, d, d_, d, d_,
                       &algo_.algo, workspace, workspace_bytes, s),
        "cublasLtMatmul");
  }

 private:
  std::string SetPointers(const void* bias, void* aux) {
    if (bias != nullptr) {
      RETURN_IF_ERROR(BlasText(
          cublasLtMatmulDescSetAttribute(
              desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)),
          "BIAS_POINTER"));
    }
    if (has_aux_) {
      RETURN_IF_ERROR(
          BlasText(cublasLtMatmulDescSetAttribute(
                       desc_, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux,
                       sizeof(aux)),
                   "EPILOGUE_AUX_POINTER"));
    }
    return "";
  }

  cublasLtHandle_t lt_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr;
  cublasLtMatrixLayout_t b_ = nullptr;
  cublasLtMatrixLayout_t d_ = nullptr;
  cublasLtMatmulPreference_t pref_ = nullptr;
  cublasLtMatmulHeuristicResult_t algo_{};
  bool has_aux_ = false;
};

}  // namespace

// Row-major [rows, cols] buffers are cuBLAS's column-major [cols, rows];
// e.g. H^T (3072 x N) = op_T(W1 as 768 x 3072) * X^T.
void MeasureDense(Ctx& ctx, const TokenInputs& in) {
  const int64_t n_rows = in.n_rows;
  if (OutOfTime()) {
    Row r;
    r.what = "all";
    r.precision = "-";
    r.tokens = n_rows;
    r.layer = "dense-3072";
    r.order_variant = -1;
    r.status = "skipped: time budget";
    Measure(ctx, r, nullptr);
    return;
  }
  const int64_t f = kDenseHidden, d = kDModel;
  std::vector<DenseWeightSet> w32(in.n_sets), w16(in.n_sets);
  for (int s = 0; s < in.n_sets; ++s)
    MakeDenseWeights(ctx, s, &w32[s], &w16[s]);
  const size_t hidden = static_cast<size_t>(n_rows * f);
  const size_t act = static_cast<size_t>(n_rows * d);
  DevBuf h(hidden * 4), hpre(hidden * 4), dh(hidden * 4), y(act * 4),
      dx(act * 4);
  DevBuf dw1(static_cast<size_t>(f * d) * 4),
      dw2(static_cast<size_t>(f * d) * 4);
  DevBuf db1(f * 4), db2(d * 4);
  void* lt_ws = ctx.lt_workspace.get();
  const size_t lt_ws_bytes = ctx.lt_workspace.bytes();
  std::vector<std::string> gelu_notes;
  HostDense host;
  host.rows = std::min<int64_t>(n_rows, 8);
  host.w1 = CopyToHost<float>(w32[0].w1.get(), static_cast<size_t>(f * d));
  host.b1 = CopyToHost<float>(w32[0].b1.get(), static_cast<size_t>(f));
  host.w2 = CopyToHost<float>(w32[0].w2.get(), static_cast<size_t>(f * d));
  host.b2 = CopyToHost<float>(w32[0].b2.get(), static_cast<size_t>(d));
  host.x =
      CopyToHost<float>(in.x32[0].get(), static_cast<size_t>(host.rows * d));

  for (Prec p : {Prec::kFp32, Prec::kTf32, Prec::kBf16}) {
    const bool bf = p == Prec::kBf16;
    const cudaDataType t = AbType(p);
    const std::vector<DenseWeightSet>& ws = bf ? w16 : w32;
    const std::vector<DevBuf>& xs = bf ? in.x16 : in.x32;
    const std::vector<DevBuf>& dys = bf ? in.dy16 : in.dy32;
    const void* ones = bf ? in.ones16.get() : in.ones32.get();
    // cuBLASLt with fused bias + GELU where the library offers it.
    LtMatmul g1_inf, g1_train, g2;
    std::string lt_err = g1_inf.Init(
        ctx.lt, p, CUBLAS_OP_T, CUBLAS_OP_N, f, n_rows, d, d, d,
        CUBLASLT_EPILOGUE_GELU_BIAS, ws[0].b1.get(), nullptr, lt_ws_bytes);
    if (lt_err.empty()) {
      lt_err = g1_train.Init(ctx.lt, p, CUBLAS_OP_T, CUBLAS_OP_N, f, n_rows, d,
                             d, d, CUBLASLT_EPILOGUE_GELU_AUX_BIAS,
                             ws[0].b1.get(), hpre.get(), lt_ws_bytes);
    }
    if (lt_err.empty()) {
      lt_err =
          g2.Init(ctx.lt, p, CUBLAS_OP_T, CUBLAS_OP_N, d, n_rows, f, f, f,
                  CUBLASLT_EPILOGUE_BIAS, ws[0].b2.get(), nullptr, lt_ws_bytes);
    }
    bool use_lt = lt_err.empty();

    auto forward = [&, p, bf, t](int rep, bool train) -> std::string {
      const DenseWeightSet& w = ws[rep % in.n_sets];
      const void* x = xs[rep % in.n_sets].get();
      if (use_lt) {
        LtMatmul& g1 = train ? g1_train : g1_inf;
        RETURN_IF_ERROR(g1.Run(w.w1.get(), x, h.get(), w.b1.get(),
                               train ? hpre.get() : nullptr, lt_ws, lt_ws_bytes,
                               ctx.stream));
        return g2.Run(w.w2.get(), h.get(), y.get(), w.b2.get(), nullptr, lt_ws,
                      lt_ws_bytes, ctx.stream);
      }
      void* gemm_out = train ? hpre.get() : h.get();
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_T, CUBLAS_OP_N, f, n_rows, d,
                           w.w1.get(), d, x, d, gemm_out, t, f));
      if (bf) {
        BiasGeluKernel<Bf16><<<GridFor(hidden), 256, 0, ctx.stream>>>(
            static_cast<const Bf16*>(gemm_out), w.b1.as<Bf16>(),
            train ? hpre.as<Bf16>() : nullptr, h.as<Bf16>(), hidden,
            static_cast<int>(f));
      } else {
        BiasGeluKernel<float><<<GridFor(hidden), 256, 0, ctx.stream>>>(
            static_cast<const float*>(gemm_out), w.b1.as<float>(),
            train ? hpre.as<float>() : nullptr, h.as<float>(), hidden,
            static_cast<int>(f));
      }
      RETURN_IF_LAUNCH_ERROR();
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_T, CUBLAS_OP_N, d, n_rows, f,
                           w.w2.get(), f, h.get(), f, y.get(), t, d));
      if (bf) {
        BiasAddKernel<Bf16><<<GridFor(act), 256, 0, ctx.stream>>>(
            y.as<Bf16>(), w.b2.as<Bf16>(), act, static_cast<int>(d));
      } else {
        BiasAddKernel<float><<<GridFor(act), 256, 0, ctx.stream>>>(
            y.as<float>(), w.b2.as<float>(), act, static_cast<int>(d));
      }
      RETURN_IF_LAUNCH_ERROR();
      return "";
    };
    auto backward = [&, p, bf, t](int rep) -> std::string {
      const DenseWeightSet& w = ws[rep % in.n_sets];
      const void* x = xs[rep % in.n_sets].get();
      const void* dy = dys[rep % in.n_sets].get();
      // dW2 = dY^T H, db2 = dY^T 1, dH = dY W2
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_T, f, d, n_rows,
                           h.get(), f, dy, d, dw2.get(), CUDA_R_32F, f));
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, d, 1, n_rows,
                           dy, d, ones, n_rows, db2.get(), CUDA_R_32F, d));
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, f, n_rows, d,
                           w.w2.get(), f, dy, d, dh.get(), t, f));
      // dZ = dH * GELU'(pre), then dW1 = dZ^T X, db1 = dZ^T 1, dX = dZ W1
      if (bf) {
        GeluBackwardKernel<Bf16><<<GridFor(hidden), 256, 0, ctx.stream>>>(
            dh.as<Bf16>(), hpre.as<Bf16>(), hidden, use_lt);
      } else {
        GeluBackwardKernel<float><<<GridFor(hidden), 256, 0, ctx.stream>>>(
            dh.as<float>(), hpre.as<float>(), hidden, use_lt);
      }
      RETURN_IF_LAUNCH_ERROR();
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_T, d, f, n_rows,
                           x, d, dh.get(), f, dw1.get(), CUDA_R_32F, d));
      RETURN_IF_ERROR(Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, f, 1, n_rows,
                           dh.get(), f, ones, n_rows, db1.get(), CUDA_R_32F,
                           f));
      return Gemm(ctx.blas, p, CUBLAS_OP_N, CUBLAS_OP_N, d, n_rows, f,
                  w.w1.get(), d, dh.get(), f, dx.get(), t, d);
    };

    // A trial of both forwards (an epilogue the heuristic offered can still
    // fail at run time: then cuBLAS + separate kernels), then y's first rows
    // against the double reference.
    auto trial = [&]() {
      std::string err = forward(0, true);
      if (err.empty()) err = forward(0, false);
      CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
      return err;
    };
    std::string trial_err = trial();
    if (!trial_err.empty() && use_lt) {
      lt_err = trial_err;
      use_lt = false;
      trial_err = trial();
    }
    const std::string gelu =
        use_lt ? "cuBLASLt epilogue GELU_BIAS (cuBLASLt's tanh-form GELU)"
               : "exact erf GELU in a separate kernel (cuBLASLt epilogue "
                 "unavailable: " +
                     lt_err + ")";
    gelu_notes.push_back(std::string(PrecName(p)) + ": " + gelu);
    if (trial_err.empty()) {
      const size_t n = static_cast<size_t>(host.rows * d);
      CheckDenseForward(
          host,
          bf ? ToHostFloat<Bf16>(y.get(), n) : ToHostFloat<float>(y.get(), n),
          use_lt, p, n_rows);
    }

    Row base;
    base.precision = PrecName(p);
    base.tokens = n_rows;
    base.layer = "dense-3072";
    base.order_variant = -1;
    base.n_sets = in.n_sets;
    base.note = use_lt ? "GELU: cuBLASLt epilogue (tanh form)"
                       : "GELU: exact erf, separate kernel";
    const double gemm_flops = 2.0 * 2.0 * n_rows * d * f;
    Row r = base;
    r.what = "dense_fwd";
    r.order_kind = 10;
    r.flops = gemm_flops;
    Measure(ctx, r, [&](int rep) { return forward(rep, false); });
    r = base;
    r.what = "dense_fwd_bwd";
    r.order_kind = 11;
    r.flops = 3.0 * gemm_flops;
    Measure(ctx, r, [&](int rep) -> std::string {
      RETURN_IF_ERROR(forward(rep, true));
      return backward(rep);
    });
  }
  std::string joined;
  for (const std::string& s : gelu_notes)
    joined += (joined.empty() ? "" : "; ") + s;
  g_report.dense_gelu = joined;
}

}  // namespace fff::cuda_bench
