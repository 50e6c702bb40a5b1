// fff-cuda-bench's CUDA plumbing: error checking (fatal outside a timed call,
// returned as text inside one), device buffers and copies to the host, the
// seeded random fill and bf16 conversion, element conversion and the exact
// GELU on the device, cuBLAS GEMM by precision, and the timing of one
// measurement (CUDA events, median) that records a report row.
#ifndef FFF_TOOLS_BENCH_CUDA_BENCH_UTIL_CUH_
#define FFF_TOOLS_BENCH_CUDA_BENCH_UTIL_CUH_

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "fff/status.h"
#include "src/cuda/fff_cuda_common.cuh"
#include "tools/bench/cuda/report.h"

namespace fff::cuda_bench {

using Bf16 = __nv_bfloat16;

// ---- Error checking ---------------------------------------------------------

#define FFF_STR2_(x) #x
#define FFF_STR_(x) FFF_STR2_(x)
#define FFF_WHERE_ __FILE__ ":" FFF_STR_(__LINE__) ": "

// Fatal on any CUDA / cuBLAS error outside a timed call.
#define CUDA_CHECK(expr)                                                       \
  do {                                                                         \
    const cudaError_t e_ = (expr);                                             \
    if (e_ != cudaSuccess) {                                                   \
      Fatal(std::string(FFF_WHERE_ #expr ": ") + cudaGetErrorName(e_) + ": " + \
            cudaGetErrorString(e_));                                           \
    }                                                                          \
  } while (0)
#define CUBLAS_CHECK(expr)                                                   \
  do {                                                                       \
    const cublasStatus_t s_ = (expr);                                        \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                       \
      Fatal(std::string(FFF_WHERE_ #expr ": ") + cublasGetStatusString(s_)); \
    }                                                                        \
  } while (0)

// Inside a timed call: returns the error text instead.
#define RETURN_IF_ERROR(expr)       \
  do {                              \
    std::string err_ = (expr);      \
    if (!err_.empty()) return err_; \
  } while (0)
#define RETURN_IF_LAUNCH_ERROR()                                          \
  do {                                                                    \
    const cudaError_t e_ = cudaGetLastError();                            \
    if (e_ != cudaSuccess) {                                              \
      return std::string(FFF_WHERE_ "launch: ") + cudaGetErrorString(e_); \
    }                                                                     \
  } while (0)

// Empty for OK, else the status's message (or its code).
std::string StatusText(const fff::Status& s);
// Empty for success, else "what: <cuBLAS status>".
std::string BlasText(cublasStatus_t s, const char* what);

// ---- Device memory ----------------------------------------------------------

// Owns one cudaMalloc allocation (256-byte aligned).
class DevBuf {
 public:
  DevBuf() = default;
  explicit DevBuf(size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    const cudaError_t e = cudaMalloc(&ptr_, bytes);
    if (e != cudaSuccess) {
      Fatal("cudaMalloc of " + std::to_string(bytes) +
            " bytes: " + cudaGetErrorString(e));
    }
  }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
  DevBuf(DevBuf&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) {
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  DevBuf& operator=(DevBuf&& o) noexcept {
    if (this != &o) {
      Release();
      ptr_ = o.ptr_;
      bytes_ = o.bytes_;
      o.ptr_ = nullptr;
      o.bytes_ = 0;
    }
    return *this;
  }
  ~DevBuf() { Release(); }

  template <class T>
  T* as() const {
    return static_cast<T*>(ptr_);
  }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }

 private:
  void Release() {
    if (ptr_ != nullptr) CUDA_CHECK(cudaFree(ptr_));
    ptr_ = nullptr;
  }
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

template <class T>
std::vector<T> CopyToHost(const void* src, size_t count) {
  std::vector<T> out(count);
  // The timed stream is non-blocking: wait for all work before the copy.
  CUDA_CHECK(cudaDeviceSynchronize());
  if (count > 0) {
    CUDA_CHECK(
        cudaMemcpy(out.data(), src, count * sizeof(T), cudaMemcpyDeviceToHost));
  }
  return out;
}

// ---- Random fill, conversion ------------------------------------------------

// A seed for one tensor: the run's --seed mixed with up to four tags.
uint64_t SeedFor(uint64_t a, uint64_t b = 0, uint64_t c = 0, uint64_t d = 0);

// Blocks for a grid-stride kernel over n elements (1 .. 65536).
int GridFor(size_t n, int threads = 256);

// p[i] = stddev * N(0,1), a Box-Muller draw from the hash of (seed, i);
// enqueued on s.
void FillNormal(float* p, size_t n, uint64_t seed, float stddev,
                cudaStream_t s);
// out[i] = in[i] rounded to bf16 (nearest even); enqueued on s.
void ToBf16(const float* in, Bf16* out, size_t n, cudaStream_t s);
// p[i] = value; T is float or Bf16. Enqueued on s.
template <class T>
void FillValue(T* p, size_t n, float value, cudaStream_t s);

// Element conversions and the exact GELU with its derivative: the FFF
// layer's own (src/cuda/fff_cuda_common.cuh).
using ::fff::cuda::detail::FromFloat;
using ::fff::cuda::detail::Gelu;
using ::fff::cuda::detail::GeluGrad;
using ::fff::cuda::detail::ToFloat;

// count elements of T at src (device), as floats on the host.
template <class T>
std::vector<float> ToHostFloat(const void* src, size_t count) {
  const std::vector<T> raw = CopyToHost<T>(src, count);
  std::vector<float> out(count);
  for (size_t i = 0; i < count; ++i) out[i] = ToFloat(raw[i]);
  return out;
}

// ---- GEMMs ----------------------------------------------------------------

enum class Prec { kFp32, kTf32, kBf16 };

const char* PrecName(Prec p);
// The A/B element type of a precision (bf16 or fp32).
cudaDataType AbType(Prec p);
// fp32 compute, or fp32 with tf32 inputs for kTf32.
cublasComputeType_t ComputeType(Prec p);

// Column-major C[m x n] = op(A) op(B) with alpha 1, beta 0: A/B of the
// precision's type, C of c_type, fp32 (or tf32) compute.
std::string Gemm(cublasHandle_t h, Prec p, cublasOperation_t ta,
                 cublasOperation_t tb, int64_t m, int64_t n, int64_t k,
                 const void* a, int64_t lda, const void* b, int64_t ldb,
                 void* c, cudaDataType c_type, int64_t ldc);

// ---- Timing -----------------------------------------------------------------

struct Ctx {
  cudaStream_t stream = nullptr;
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  DevBuf lt_workspace;
  int64_t l2_bytes = 0;
  std::vector<cudaEvent_t> events;  // 2 per repetition
};

struct Timed {
  std::string error;
  double median_us = NAN;
  double min_us = NAN;
  double max_us = NAN;
  int reps = 0;
};

// Whether --time-budget-s is spent.
bool OutOfTime();

// Times fn(rep) (which enqueues one call on ctx.stream, rotating its inputs
// by rep): two warm-up calls, then as many timed calls as fit target_ms
// (within min/max reps), each between two events; the median is reported.
Timed TimeIt(Ctx& ctx, const std::function<std::string(int)>& fn);

// How many input sets to rotate through so that one pass over them is well
// past the L2 (a working set that fits would be timed from the cache).
int SetsFor(size_t working_set_bytes, int64_t l2_bytes);

// Times fn and records the row; a row whose status is already set (skipped)
// is recorded untimed, and so is every row once the time budget is spent.
Row& Measure(Ctx& ctx, Row row, const std::function<std::string(int)>& fn);

}  // namespace fff::cuda_bench

#endif  // FFF_TOOLS_BENCH_CUDA_BENCH_UTIL_CUH_
