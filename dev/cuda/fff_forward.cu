// Kernel playground for the FFF forward pass (UltraFastBERT's fast
// feedforward layer) on one GPU. Each version is a kernel plus its launcher,
// validated against a double-precision CPU reference and timed with CUDA
// events. Semantics, vocabulary and layouts: include/fff/fff.h; the numbers
// and their arithmetic: docs/cuda.md.
//
// Build (from the repository root; dev/cuda/build.sh does the same):
//   mkdir -p build/dev-cuda && nvcc -O3 -std=c++20 -arch=sm_90 -lineinfo
//       dev/cuda/fff_forward.cu -o build/dev-cuda/fff_forward
// Run:
//   build/dev-cuda/fff_forward <version> [tokens] [n_trees] [depth]
//                              [d_in] [d_out]
//   with version 1..4 (or v1..v4) or all (the default); tokens 65536,
//   n_trees 1, depth 11, d_in = d_out = 768 by default.
//
// Versions:
//   v1  one thread per row, serial loops over d_in and d_out: the simple
//       design of the paper's naive CUDA kernel, with n_trees handled and
//       every write in bounds. The baseline.
//   v2  one warp per row: lanes split the dot product, an xor-butterfly
//       reduction gives every lane the same logit (so all take the same
//       branch); visits are routed in chunks of up to 32 whose (node,
//       activation) pairs sit in shared memory, then each lane accumulates
//       its columns of y over the chunk (y carries over chunks in global
//       memory, in visit order).
//   v3  v2 with float4 loads (d_in, d_out multiples of 4, 16-byte aligned
//       pointers), several loads in flight before each reduction, streaming
//       stores of y, and a grid of (resident blocks per SM) x (SM count)
//       walking the rows with a grid-stride loop.
//   v4  v3's loads, with the row of x and the row's y accumulators held in
//       registers for the whole walk (x read once, y written once, no
//       chunks), and each visit's w_out row loaded together with its w_in
//       row, before the reduction. Needs d_in, d_out <= 1024.
//
// Every version writes y in full (it is poisoned with NaN before the
// validation run) and accumulates each y element in the reference's order:
// tree 0 level 0, tree 0 level 1, ..., so the only differences from the
// reference are fp32 rounding.
//
// Exit codes: 0 every version run passed, 1 a failure or a bad argument,
// 2 no usable CUDA device.

#include <cuda_runtime.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

// ---- Error checking (a playground: report file:line and exit) -------------

#define CUDA_CHECK(call)                                                   \
  do {                                                                     \
    const cudaError_t cuda_check_err_ = (call);                            \
    if (cuda_check_err_ != cudaSuccess) {                                  \
      std::fprintf(stderr, "CUDA error at %s:%d: %s\n  in %s\n", __FILE__, \
                   __LINE__, cudaGetErrorString(cuda_check_err_), #call);  \
      std::exit(EXIT_FAILURE);                                             \
    }                                                                      \
  } while (0)

// ---- Shape -----------------------------------------------------------------

struct Shape {
  int n_rows = 65536;
  int d_in = 768;
  int d_out = 768;
  int n_trees = 1;
  int depth = 11;

  int n_levels() const { return depth + 1; }
  int n_nodes() const { return (2 << depth) - 1; }
  int64_t n_total_nodes() const { return int64_t{n_trees} * n_nodes(); }
  int n_visits() const { return n_trees * n_levels(); }
};

// Every version's launcher: (shape, x, w_in, b_in, w_out, y, trace) with
// device pointers in the layouts of include/fff/fff.h; trace may be null.
// Launches on the default stream and checks the launch.
using Launcher = void (*)(const Shape&, const float*, const float*,
                          const float*, const float*, float*, int32_t*);

// ---- Shared device helpers -------------------------------------------------

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kBlockSize = 256;  // v2..v4: 8 warps, one row each at a time
constexpr int kWarpsPerBlock = kBlockSize / kWarpSize;
constexpr int kChunk = 32;  // v2, v3: visits routed before y is updated
constexpr int kMaxVec = 8;  // v4: float4s per lane, so d_in, d_out <= 1024

// Exact (erf) GELU, as in the reference and UltraFastBERT's training module.
__device__ __forceinline__ float Gelu(float z) {
  return 0.5f * z * (1.0f + erff(z * 0.70710678118654752f));
}

// Sum over the warp by xor butterfly. At every step lanes i and i^offset add
// the same two values (a+b and b+a, equal in IEEE arithmetic), so all 32
// lanes end with bitwise identical sums and take the same branch on them.
__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = kWarpSize / 2; offset > 0; offset /= 2) {
    v += __shfl_xor_sync(kFullMask, v, offset);
  }
  return v;
}

__device__ __forceinline__ float Dot4(float4 a, float4 b, float acc) {
  acc = fmaf(a.x, b.x, acc);
  acc = fmaf(a.y, b.y, acc);
  acc = fmaf(a.z, b.z, acc);
  return fmaf(a.w, b.w, acc);
}

// acc + a * w, element by element.
__device__ __forceinline__ float4 Axpy4(float a, float4 w, float4 acc) {
  return make_float4(fmaf(a, w.x, acc.x), fmaf(a, w.y, acc.y),
                     fmaf(a, w.z, acc.z), fmaf(a, w.w, acc.w));
}

// ---- v1: one thread per row ------------------------------------------------
// The simple design of the paper's naive kernel: every thread walks its row
// alone with serial loops. Loads are uncoalesced (neighbouring threads read
// different rows), which is what the later versions fix.

__global__ void FffForwardV1Kernel(
    const float* __restrict__ x, const float* __restrict__ w_in,
    const float* __restrict__ b_in, const float* __restrict__ w_out,
    float* __restrict__ y, int32_t* __restrict__ trace, int n_rows, int d_in,
    int d_out, int n_trees, int depth) {
  const int row = blockIdx.x * blockDim.x + threadIdx.x;
  if (row >= n_rows) return;
  const float* x_row = x + int64_t{row} * d_in;
  float* y_row = y + int64_t{row} * d_out;
  const int n_nodes = (2 << depth) - 1;
  for (int c = 0; c < d_out; ++c) y_row[c] = 0.0f;
  for (int tree = 0; tree < n_trees; ++tree) {
    int node = 0;
    for (int level = 0; level <= depth; ++level) {
      const int64_t g = int64_t{tree} * n_nodes + node;
      const float* w = w_in + g * d_in;
      float z = 0.0f;
      for (int i = 0; i < d_in; ++i) z += x_row[i] * w[i];
      z += b_in[g];
      const float a = Gelu(z);
      const float* wo = w_out + g * d_out;
      for (int c = 0; c < d_out; ++c) y_row[c] += a * wo[c];
      if (trace != nullptr) {
        trace[(int64_t{row} * n_trees + tree) * (depth + 1) + level] = node;
      }
      node = 2 * node + 1 + (z > 0.0f);
    }
  }
}

void LaunchV1(const Shape& s, const float* x, const float* w_in,
              const float* b_in, const float* w_out, float* y, int32_t* trace) {
  constexpr int kThreads = 128;
  const int n_blocks = (s.n_rows + kThreads - 1) / kThreads;
  FffForwardV1Kernel<<<n_blocks, kThreads>>>(x, w_in, b_in, w_out, y, trace,
                                             s.n_rows, s.d_in, s.d_out,
                                             s.n_trees, s.depth);
  CUDA_CHECK(cudaGetLastError());
}

// ---- v2: one warp per row, visits in chunks --------------------------------

__global__ void __launch_bounds__(kBlockSize)
    FffForwardV2Kernel(const float* __restrict__ x,
                       const float* __restrict__ w_in,
                       const float* __restrict__ b_in,
                       const float* __restrict__ w_out, float* __restrict__ y,
                       int32_t* __restrict__ trace, int n_rows, int d_in,
                       int d_out, int n_trees, int depth) {
  __shared__ int32_t s_node[kWarpsPerBlock][kChunk];  // global node g
  __shared__ float s_act[kWarpsPerBlock][kChunk];     // GELU(z)
  const int warp = threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  const int row = blockIdx.x * kWarpsPerBlock + warp;
  if (row >= n_rows) return;  // the whole warp leaves together
  const float* x_row = x + int64_t{row} * d_in;
  float* y_row = y + int64_t{row} * d_out;
  const int n_nodes = (2 << depth) - 1;
  const int n_levels = depth + 1;
  const int n_visits = n_trees * n_levels;
  // Routing state, the same in every lane.
  int tree = 0, level = 0, node = 0;
  for (int first = 0; first < n_visits; first += kChunk) {
    const int count = min(kChunk, n_visits - first);
    for (int k = 0; k < count; ++k) {
      const int64_t g = int64_t{tree} * n_nodes + node;
      const float* w = w_in + g * d_in;
      float partial = 0.0f;
      for (int i = lane; i < d_in; i += kWarpSize) {
        partial = fmaf(x_row[i], w[i], partial);
      }
      const float z = WarpSum(partial) + b_in[g];
      if (lane == 0) {
        s_node[warp][k] = static_cast<int32_t>(g);
        s_act[warp][k] = Gelu(z);
        if (trace != nullptr) trace[int64_t{row} * n_visits + first + k] = node;
      }
      if (++level == n_levels) {
        level = 0;
        node = 0;
        ++tree;
      } else {
        node = 2 * node + 1 + (z > 0.0f);
      }
    }
    __syncwarp();
    for (int c = lane; c < d_out; c += kWarpSize) {
      float acc = first == 0 ? 0.0f : y_row[c];
      for (int k = 0; k < count; ++k) {
        acc = fmaf(s_act[warp][k], w_out[int64_t{s_node[warp][k]} * d_out + c],
                   acc);
      }
      y_row[c] = acc;
    }
    __syncwarp();  // the chunk's shared slots are rewritten next
  }
}

void LaunchV2(const Shape& s, const float* x, const float* w_in,
              const float* b_in, const float* w_out, float* y, int32_t* trace) {
  const int n_blocks = (s.n_rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  FffForwardV2Kernel<<<n_blocks, kBlockSize>>>(x, w_in, b_in, w_out, y, trace,
                                               s.n_rows, s.d_in, s.d_out,
                                               s.n_trees, s.depth);
  CUDA_CHECK(cudaGetLastError());
}

// ---- v3: v2 with float4 loads and a grid from the SM count -----------------

constexpr int kV3Unroll = 4;  // float4 loads per lane issued before use

__global__ void __launch_bounds__(kBlockSize)
    FffForwardV3Kernel(const float4* __restrict__ x,
                       const float4* __restrict__ w_in,
                       const float* __restrict__ b_in,
                       const float4* __restrict__ w_out, float4* __restrict__ y,
                       int32_t* __restrict__ trace, int n_rows, int d_in4,
                       int d_out4, int n_trees, int depth) {
  __shared__ int32_t s_node[kWarpsPerBlock][kChunk];
  __shared__ float s_act[kWarpsPerBlock][kChunk];
  const int warp = threadIdx.x / kWarpSize;
  const int lane = threadIdx.x % kWarpSize;
  const int n_nodes = (2 << depth) - 1;
  const int n_levels = depth + 1;
  const int n_visits = n_trees * n_levels;
  const int row_step = gridDim.x * kWarpsPerBlock;
  for (int row = blockIdx.x * kWarpsPerBlock + warp; row < n_rows;
       row += row_step) {
    const float4* x_row = x + int64_t{row} * d_in4;
    float4* y_row = y + int64_t{row} * d_out4;
    int tree = 0, level = 0, node = 0;
    for (int first = 0; first < n_visits; first += kChunk) {
      const int count = min(kChunk, n_visits - first);
      for (int k = 0; k < count; ++k) {
        const int64_t g = int64_t{tree} * n_nodes + node;
        const float4* w = w_in + g * d_in4;
        const float bias = __ldg(b_in + g);
        float partial = 0.0f;
        for (int base = lane; base < d_in4; base += kWarpSize * kV3Unroll) {
          float4 xv[kV3Unroll], wv[kV3Unroll];
#pragma unroll
          for (int u = 0; u < kV3Unroll; ++u) {
            const int i = base + u * kWarpSize;
            const bool in = i < d_in4;
            xv[u] = in ? x_row[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            wv[u] = in ? __ldg(w + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
          }
#pragma unroll
          for (int u = 0; u < kV3Unroll; ++u)
            partial = Dot4(xv[u], wv[u], partial);
        }
        const float z = WarpSum(partial) + bias;
        if (lane == 0) {
          s_node[warp][k] = static_cast<int32_t>(g);
          s_act[warp][k] = Gelu(z);
          if (trace != nullptr)
            trace[int64_t{row} * n_visits + first + k] = node;
        }
        if (++level == n_levels) {
          level = 0;
          node = 0;
          ++tree;
        } else {
          node = 2 * node + 1 + (z > 0.0f);
        }
      }
      __syncwarp();
      const bool last_chunk = first + kChunk >= n_visits;
      for (int c = lane; c < d_out4; c += kWarpSize) {
        float4 acc =
            first == 0 ? make_float4(0.0f, 0.0f, 0.0f, 0.0f) : y_row[c];
#pragma unroll 4
        for (int k = 0; k < count; ++k) {
          const float4 wo =
              __ldg(w_out + int64_t{s_node[warp][k]} * d_out4 + c);
          acc = Axpy4(s_act[warp][k], wo, acc);
        }
        if (last_chunk) {
          __stcs(y_row + c, acc);  // written once, not read again: stream it
        } else {
          y_row[c] = acc;
        }
      }
      __syncwarp();
    }
  }
}

bool Aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// nullptr when v3/v4's float4 path applies to these shapes and pointers,
// else the reason it does not.
const char* Float4Unsupported(const Shape& s, const float* x, const float* w_in,
                              const float* w_out, const float* y) {
  if (s.d_in % 4 != 0 || s.d_out % 4 != 0)
    return "d_in, d_out not multiples of 4";
  if (!Aligned16(x) || !Aligned16(w_in) || !Aligned16(w_out) || !Aligned16(y)) {
    return "pointers not 16-byte aligned";
  }
  return nullptr;
}

// Blocks that keep every SM full: resident blocks per SM x SM count, but no
// more than there are rows for.
template <typename Kernel>
int PersistentGrid(Kernel kernel, const Shape& s) {
  int device = 0, n_sms = 0, blocks_per_sm = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(
      cudaDeviceGetAttribute(&n_sms, cudaDevAttrMultiProcessorCount, device));
  CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &blocks_per_sm, kernel, kBlockSize, 0));
  const int row_blocks = (s.n_rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  return std::max(1, std::min(row_blocks, std::max(1, blocks_per_sm) * n_sms));
}

void LaunchV3(const Shape& s, const float* x, const float* w_in,
              const float* b_in, const float* w_out, float* y, int32_t* trace) {
  const int n_blocks = PersistentGrid(FffForwardV3Kernel, s);
  FffForwardV3Kernel<<<n_blocks, kBlockSize>>>(
      reinterpret_cast<const float4*>(x), reinterpret_cast<const float4*>(w_in),
      b_in, reinterpret_cast<const float4*>(w_out),
      reinterpret_cast<float4*>(y), trace, s.n_rows, s.d_in / 4, s.d_out / 4,
      s.n_trees, s.depth);
  CUDA_CHECK(cudaGetLastError());
}

// ---- v4: x and y of the row in registers -----------------------------------
// kVec float4s per lane cover up to 128 * kVec columns of x and of y. A
// visit issues its w_in and w_out row loads (2 * kVec float4 per lane) and
// its bias together, then reduces; the w_out loads are in flight during the
// reduction and GELU. y is written once per row, with streaming stores.

template <int kVec>
__global__ void __launch_bounds__(kBlockSize)
    FffForwardV4Kernel(const float4* __restrict__ x,
                       const float4* __restrict__ w_in,
                       const float* __restrict__ b_in,
                       const float4* __restrict__ w_out, float4* __restrict__ y,
                       int32_t* __restrict__ trace, int n_rows, int d_in4,
                       int d_out4, int n_trees, int depth) {
  const float4 zero = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  const int lane = threadIdx.x % kWarpSize;
  const int n_nodes = (2 << depth) - 1;
  const int n_levels = depth + 1;
  const int n_visits = n_trees * n_levels;
  const int row_step = gridDim.x * kWarpsPerBlock;
  for (int row = blockIdx.x * kWarpsPerBlock + threadIdx.x / kWarpSize;
       row < n_rows; row += row_step) {
    const float4* x_row = x + int64_t{row} * d_in4;
    float4 xv[kVec], acc[kVec];
#pragma unroll
    for (int u = 0; u < kVec; ++u) {
      const int i = lane + u * kWarpSize;
      xv[u] = i < d_in4 ? __ldcs(x_row + i) : zero;  // read once: stream it
      acc[u] = zero;
    }
    int visit = 0;
    for (int tree = 0; tree < n_trees; ++tree) {
      int node = 0;
      for (int level = 0; level < n_levels; ++level, ++visit) {
        const int64_t g = int64_t{tree} * n_nodes + node;
        const float4* wi = w_in + g * d_in4;
        const float4* wo = w_out + g * d_out4;
        float4 wiv[kVec], wov[kVec];
#pragma unroll
        for (int u = 0; u < kVec; ++u) {
          const int i = lane + u * kWarpSize;
          wiv[u] = i < d_in4 ? __ldg(wi + i) : zero;
          wov[u] = i < d_out4 ? __ldg(wo + i) : zero;
        }
        const float bias = __ldg(b_in + g);
        float partial = 0.0f;
#pragma unroll
        for (int u = 0; u < kVec; ++u) partial = Dot4(xv[u], wiv[u], partial);
        const float z = WarpSum(partial) + bias;
        const float a = Gelu(z);
#pragma unroll
        for (int u = 0; u < kVec; ++u) acc[u] = Axpy4(a, wov[u], acc[u]);
        if (trace != nullptr && lane == 0) {
          trace[int64_t{row} * n_visits + visit] = node;
        }
        node = 2 * node + 1 + (z > 0.0f);
      }
    }
    float4* y_row = y + int64_t{row} * d_out4;
#pragma unroll
    for (int u = 0; u < kVec; ++u) {
      const int c = lane + u * kWarpSize;
      if (c < d_out4) __stcs(y_row + c, acc[u]);
    }
  }
}

// float4s per lane that v4 needs for these widths (1..kMaxVec when supported).
int V4Vec(const Shape& s) {
  const int widest4 = std::max(s.d_in, s.d_out) / 4;
  return (widest4 + kWarpSize - 1) / kWarpSize;
}

template <int kVec>
void LaunchV4As(const Shape& s, const float* x, const float* w_in,
                const float* b_in, const float* w_out, float* y,
                int32_t* trace) {
  const int n_blocks = PersistentGrid(FffForwardV4Kernel<kVec>, s);
  FffForwardV4Kernel<kVec><<<n_blocks, kBlockSize>>>(
      reinterpret_cast<const float4*>(x), reinterpret_cast<const float4*>(w_in),
      b_in, reinterpret_cast<const float4*>(w_out),
      reinterpret_cast<float4*>(y), trace, s.n_rows, s.d_in / 4, s.d_out / 4,
      s.n_trees, s.depth);
  CUDA_CHECK(cudaGetLastError());
}

void LaunchV4(const Shape& s, const float* x, const float* w_in,
              const float* b_in, const float* w_out, float* y, int32_t* trace) {
  constexpr Launcher kByVec[kMaxVec + 1] = {
      nullptr,       LaunchV4As<1>, LaunchV4As<2>, LaunchV4As<3>, LaunchV4As<4>,
      LaunchV4As<5>, LaunchV4As<6>, LaunchV4As<7>, LaunchV4As<8>};
  kByVec[V4Vec(s)](s, x, w_in, b_in, w_out, y, trace);  // Unsupported() ran
}

// ---- Version table ---------------------------------------------------------

struct Version {
  const char* name;
  Launcher launch;
};

constexpr Version kVersions[] = {
    {"v1", LaunchV1}, {"v2", LaunchV2}, {"v3", LaunchV3}, {"v4", LaunchV4}};
constexpr int kNumVersions = sizeof(kVersions) / sizeof(kVersions[0]);

// nullptr when version v (1-based) can run this shape, else why not.
const char* Unsupported(int v, const Shape& s, const float* x,
                        const float* w_in, const float* w_out, const float* y) {
  if (v >= 3) {
    if (const char* why = Float4Unsupported(s, x, w_in, w_out, y)) return why;
  }
  if (v == 4 && V4Vec(s) > kMaxVec) return "d_in or d_out above 1024";
  return nullptr;
}

// ---- Random inputs (fixed seed, one stream per row / weight row) -----------

constexpr uint64_t kSeed = 20240601;
constexpr double kMargin = 1e-3;  // every visited |z| of every row is >= this
constexpr int kMaxRedraws = 1000;

uint64_t Mix64(uint64_t z) {  // SplitMix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  Rng(uint64_t stream, uint64_t index, uint64_t attempt = 0)
      : state_(Mix64(Mix64(Mix64(kSeed + stream) + index) + attempt)) {}
  uint64_t Next() { return Mix64(state_ += 0x9e3779b97f4a7c15ull); }
  // In [0, 1).
  double Uniform() { return double(Next() >> 11) * 0x1.0p-53; }
  // N(0, 1) by Box-Muller.
  double Normal() {
    const double u1 = 1.0 - Uniform();  // in (0, 1]: log(u1) is finite
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  uint64_t state_;
};

enum Stream : uint64_t { kStreamWIn = 1, kStreamBIn, kStreamWOut, kStreamX };

// Runs fn(begin, end) over [0, n) in chunks on all cores; serially where
// threads cannot be started.
void ParallelFor(int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  const int n_threads =
      int(std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 64));
  const int64_t step = (n + n_threads - 1) / n_threads;
  std::vector<std::thread> threads;
  int64_t begin = 0;
  try {
    for (; begin < n; begin += step) {
      threads.emplace_back(fn, begin, std::min(n, begin + step));
    }
  } catch (const std::system_error&) {
    for (; begin < n; begin += step) fn(begin, std::min(n, begin + step));
  }
  for (std::thread& t : threads) t.join();
}

struct HostData {
  std::vector<float> x, w_in, b_in, w_out;  // layouts of include/fff/fff.h
};

void DrawWeights(const Shape& s, HostData& h) {
  const int64_t n_total = s.n_total_nodes();
  h.w_in.resize(n_total * s.d_in);
  h.b_in.resize(n_total);
  h.w_out.resize(n_total * s.d_out);
  ParallelFor(n_total, [&](int64_t begin, int64_t end) {
    for (int64_t g = begin; g < end; ++g) {
      Rng r_in(kStreamWIn, g), r_b(kStreamBIn, g), r_out(kStreamWOut, g);
      for (int i = 0; i < s.d_in; ++i)
        h.w_in[g * s.d_in + i] = float(0.02 * r_in.Normal());
      h.b_in[g] = float(0.02 * (r_b.Uniform() - 0.5));  // in [-0.01, 0.01)
      for (int c = 0; c < s.d_out; ++c)
        h.w_out[g * s.d_out + c] = float(0.02 * r_out.Normal());
    }
  });
}

// ---- CPU reference (double) -----------------------------------------------

struct Reference {
  std::vector<double> y;       // [n_rows, d_out]
  std::vector<float> tol;      // [n_rows, d_out]: allowed |y_gpu - y|
  std::vector<int32_t> trace;  // [n_rows, n_trees, depth+1]: node in its tree
  int64_t n_redraws = 0;       // rows redrawn for the logit margin
  int64_t n_distinct_nodes = 0;
};

double GeluRef(double z) {
  return 0.5 * z * (1.0 + std::erf(z / std::sqrt(2.0)));
}

// Computes one row: y_row, tol_row (d_out each) and trace_row (n_visits).
// Returns the smallest |z| among the row's visits.
//
// Tolerance: a fp32 logit of d_in products is off by about eps * Z with
// Z = sum |x_i w_i| + |b| (rounding errors of a sum grow like its partial
// sums), and GELU' <= 1.13 carries that into the activation; the output sum
// of n_visits terms adds about eps * sqrt(n_visits) * sum |a w_out|. The
// tolerance is 16x the sum of both, per element.
double ReferenceRow(const Shape& s, const HostData& h, const float* x_row,
                    double* y_row, float* tol_row, int32_t* trace_row) {
  constexpr double kEps = std::numeric_limits<float>::epsilon();
  constexpr double kGeluSlopeMax = 1.13;
  std::vector<double> sum_abs_aw(s.d_out, 0.0), sum_zw(s.d_out, 0.0);
  std::fill(y_row, y_row + s.d_out, 0.0);
  double margin = std::numeric_limits<double>::infinity();
  for (int t = 0; t < s.n_trees; ++t) {
    int node = 0;
    for (int level = 0; level <= s.depth; ++level) {
      const int64_t g = int64_t{t} * s.n_nodes() + node;
      const float* w = &h.w_in[g * s.d_in];
      double z = h.b_in[g];
      double z_abs = std::fabs(h.b_in[g]);
      for (int i = 0; i < s.d_in; ++i) {
        z += double(x_row[i]) * w[i];
        z_abs += std::fabs(double(x_row[i]) * w[i]);
      }
      const double a = GeluRef(z);
      const float* wo = &h.w_out[g * s.d_out];
      for (int c = 0; c < s.d_out; ++c) {
        y_row[c] += a * wo[c];
        sum_abs_aw[c] += std::fabs(a * wo[c]);
        sum_zw[c] += kGeluSlopeMax * z_abs * std::fabs(wo[c]);
      }
      trace_row[t * s.n_levels() + level] = node;
      margin = std::min(margin, std::fabs(z));
      node = 2 * node + 1 + (z > 0.0);
    }
  }
  for (int c = 0; c < s.d_out; ++c) {
    tol_row[c] =
        float(16.0 * kEps *
              (sum_zw[c] + std::sqrt(double(s.n_visits())) * sum_abs_aw[c]));
  }
  return margin;
}

// Draws x (N(0,1) rows) and computes the reference; a row with a visited
// |z| below kMargin is redrawn, so fp32 rounding cannot flip a branch.
bool DrawInputsAndReference(const Shape& s, HostData& h, Reference& ref) {
  const int n_visits = s.n_visits();
  h.x.resize(int64_t{s.n_rows} * s.d_in);
  ref.y.resize(int64_t{s.n_rows} * s.d_out);
  ref.tol.resize(int64_t{s.n_rows} * s.d_out);
  ref.trace.resize(int64_t{s.n_rows} * n_visits);
  std::vector<int64_t> redraws(s.n_rows, 0);
  ParallelFor(s.n_rows, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      float* x_row = &h.x[r * s.d_in];
      for (int attempt = 0; attempt <= kMaxRedraws; ++attempt) {
        Rng rng(kStreamX, r, attempt);
        for (int i = 0; i < s.d_in; ++i) x_row[i] = float(rng.Normal());
        const double margin =
            ReferenceRow(s, h, x_row, &ref.y[r * s.d_out],
                         &ref.tol[r * s.d_out], &ref.trace[r * n_visits]);
        if (margin >= kMargin) break;
        redraws[r] = attempt + 1;
      }
    }
  });
  ref.n_redraws = 0;
  for (int64_t r = 0; r < s.n_rows; ++r) {
    if (redraws[r] > kMaxRedraws) {
      std::fprintf(stderr, "row %lld: no draw with every |z| >= %g\n",
                   (long long)r, kMargin);
      return false;
    }
    ref.n_redraws += redraws[r] > 0;
  }
  std::vector<uint8_t> visited(s.n_total_nodes(), 0);
  for (int64_t r = 0; r < s.n_rows; ++r) {
    for (int v = 0; v < n_visits; ++v) {
      const int tree = v / s.n_levels();
      visited[int64_t{tree} * s.n_nodes() + ref.trace[r * n_visits + v]] = 1;
    }
  }
  ref.n_distinct_nodes = std::count(visited.begin(), visited.end(), uint8_t{1});
  return true;
}

// ---- Validation ------------------------------------------------------------

constexpr double kRelTol = 1e-5;  // ||y - ref|| / ||ref||

struct Check {
  double rel_err = 0.0;
  double max_abs_err = 0.0;
  int64_t n_unwritten = 0;  // non-finite y (NaN poison left, or produced)
  int64_t n_over_tol = 0;   // |y - ref| > tol
  int64_t worst = -1;       // element with the largest |y - ref| / tol
  double worst_ratio = 0.0;
  int64_t n_bad_nodes = 0;
  int64_t first_bad_node = -1;
  bool ok() const {
    return n_unwritten == 0 && n_over_tol == 0 && n_bad_nodes == 0 &&
           rel_err < kRelTol;
  }
};

Check Compare(const Reference& ref, const std::vector<float>& y,
              const std::vector<int32_t>& trace) {
  Check k;
  double err2 = 0.0, ref2 = 0.0;
  for (int64_t i = 0; i < int64_t(y.size()); ++i) {
    ref2 += ref.y[i] * ref.y[i];
    if (!std::isfinite(y[i])) {
      ++k.n_unwritten;
      continue;
    }
    const double e = std::fabs(double(y[i]) - ref.y[i]);
    err2 += e * e;
    k.max_abs_err = std::max(k.max_abs_err, e);
    k.n_over_tol += e > ref.tol[i];
    const double ratio = e / std::max(double(ref.tol[i]), 1e-30);
    if (k.worst < 0 || ratio > k.worst_ratio) {
      k.worst = i;
      k.worst_ratio = ratio;
    }
  }
  k.rel_err = ref2 > 0.0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
  for (int64_t i = 0; i < int64_t(trace.size()); ++i) {
    if (trace[i] != ref.trace[i]) {
      if (k.n_bad_nodes++ == 0) k.first_bad_node = i;
    }
  }
  return k;
}

void PrintCheckDetails(const char* name, const Shape& s, const Reference& ref,
                       const std::vector<float>& y,
                       const std::vector<int32_t>& trace, const Check& k) {
  if (k.n_unwritten > 0) {
    std::printf(
        "  %s: %lld of %lld y elements not finite (unwritten NaN poison?)\n",
        name, (long long)k.n_unwritten, (long long)y.size());
  }
  if (k.worst >= 0 && (k.n_over_tol > 0 || !(k.rel_err < kRelTol))) {
    std::printf(
        "  %s: %lld elements over tolerance; worst row %lld col %lld: "
        "got %.9g want %.9g (|err| %.3g, tol %.3g)\n",
        name, (long long)k.n_over_tol, (long long)(k.worst / s.d_out),
        (long long)(k.worst % s.d_out), y[k.worst], ref.y[k.worst],
        std::fabs(y[k.worst] - ref.y[k.worst]), ref.tol[k.worst]);
  }
  if (k.n_bad_nodes > 0) {
    const int64_t i = k.first_bad_node;
    const int n_visits = s.n_visits();
    std::printf(
        "  %s: %lld visited nodes differ; first: row %lld tree %d level %d: "
        "got %d want %d\n",
        name, (long long)k.n_bad_nodes, (long long)(i / n_visits),
        int(i % n_visits) / s.n_levels(), int(i % n_visits) % s.n_levels(),
        trace[i], ref.trace[i]);
  }
}

// ---- Timing ----------------------------------------------------------------

constexpr int kWarmupRuns = 3;
constexpr int kTimedRuns = 20;

// Reads a buffer twice the L2 size so the next kernel starts with a cold L2
// (reads, not a memset: dirty lines would be written back during the timed
// kernel).
__global__ void FlushL2Kernel(const float4* __restrict__ buf, int64_t n4,
                              float* sink) {
  float acc = 0.0f;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n4;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float4 v = __ldcg(buf + i);
    acc += v.x + v.y + v.z + v.w;
  }
  // Never true (the buffer is zero), but keeps the loads.
  if (acc == 1.0f) *sink = acc;
}

struct Device {
  cudaDeviceProp prop{};
  float4* flush = nullptr;
  int64_t flush_n4 = 0;
  float* sink = nullptr;
};

void FlushL2(const Device& dev) {
  FlushL2Kernel<<<dev.prop.multiProcessorCount * 4, 512>>>(
      dev.flush, dev.flush_n4, dev.sink);
  CUDA_CHECK(cudaGetLastError());
}

// ---- Driver ----------------------------------------------------------------

struct DeviceData {
  float *x = nullptr, *w_in = nullptr, *b_in = nullptr, *w_out = nullptr,
        *y = nullptr;
  int32_t* trace = nullptr;
};

struct Result {
  const char* skipped = nullptr;  // why the version did not run, or nullptr
  double median_us = 0.0;
  Check check;
};

Result RunVersion(int v, const Shape& s, const Device& dev, const DeviceData& d,
                  const Reference& ref) {
  const Version& ver = kVersions[v - 1];
  Result res;
  res.skipped = Unsupported(v, s, d.x, d.w_in, d.w_out, d.y);
  if (res.skipped != nullptr) {
    std::printf("%s: skipped (%s)\n", ver.name, res.skipped);
    return res;
  }
  const int64_t y_n = int64_t{s.n_rows} * s.d_out;
  const int64_t trace_n = int64_t{s.n_rows} * s.n_visits();

  // Validation run, with the trace, on poisoned outputs.
  CUDA_CHECK(cudaMemset(d.y, 0xff, y_n * sizeof(float)));  // all-ones bits: NaN
  CUDA_CHECK(cudaMemset(d.trace, 0xff, trace_n * sizeof(int32_t)));  // -1
  ver.launch(s, d.x, d.w_in, d.b_in, d.w_out, d.y, d.trace);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::vector<float> y(y_n);
  std::vector<int32_t> trace(trace_n);
  CUDA_CHECK(
      cudaMemcpy(y.data(), d.y, y_n * sizeof(float), cudaMemcpyDeviceToHost));
  CUDA_CHECK(cudaMemcpy(trace.data(), d.trace, trace_n * sizeof(int32_t),
                        cudaMemcpyDeviceToHost));
  res.check = Compare(ref, y, trace);
  PrintCheckDetails(ver.name, s, ref, y, trace, res.check);

  // Timed runs, without the trace, each after an L2 flush.
  cudaEvent_t start, stop;
  CUDA_CHECK(cudaEventCreate(&start));
  CUDA_CHECK(cudaEventCreate(&stop));
  std::vector<float> times_ms;
  for (int run = 0; run < kWarmupRuns + kTimedRuns; ++run) {
    FlushL2(dev);
    CUDA_CHECK(cudaEventRecord(start));
    ver.launch(s, d.x, d.w_in, d.b_in, d.w_out, d.y, nullptr);
    CUDA_CHECK(cudaEventRecord(stop));
    CUDA_CHECK(cudaEventSynchronize(stop));
    float ms = 0.0f;
    CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
    if (run >= kWarmupRuns) times_ms.push_back(ms);
  }
  CUDA_CHECK(cudaEventDestroy(start));
  CUDA_CHECK(cudaEventDestroy(stop));
  std::sort(times_ms.begin(), times_ms.end());
  const size_t n = times_ms.size();
  res.median_us = 500.0 * (times_ms[(n - 1) / 2] + times_ms[n / 2]);
  std::printf(
      "%s: median %.1f us, min %.1f us, max %.1f us; rel err %.3g, "
      "max abs err %.3g, worst err/tol %.3g: %s\n",
      ver.name, res.median_us, 1e3 * times_ms.front(), 1e3 * times_ms.back(),
      res.check.rel_err, res.check.max_abs_err, res.check.worst_ratio,
      res.check.ok() ? "ok" : "FAIL");
  return res;
}

// Parses a decimal int in [lo, hi] or exits with a message.
int ParseInt(const char* what, const char* text, int lo, int hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi) {
    std::fprintf(stderr,
                 "fff_forward: %s: expected an integer in %d..%d, got '%s'\n",
                 what, lo, hi, text);
    std::exit(EXIT_FAILURE);
  }
  return int(v);
}

void Usage() {
  std::fprintf(
      stderr,
      "usage: fff_forward <version> [tokens] [n_trees] [depth] [d_in] [d_out]\n"
      "  version: 1..%d, v1..v%d or all (default all)\n"
      "  defaults: tokens 65536, n_trees 1, depth 11, d_in 768, d_out 768\n",
      kNumVersions, kNumVersions);
}

template <typename T>
T* DeviceAlloc(int64_t n) {
  T* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, std::max<int64_t>(n, 1) * sizeof(T)));
  return p;
}

template <typename T>
T* DeviceCopy(const std::vector<T>& h) {
  T* p = DeviceAlloc<T>(int64_t(h.size()));
  CUDA_CHECK(
      cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

int main(int argc, char** argv) {
  int first_version = 1, last_version = kNumVersions;
  Shape s;
  if (argc > 7) {
    Usage();
    return EXIT_FAILURE;
  }
  if (argc > 1 && std::strcmp(argv[1], "all") != 0) {
    const char* v = argv[1][0] == 'v' ? argv[1] + 1 : argv[1];
    if (*v == '\0' || std::strcmp(v, "-h") == 0 ||
        std::strcmp(argv[1], "--help") == 0) {
      Usage();
      return EXIT_FAILURE;
    }
    first_version = last_version = ParseInt("version", v, 1, kNumVersions);
  }
  if (argc > 2) s.n_rows = ParseInt("tokens", argv[2], 1, 1 << 21);
  if (argc > 3) s.n_trees = ParseInt("n_trees", argv[3], 1, 4096);
  if (argc > 4) s.depth = ParseInt("depth", argv[4], 0, 20);
  if (argc > 5) s.d_in = ParseInt("d_in", argv[5], 1, 8192);
  if (argc > 6) s.d_out = ParseInt("d_out", argv[6], 1, 8192);
  if (s.n_total_nodes() >= (int64_t{1} << 31)) {
    std::fprintf(stderr,
                 "fff_forward: n_trees * n_nodes = %lld: must stay below "
                 "2^31 (int32 node indices)\n",
                 (long long)s.n_total_nodes());
    return EXIT_FAILURE;
  }

  // Before anything else: is there a GPU to run on?
  int n_devices = 0;
  const cudaError_t count_err = cudaGetDeviceCount(&n_devices);
  if (count_err != cudaSuccess || n_devices == 0) {
    std::fprintf(stderr, "no usable CUDA device: %s\n",
                 count_err != cudaSuccess ? cudaGetErrorString(count_err)
                                          : "no devices found");
    return 2;
  }
  Device dev;
  CUDA_CHECK(cudaSetDevice(0));
  CUDA_CHECK(cudaGetDeviceProperties(&dev.prop, 0));
  std::printf("device: %s (sm_%d%d), %d SMs, L2 %.1f MB, %.1f GB\n",
              dev.prop.name, dev.prop.major, dev.prop.minor,
              dev.prop.multiProcessorCount, dev.prop.l2CacheSize / 1e6,
              double(dev.prop.totalGlobalMem) / 1e9);

  std::printf(
      "shape: tokens %d, d_in %d, d_out %d, FFF-%dx%d "
      "(%lld nodes, %d visits per row)\n",
      s.n_rows, s.d_in, s.d_out, s.n_trees, s.depth,
      (long long)s.n_total_nodes(), s.n_visits());
  HostData h;
  Reference ref;
  DrawWeights(s, h);
  if (!DrawInputsAndReference(s, h, ref)) return EXIT_FAILURE;
  const double x_bytes = 4.0 * s.n_rows * s.d_in;
  const double y_bytes = 4.0 * s.n_rows * s.d_out;
  const double w_bytes =
      4.0 * double(ref.n_distinct_nodes) * (s.d_in + s.d_out + 1);
  const double bytes = x_bytes + y_bytes + w_bytes;
  std::printf("inputs: seed %llu, margin |z| >= %g (%lld rows redrawn)\n",
              (unsigned long long)kSeed, kMargin, (long long)ref.n_redraws);
  std::printf(
      "compulsory bytes: %.1f MB = x %.1f + y %.1f + weights %.1f "
      "(%lld distinct nodes)\n",
      bytes / 1e6, x_bytes / 1e6, y_bytes / 1e6, w_bytes / 1e6,
      (long long)ref.n_distinct_nodes);
  std::printf(
      "timing: median of %d runs after %d warm-up runs, "
      "L2 flushed before each run\n\n",
      kTimedRuns, kWarmupRuns);

  DeviceData d;
  d.x = DeviceCopy(h.x);
  d.w_in = DeviceCopy(h.w_in);
  d.b_in = DeviceCopy(h.b_in);
  d.w_out = DeviceCopy(h.w_out);
  d.y = DeviceAlloc<float>(int64_t{s.n_rows} * s.d_out);
  d.trace = DeviceAlloc<int32_t>(int64_t{s.n_rows} * s.n_visits());
  dev.flush_n4 =
      std::max<int64_t>(2 * int64_t{dev.prop.l2CacheSize}, 1 << 20) / 16;
  dev.flush = DeviceAlloc<float4>(dev.flush_n4);
  CUDA_CHECK(cudaMemset(dev.flush, 0, dev.flush_n4 * sizeof(float4)));
  dev.sink = DeviceAlloc<float>(1);

  std::vector<Result> results;
  for (int v = first_version; v <= last_version; ++v) {
    results.push_back(RunVersion(v, s, dev, d, ref));
  }

  std::printf("\n%-7s %14s %10s %14s %10s %12s %6s\n", "version",
              "us/call (med)", "GB/s", "tokens/s", "rel err", "max abs err",
              "result");
  bool all_ok = true;
  for (int v = first_version; v <= last_version; ++v) {
    const Result& r = results[v - first_version];
    if (r.skipped != nullptr) {
      std::printf("%-7s %14s   skipped: %s\n", kVersions[v - 1].name, "-",
                  r.skipped);
      continue;
    }
    all_ok = all_ok && r.check.ok();
    const double sec = r.median_us * 1e-6;
    std::printf("%-7s %14.1f %10.1f %14.4g %10.3g %12.3g %6s\n",
                kVersions[v - 1].name, r.median_us, bytes / sec / 1e9,
                s.n_rows / sec, r.check.rel_err, r.check.max_abs_err,
                r.check.ok() ? "ok" : "FAIL");
  }

  CUDA_CHECK(cudaFree(d.x));
  CUDA_CHECK(cudaFree(d.w_in));
  CUDA_CHECK(cudaFree(d.b_in));
  CUDA_CHECK(cudaFree(d.w_out));
  CUDA_CHECK(cudaFree(d.y));
  CUDA_CHECK(cudaFree(d.trace));
  CUDA_CHECK(cudaFree(dev.flush));
  CUDA_CHECK(cudaFree(dev.sink));
  return all_ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
