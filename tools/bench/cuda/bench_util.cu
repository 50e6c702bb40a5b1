// fff-cuda-bench's CUDA plumbing (bench_util.cuh): status text, the seeded
// random fill and conversions, GEMM by precision, and the event timing of
// one measurement.
#include "tools/bench/cuda/bench_util.cuh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/cuda/config.h"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {
namespace {

__host__ __device__ inline uint64_t Mix64(uint64_t z) {  // splitmix64 finaliser
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// out[i] = stddev * N(0,1), a Box-Muller draw from the hash of (seed, i).
__global__ void FillNormalKernel(float* out, size_t n, uint64_t seed,
                                 float stddev) {
  const uint64_t key = Mix64(seed);
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    const uint64_t h = Mix64(key + i);
    const float u1 = static_cast<float>((h >> 40) + 1) * 0x1p-24f;  // (0, 1]
    const float u2 = static_cast<float>((h >> 16) & 0xffffff) * 0x1p-24f;
    out[i] = stddev * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2);
  }
}

__global__ void FloatToBf16Kernel(const float* in, Bf16* out, size_t n) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    out[i] = __float2bfloat16_rn(in[i]);
  }
}

template <class T>
__global__ void FillValueKernel(T* out, size_t n, float value) {
  for (size_t i = blockIdx.x * size_t{blockDim.x} + threadIdx.x; i < n;
       i += size_t{gridDim.x} * blockDim.x) {
    out[i] = static_cast<T>(value);
  }
}

}  // namespace

std::string StatusText(const fff::Status& s) {
  if (s.ok()) return "";
  return s.message().empty()
             ? "fff status code " + std::to_string(static_cast<int>(s.code()))
             : s.message();
}

std::string BlasText(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return "";
  return std::string(what) + ": " + cublasGetStatusString(s);
}

uint64_t SeedFor(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  return Mix64(g_opt.seed ^ Mix64(a ^ Mix64(b ^ Mix64(c ^ Mix64(d)))));
}

int GridFor(size_t n, int threads) {
  const size_t blocks = (n + threads - 1) / threads;
  return static_cast<int>(std::max<size_t>(1, std::min<size_t>(blocks, 65536)));
}

void FillNormal(float* p, size_t n, uint64_t seed, float stddev,
                cudaStream_t s) {
  FillNormalKernel<<<GridFor(n), 256, 0, s>>>(p, n, seed, stddev);
  CUDA_CHECK(cudaGetLastError());
}

void ToBf16(const float* in, Bf16* out, size_t n, cudaStream_t s) {
  FloatToBf16Kernel<<<GridFor(n), 256, 0, s>>>(in, out, n);
  CUDA_CHECK(cudaGetLastError());
}

template <class T>
void FillValue(T* p, size_t n, float value, cudaStream_t s) {
  FillValueKernel<T><<<GridFor(n), 256, 0, s>>>(p, n, value);
  CUDA_CHECK(cudaGetLastError());
}
template void FillValue<float>(float*, size_t, float, cudaStream_t);
template void FillValue<Bf16>(Bf16*, size_t, float, cudaStream_t);

const char* PrecName(Prec p) {
  switch (p) {
    case Prec::kFp32:
      return "fp32";
    case Prec::kTf32:
      return "tf32";
    case Prec::kBf16:
      return "bf16";
  }
  return "?";
}
cudaDataType AbType(Prec p) {
  return p == Prec::kBf16 ? CUDA_R_16BF : CUDA_R_32F;
}
cublasComputeType_t ComputeType(Prec p) {
  return p == Prec::kTf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
}

std::string Gemm(cublasHandle_t h, Prec p, cublasOperation_t ta,
                 cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                 const void* a, int64_t lda, const void* b, int64_t ldb,
                 void* c, cudaDataType c_type, int64_t ldc) {
  const float alpha = 1.0f;
  const float beta = 0.0f;
  return BlasText(
      cublasGemmEx(h, ta, tb, static_cast<int>(m), static_cast<int>(n),
                   static_cast<int>(k), &alpha, a, AbType(p),
                   static_cast<int>(lda), b, AbType(p), static_cast<int>(ldb),
                   &beta, c, c_type, static_cast<int>(ldc), ComputeType(p),
                   CUBLAS_GEMM_DEFAULT),
      "cublasGemmEx");
}

bool OutOfTime() {
  return g_opt.time_budget_s > 0 && ElapsedS() > g_opt.time_budget_s;
}

namespace {

float EventMs(cudaEvent_t a, cudaEvent_t b) {
  float ms = 0;
  CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  return ms;
}

}  // namespace

Timed TimeIt(Ctx& ctx, const std::function<std::string(int)>& fn) {
  Timed out;
  cudaEvent_t* ev = ctx.events.data();
  auto one = [&](int rep, cudaEvent_t start, cudaEvent_t stop) -> std::string {
    CUDA_CHECK(cudaEventRecord(start, ctx.stream));
    RETURN_IF_ERROR(fn(rep));
    CUDA_CHECK(cudaEventRecord(stop, ctx.stream));
    return "";
  };
  out.error = one(0, ev[0], ev[1]);
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  if (!out.error.empty()) return out;
  double estimate_ms = EventMs(ev[0], ev[1]);
  if (estimate_ms < 1000.0) {
    out.error = one(1, ev[0], ev[1]);
    CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
    if (!out.error.empty()) return out;
    estimate_ms = EventMs(ev[0], ev[1]);
  }
  int reps = static_cast<int>(g_opt.target_ms / std::max(estimate_ms, 1e-3));
  reps = std::clamp(reps, g_opt.min_reps, g_opt.max_reps);
  if (estimate_ms > 2000.0) reps = 1;
  for (int i = 0; i < reps; ++i) {
    out.error = one(i + 2, ev[2 * i], ev[2 * i + 1]);
    if (!out.error.empty()) {
      CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
      return out;
    }
  }
  CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
  std::vector<double> us(reps);
  for (int i = 0; i < reps; ++i) {
    us[i] = 1000.0 * EventMs(ev[2 * i], ev[2 * i + 1]);
  }
  std::sort(us.begin(), us.end());
  out.reps = reps;
  out.min_us = us.front();
  out.max_us = us.back();
  out.median_us =
      reps % 2 == 1 ? us[reps / 2] : 0.5 * (us[reps / 2 - 1] + us[reps / 2]);
  return out;
}

int SetsFor(size_t working_set_bytes, int64_t l2_bytes) {
  const double need = 3.0 * static_cast<double>(l2_bytes);
  if (static_cast<double>(working_set_bytes) >= need) return 1;
  const int sets = static_cast<int>(
      std::ceil(need / std::max<double>(1.0, working_set_bytes)));
  return std::clamp(sets, 2, 8);
}

Row& Measure(Ctx& ctx, Row row, const std::function<std::string(int)>& fn) {
  if (row.status != "ok") {
    // recorded as given
  } else if (OutOfTime()) {
    row.status = "skipped: time budget";
  } else {
    const Timed t = TimeIt(ctx, fn);
    if (!t.error.empty()) {
      row.status = "error: " + t.error;
    } else {
      row.median_us = t.median_us;
      row.min_us = t.min_us;
      row.max_us = t.max_us;
      row.reps = t.reps;
    }
  }
  std::printf("[%7.1f s] %6lld %-10s %-15s %-4s %12.2f us  %s\n", ElapsedS(),
              static_cast<long long>(row.tokens), row.layer.c_str(),
              row.what.c_str(), row.precision.c_str(), row.median_us,
              row.status.c_str());
  std::fflush(stdout);
  g_report.rows.push_back(std::move(row));
  return g_report.rows.back();
}

}  // namespace fff::cuda_bench
