// Device building blocks shared by the FFF forward and backward kernels
// (internal to fff_cuda): element conversion, vector loads, warp sums, GELU
// and its derivative, and the host-side launch planning both use.
#ifndef FFF_SRC_CUDA_FFF_CUDA_COMMON_CUH_
#define FFF_SRC_CUDA_FFF_CUDA_COMMON_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "fff/fff.h"
#include "fff/status.h"
#include "src/cuda/cuda_status.h"

namespace fff::cuda::detail {

// Threads per block of the warp-per-row kernels, and rows (warps) per block.
inline constexpr int kWarpSize = 32;
inline constexpr int kMaxWarpsPerBlock = 8;

// Element conversions (host and device: the benchmark uses them on both).
__host__ __device__ __forceinline__ float ToFloat(float v) { return v; }
__host__ __device__ __forceinline__ float ToFloat(__nv_bfloat16 v) {
  return __bfloat162float(v);
}

template <class T>
__host__ __device__ __forceinline__ T FromFloat(float v);
template <>
__host__ __device__ __forceinline__ float FromFloat<float>(float v) {
  return v;
}
template <>
__host__ __device__ __forceinline__ __nv_bfloat16
FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// out[0..V) = p[0..V) as floats. V > 1 reads 16 bytes at once: p must be
// 16-byte aligned (the host picks V only when every row start is).
template <class T, int V>
__device__ __forceinline__ void LoadF(const T* __restrict__ p, float* out) {
  if constexpr (V == 1) {
    out[0] = ToFloat(p[0]);
  } else if constexpr (sizeof(T) == 4) {
    static_assert(V == 4, "fp32 vectors are float4");
    const float4 v = *reinterpret_cast<const float4*>(p);
    out[0] = v.x;
    out[1] = v.y;
    out[2] = v.z;
    out[3] = v.w;
  } else {
    static_assert(V == 8, "bf16 vectors are 8 values (16 bytes)");
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float2 f = __bfloat1622float2(h[i]);
      out[2 * i] = f.x;
      out[2 * i + 1] = f.y;
    }
  }
}

// p[0..V) = in[0..V) converted to T (same alignment rule as LoadF).
template <class T, int V>
__device__ __forceinline__ void StoreF(T* __restrict__ p, const float* in) {
  if constexpr (V == 1) {
    p[0] = FromFloat<T>(in[0]);
  } else if constexpr (sizeof(T) == 4) {
    *reinterpret_cast<float4*>(p) = make_float4(in[0], in[1], in[2], in[3]);
  } else {
    uint4 raw;
    __nv_bfloat162* h = reinterpret_cast<__nv_bfloat162*>(&raw);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      h[i] = __floats2bfloat162_rn(in[2 * i], in[2 * i + 1]);
    }
    *reinterpret_cast<uint4*>(p) = raw;
  }
}

// Sum over the warp by an xor butterfly: at every step lanes i and i^m add
// the same two values (addition commutes), so every lane ends with the same
// bits and all lanes take the same routing branch.
__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int m = 16; m > 0; m >>= 1) v += __shfl_xor_sync(0xffffffffu, v, m);
  return v;
}

// This lane's part of dot(a, b) over n elements: vectors of V at
// lane*V + 32*V*j. Preconditions: n % V == 0.
template <class T, int V>
__device__ __forceinline__ float DotPart(const T* __restrict__ a,
                                         const T* __restrict__ b, int64_t n,
                                         int lane) {
  float acc = 0.0f;
#pragma unroll 4
  for (int64_t i = int64_t{lane} * V; i < n; i += kWarpSize * V) {
    float av[V], bv[V];
    LoadF<T, V>(a + i, av);
    LoadF<T, V>(b + i, bv);
#pragma unroll
    for (int j = 0; j < V; ++j) acc = fmaf(av[j], bv[j], acc);
  }
  return acc;
}

// Exact GELU, 0.5 z (1 + erf(z / sqrt 2)), and its derivative
// Phi(z) + z phi(z) (also what fff-cuda-bench's masked-dense baseline uses).
__device__ __forceinline__ float Gelu(float z) {
  return 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
}
__device__ __forceinline__ float GeluGrad(float z) {
  const float cdf = 0.5f * (1.0f + erff(z * 0.70710678118654752f));
  const float pdf = 0.39894228040143268f * expf(-0.5f * z * z);
  return fmaf(z, pdf, cdf);
}

// The calling warp's place in a warp-per-row kernel and its slice of the
// block's dynamic shared memory: n_visited int32 (a node per visit) and
// n_visited floats per warp, laid out [warps][nv] ints then [warps][nv]
// floats (PlanRowLaunch sizes it).
struct WarpRows {
  int lane, warp, warps;
  int32_t* node;  // this warp's n_visited nodes
  float* value;   // this warp's n_visited values
  // The first row of this warp and the stride between its rows.
  __device__ int64_t first_row() const {
    return int64_t{blockIdx.x} * warps + warp;
  }
  __device__ int64_t row_stride() const { return int64_t{gridDim.x} * warps; }
};
__device__ __forceinline__ WarpRows GetWarpRows(unsigned char* smem,
                                                int64_t nv) {
  WarpRows w;
  w.warp = threadIdx.x / kWarpSize;
  w.lane = threadIdx.x % kWarpSize;
  w.warps = blockDim.x / kWarpSize;
  w.node = reinterpret_cast<int32_t*>(smem) + w.warp * nv;
  w.value = reinterpret_cast<float*>(smem + sizeof(int32_t) * nv * w.warps) +
            w.warp * nv;
  return w;
}

// ---- Host side
// ---------------------------------------------------------------

// Elements per vector access for T when every row start of the listed
// row lengths and base pointers is 16-byte aligned; else 1.
template <class T>
constexpr int kVecElems = 16 / sizeof(T);

inline bool Aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Warp-per-row launch: each warp keeps its row's visits (node and a float)
// in shared memory, n_visited * 8 bytes. Picks warps per block so that fits
// the default 48 KB (or the opt-in maximum for a single warp); error when
// even one warp's visits exceed what the device allows.
struct RowLaunch {
  int warps_per_block = 0;
  size_t smem_bytes = 0;  // dynamic shared memory per block
  int grid = 0;
};

inline Status PlanRowLaunch(int64_t n_rows, int64_t n_visited,
                            const void* kernel, RowLaunch* out) {
  int device = 0;
  FFF_CUDA_RETURN_IF_ERROR(cudaGetDevice(&device), "cudaGetDevice");
  int sms = 0, optin = 0;
  FFF_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device),
      "cudaDeviceGetAttribute(multiprocessors)");
  FFF_CUDA_RETURN_IF_ERROR(
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin,
                             device),
      "cudaDeviceGetAttribute(shared memory opt-in)");
  const size_t per_warp = static_cast<size_t>(n_visited) * 8;
  constexpr size_t kDefaultSmem = 48 * 1024;
  int warps = kMaxWarpsPerBlock;
  while (warps > 1 && per_warp * warps > kDefaultSmem) --warps;
  const size_t smem = per_warp * warps;
  if (smem > static_cast<size_t>(optin)) {
    return OutOfRangeError(
        "fff cuda: n_trees * (depth+1) = " + std::to_string(n_visited) +
        " visits per row need " + std::to_string(per_warp) +
        " bytes of shared memory per row; this device allows " +
        std::to_string(optin));
  }
  if (smem > kDefaultSmem) {
    FFF_CUDA_RETURN_IF_ERROR(
        cudaFuncSetAttribute(kernel,
                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem)),
        "cudaFuncSetAttribute(dynamic shared memory)");
  }
  const int64_t blocks = (n_rows + warps - 1) / warps;
  const int64_t cap = int64_t{sms} * 32;  // grid-stride beyond this
  out->warps_per_block = warps;
  out->smem_bytes = smem;
  out->grid = static_cast<int>(blocks < cap ? blocks : cap);
  return Status::Ok();
}

// Launches a warp-per-row kernel over p.n_rows rows with
// n_visited = p.n_trees * (p.depth + 1) visits per row (PlanRowLaunch).
template <class Params>
Status LaunchWarpRows(void (*kernel)(Params), const Params& p,
                      cudaStream_t stream, const char* name) {
  RowLaunch plan;
  FFF_RETURN_IF_ERROR(PlanRowLaunch(p.n_rows, p.n_trees * (p.depth + 1),
                                    reinterpret_cast<const void*>(kernel),
                                    &plan));
  kernel<<<plan.grid, plan.warps_per_block * kWarpSize, plan.smem_bytes,
           stream>>>(p);
  return CheckLaunch(stream, name);
}

// Checks shared by forward and backward: the shape, n_rows, and that the
// named device pointers are non-null.
inline Status CheckCommon(const FffShape& shape, int64_t n_rows) {
  FFF_RETURN_IF_ERROR(ValidateFffShape(shape));
  if (n_rows < 0) {
    return InvalidArgumentError("fff cuda: n_rows: expected >= 0, got " +
                                std::to_string(n_rows));
  }
  return Status::Ok();
}

inline Status CheckPointer(const void* p, const char* name) {
  if (p == nullptr) {
    return InvalidArgumentError(std::string("fff cuda: ") + name +
                                ": expected a device pointer, got null");
  }
  return Status::Ok();
}

}  // namespace fff::cuda::detail

#endif  // FFF_SRC_CUDA_FFF_CUDA_COMMON_CUH_
