// FFF backward on CUDA (fff_cuda.h), deterministic, touching only visited
// nodes. Four steps on the caller's stream:
//  1. RowGradKernel, one warp per row: for each visit k of the row (node g,
//     logit z), dz_k = (dy . w_out[g]) * GELU'(z), kept for step 3; then
//     dx = sum_k dz_k w_in[g_k] in visit order (each lane owns columns).
//  2. Group the row's visits by node: the entries e = row * n_visited + k
//     are sorted by global node with CUB's radix sort, which is stable, so
//     each node's entries stay in row order; SegmentKernel marks where every
//     node's entries begin and end.
//  3. Each node's entries are cut into chunks of kChunk; ChunkSumKernel (one
//     block per chunk) sums, in entry order, dz * x (for dw_in), dz (db_in)
//     and GELU(z) * dy (for dw_out) into one partial row per chunk. Chunks
//     keep a root node, which every row visits, from serialising on one block.
//  4. NodeSumKernel adds each node's chunk partials in chunk order into
//     dw_in, db_in and dw_out, writing zeros for nodes no row visited.
// No atomics anywhere: the same inputs give the same bits on every run.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>
#include <limits>
#include <string>

#include "src/cuda/cuda_status.h"
#include "src/cuda/fff_cuda.h"
#include "src/cuda/fff_cuda_common.cuh"

namespace fff::cuda {
namespace {

using detail::kWarpSize;

// Entries (row, visit) per chunk of a node's weight-gradient sum.
constexpr int64_t kChunk = 128;
constexpr int kChunkThreads = 256;

template <class T>
struct BackwardParams {
  const T* w_in;
  const T* w_out;
  const T* x;
  const T* dy;
  const int32_t* nodes;  // within-tree node per (row, visit)
  const float* logits;
  float* dx;
  float* dz;  // [n_rows * n_visited], workspace
  int64_t n_rows, d_in, d_out, depth, n_trees, n_nodes;
};

template <class T, int V>
__global__ void __launch_bounds__(detail::kMaxWarpsPerBlock* kWarpSize)
    RowGradKernel(BackwardParams<T> p) {
  extern __shared__ unsigned char smem[];
  const int64_t levels = p.depth + 1;
  const int64_t nv = p.n_trees * levels;
  const detail::WarpRows wr = detail::GetWarpRows(smem, nv);
  const int lane = wr.lane;
  int32_t* s_node = wr.node;
  float* s_dz = wr.value;
  for (int64_t row = wr.first_row(); row < p.n_rows; row += wr.row_stride()) {
    const T* dy = p.dy + row * p.d_out;
    for (int64_t k = 0; k < nv; ++k) {
      const int64_t g = (k / levels) * p.n_nodes + p.nodes[row * nv + k];
      const float da = detail::WarpSum(
          detail::DotPart<T, V>(dy, p.w_out + g * p.d_out, p.d_out, lane));
      if (lane == 0) {
        const float dz = da * detail::GeluGrad(p.logits[row * nv + k]);
        s_node[k] = static_cast<int32_t>(g);
        s_dz[k] = dz;
        p.dz[row * nv + k] = dz;
      }
    }
    __syncwarp();
    float* dx = p.dx + row * p.d_in;
    for (int64_t c = lane; c < p.d_in; c += kWarpSize) {
      float acc = 0.0f;
#pragma unroll 4
      for (int64_t k = 0; k < nv; ++k) {
        acc =
            fmaf(s_dz[k],
                 detail::ToFloat(p.w_in[int64_t{s_node[k]} * p.d_in + c]), acc);
      }
      dx[c] = acc;
    }
    __syncwarp();
  }
}

// keys[e] = global node of entry e, vals[e] = e.
__global__ void MakeKeysKernel(const int32_t* nodes, int64_t n_entries,
                               int64_t nv, int64_t levels, int64_t n_nodes,
                               uint32_t* keys, int32_t* vals) {
  for (int64_t e = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
       e < n_entries; e += int64_t{gridDim.x} * blockDim.x) {
    const int64_t tree = (e % nv) / levels;
    keys[e] = static_cast<uint32_t>(tree * n_nodes + nodes[e]);
    vals[e] = static_cast<int32_t>(e);
  }
}

// Over sorted keys: begin[g] / end[g] of node g's entries (left 0/0 for
// nodes without entries by the memset before).
__global__ void SegmentKernel(const uint32_t* keys, int64_t n_entries,
                              int32_t* begin, int32_t* end) {
  for (int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
       i < n_entries; i += int64_t{gridDim.x} * blockDim.x) {
    const uint32_t k = keys[i];
    if (i == 0 || keys[i - 1] != k) begin[k] = static_cast<int32_t>(i);
    if (i == n_entries - 1 || keys[i + 1] != k)
      end[k] = static_cast<int32_t>(i + 1);
  }
}

__global__ void ChunkCountKernel(const int32_t* begin, const int32_t* end,
                                 int64_t n_total, int32_t* counts) {
  for (int64_t g = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; g <= n_total;
       g += int64_t{gridDim.x} * blockDim.x) {
    // counts has n_total + 1 entries so the exclusive scan's last element is
    // the total number of chunks.
    counts[g] =
        g < n_total
            ? static_cast<int32_t>((end[g] - begin[g] + kChunk - 1) / kChunk)
            : 0;
  }
}

// chunk_node[c] = the node chunk c belongs to.
__global__ void ChunkNodeKernel(const int32_t* offsets, int64_t n_total,
                                int32_t* chunk_node) {
  for (int64_t g = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; g < n_total;
       g += int64_t{gridDim.x} * blockDim.x) {
    for (int32_t c = offsets[g]; c < offsets[g + 1]; ++c) {
      chunk_node[c] = static_cast<int32_t>(g);
    }
  }
}

// One block per chunk (grid = an upper bound; blocks past the real number of
// chunks return). Chunk j of node g covers its sorted entries
// [begin[g] + j*kChunk, min(begin[g] + (j+1)*kChunk, end[g])).
// partial[chunk] = [sum dz*x (d_in) | sum GELU(z)*dy (d_out) | sum dz], each
// sum over the chunk's entries in order.
template <class T>
__global__ void __launch_bounds__(kChunkThreads)
    ChunkSumKernel(BackwardParams<T> p, const int32_t* sorted_entries,
                   const int32_t* begin, const int32_t* end,
                   const int32_t* offsets, const int32_t* chunk_node,
                   int64_t n_total, float* partial) {
  __shared__ int64_t s_row[kChunk];
  __shared__ float s_dz[kChunk];
  __shared__ float s_act[kChunk];
  const int64_t chunk = blockIdx.x;
  if (chunk >= offsets[n_total]) return;
  const int64_t g = chunk_node[chunk];
  const int64_t nv = p.n_trees * (p.depth + 1);
  const int64_t first = begin[g] + (chunk - offsets[g]) * kChunk;
  const int64_t left = end[g] - first;
  const int64_t count = left < kChunk ? left : kChunk;
  for (int64_t j = threadIdx.x; j < count; j += blockDim.x) {
    const int32_t e = sorted_entries[first + j];
    s_row[j] = e / nv;
    s_dz[j] = p.dz[e];
    s_act[j] = detail::Gelu(p.logits[e]);
  }
  __syncthreads();
  const int64_t width = p.d_in + p.d_out + 1;
  float* out = partial + chunk * width;
  for (int64_t c = threadIdx.x; c < width; c += blockDim.x) {
    float acc = 0.0f;
    if (c < p.d_in) {
      for (int64_t j = 0; j < count; ++j) {
        acc = fmaf(s_dz[j], detail::ToFloat(p.x[s_row[j] * p.d_in + c]), acc);
      }
    } else if (c < p.d_in + p.d_out) {
      const int64_t o = c - p.d_in;
      for (int64_t j = 0; j < count; ++j) {
        acc =
            fmaf(s_act[j], detail::ToFloat(p.dy[s_row[j] * p.d_out + o]), acc);
      }
    } else {
      for (int64_t j = 0; j < count; ++j) acc += s_dz[j];
    }
    out[c] = acc;
  }
}

// Node g's gradient rows: the sum of its chunks' partials in chunk order
// (zeros when it has none). Grid: (nodes, column blocks).
__global__ void NodeSumKernel(const float* partial, const int32_t* offsets,
                              int64_t d_in, int64_t d_out, float* dw_in,
                              float* db_in, float* dw_out) {
  const int64_t g = blockIdx.x;
  const int64_t width = d_in + d_out + 1;
  const int64_t c = int64_t{blockIdx.y} * blockDim.x + threadIdx.x;
  if (c >= width) return;
  float acc = 0.0f;
  for (int32_t ch = offsets[g]; ch < offsets[g + 1]; ++ch) {
    acc += partial[int64_t{ch} * width + c];
  }
  if (c < d_in) {
    dw_in[g * d_in + c] = acc;
  } else if (c < d_in + d_out) {
    dw_out[g * d_out + (c - d_in)] = acc;
  } else {
    db_in[g] = acc;
  }
}

// Workspace layout: byte offsets of every array, 256-byte aligned.
struct Layout {
  size_t dz, keys_in, keys_out, vals_in, vals_out, begin, end, counts, offsets,
      chunk_node, partial, cub_temp, total;
  size_t cub_temp_bytes = 0;
  int64_t max_chunks = 0;
};

size_t Align256(size_t n) { return (n + 255) / 256 * 256; }

int EndBit(int64_t n_total) {
  int bits = 1;
  while ((int64_t{1} << bits) < n_total) ++bits;
  return bits;
}

// Fills every offset; returns false when CUB cannot size its temporary
// storage (no usable device).
bool MakeLayout(const FffShape& s, int64_t n_rows, Layout* l) {
  const int64_t n_entries = n_rows * s.n_visited();
  const int64_t n_total = s.n_total_nodes();
  l->max_chunks = (n_entries + kChunk - 1) / kChunk + n_total;
  size_t sort_bytes = 0, scan_bytes = 0;
  if (cub::DeviceRadixSort::SortPairs(
          nullptr, sort_bytes, static_cast<const uint32_t*>(nullptr),
          static_cast<uint32_t*>(nullptr), static_cast<const int32_t*>(nullptr),
          static_cast<int32_t*>(nullptr), static_cast<int>(n_entries), 0,
          EndBit(n_total)) != cudaSuccess) {
    return false;
  }
  if (cub::DeviceScan::ExclusiveSum(
          nullptr, scan_bytes, static_cast<const int32_t*>(nullptr),
          static_cast<int32_t*>(nullptr),
          static_cast<int>(n_total + 1)) != cudaSuccess) {
    return false;
  }
  l->cub_temp_bytes = sort_bytes > scan_bytes ? sort_bytes : scan_bytes;
  const size_t e4 = Align256(static_cast<size_t>(n_entries) * 4);
  const size_t n4 = Align256(static_cast<size_t>(n_total + 1) * 4);
  size_t at = 0;
  l->dz = at, at += e4;
  l->keys_in = at, at += e4;
  l->keys_out = at, at += e4;
  l->vals_in = at, at += e4;
  l->vals_out = at, at += e4;
  l->begin = at, at += n4;
  l->end = at, at += n4;
  l->counts = at, at += n4;
  l->offsets = at, at += n4;
  l->chunk_node = at, at += Align256(static_cast<size_t>(l->max_chunks) * 4);
  l->partial = at;
  at += Align256(static_cast<size_t>(l->max_chunks) *
                 static_cast<size_t>(s.d_in + s.d_out + 1) * 4);
  l->cub_temp = at, at += Align256(l->cub_temp_bytes);
  l->total = at;
  return true;
}

int Blocks(int64_t n, int threads) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<int>(b < 65535 * 32 ? (b > 0 ? b : 1) : 65535 * 32);
}

template <class T, int V>
Status LaunchRowGrad(const BackwardParams<T>& p, cudaStream_t stream) {
  return detail::LaunchWarpRows(&RowGradKernel<T, V>, p, stream,
                                "RowGradKernel");
}

}  // namespace

size_t FffBackwardWorkspaceBytes(const FffShape& shape, int64_t n_rows) {
  if (!ValidateFffShape(shape).ok() || n_rows < 0 ||
      n_rows > std::numeric_limits<int32_t>::max() / shape.n_visited()) {
    return 0;
  }
  Layout l;
  return MakeLayout(shape, n_rows, &l) ? l.total : 0;
}

template <class T>
Status FffBackward(const FffShape& shape, const FffDeviceWeights<T>& w,
                   const T* x, const T* dy, int64_t n_rows,
                   const int32_t* nodes, const float* logits, float* dx,
                   float* dw_in, float* db_in, float* dw_out, void* workspace,
                   size_t workspace_bytes, cudaStream_t stream) {
  FFF_RETURN_IF_ERROR(detail::CheckCommon(shape, n_rows));
  const int64_t nv = shape.n_visited();
  const int64_t n_total = shape.n_total_nodes();
  if (n_rows > std::numeric_limits<int32_t>::max() / nv) {
    return OutOfRangeError(
        "fff cuda: n_rows * n_trees * (depth+1): expected <= " +
        std::to_string(std::numeric_limits<int32_t>::max()) + ", got " +
        std::to_string(n_rows) + " * " + std::to_string(nv));
  }
  FFF_RETURN_IF_ERROR(detail::CheckPointer(w.w_in, "w_in"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(w.w_out, "w_out"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(dw_in, "dw_in"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(db_in, "db_in"));
  FFF_RETURN_IF_ERROR(detail::CheckPointer(dw_out, "dw_out"));
  if (n_rows > 0) {
    FFF_RETURN_IF_ERROR(detail::CheckPointer(x, "x"));
    FFF_RETURN_IF_ERROR(detail::CheckPointer(dy, "dy"));
    FFF_RETURN_IF_ERROR(detail::CheckPointer(nodes, "nodes"));
    FFF_RETURN_IF_ERROR(detail::CheckPointer(logits, "logits"));
    FFF_RETURN_IF_ERROR(detail::CheckPointer(dx, "dx"));
    FFF_RETURN_IF_ERROR(detail::CheckPointer(workspace, "workspace"));
  }
  Layout l;
  if (!MakeLayout(shape, n_rows, &l)) {
    FFF_CUDA_RETURN_IF_ERROR(cudaGetLastError(), "sizing CUB's workspace");
    return InternalError("fff cuda: sizing CUB's workspace failed");
  }
  if (l.max_chunks > std::numeric_limits<int32_t>::max()) {
    return OutOfRangeError("fff cuda: " + std::to_string(l.max_chunks) +
                           " gradient chunks exceed int32");
  }
  if (n_rows > 0 && workspace_bytes < l.total) {
    return InvalidArgumentError(
        "fff cuda: workspace_bytes: expected >= " + std::to_string(l.total) +
        " (FffBackwardWorkspaceBytes), got " + std::to_string(workspace_bytes));
  }
  if (n_rows > 0 && reinterpret_cast<uintptr_t>(workspace) % 256 != 0) {
    return InvalidArgumentError(
        "fff cuda: workspace: expected 256-byte alignment (cudaMalloc's)");
  }
  if (n_rows == 0) {  // every gradient row is zero
    FFF_CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(dw_in, 0, n_total * shape.d_in * 4, stream),
        "cudaMemsetAsync(dw_in)");
    FFF_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(db_in, 0, n_total * 4, stream),
                             "cudaMemsetAsync(db_in)");
    FFF_CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(dw_out, 0, n_total * shape.d_out * 4, stream),
        "cudaMemsetAsync(dw_out)");
    return Status::Ok();
  }
  unsigned char* ws = static_cast<unsigned char*>(workspace);
  auto at = [&](size_t off) { return reinterpret_cast<int32_t*>(ws + off); };
  float* dz = reinterpret_cast<float*>(ws + l.dz);
  uint32_t* keys_in = reinterpret_cast<uint32_t*>(ws + l.keys_in);
  uint32_t* keys_out = reinterpret_cast<uint32_t*>(ws + l.keys_out);
  int32_t* vals_in = at(l.vals_in);
  int32_t* vals_out = at(l.vals_out);
  int32_t* begin = at(l.begin);
  int32_t* end = at(l.end);
  int32_t* counts = at(l.counts);
  int32_t* offsets = at(l.offsets);
  int32_t* chunk_node = at(l.chunk_node);
  float* partial = reinterpret_cast<float*>(ws + l.partial);
  void* cub_temp = ws + l.cub_temp;

  BackwardParams<T> p{w.w_in,        w.w_out,        x,           dy,
                      nodes,         logits,         dx,          dz,
                      n_rows,        shape.d_in,     shape.d_out, shape.depth,
                      shape.n_trees, shape.n_nodes()};
  // 1. dz and dx.
  constexpr int kV = detail::kVecElems<T>;
  const bool vec = shape.d_out % kV == 0 && detail::Aligned16(dy) &&
                   detail::Aligned16(w.w_out);
  FFF_RETURN_IF_ERROR(
      (vec ? LaunchRowGrad<T, kV>(p, stream) : LaunchRowGrad<T, 1>(p, stream)));
  // 2. Entries grouped by node, in row order within a node.
  const int64_t n_entries = n_rows * nv;
  constexpr int kThreads = 256;
  MakeKeysKernel<<<Blocks(n_entries, kThreads), kThreads, 0, stream>>>(
      nodes, n_entries, nv, shape.depth + 1, shape.n_nodes(), keys_in, vals_in);
  FFF_RETURN_IF_ERROR(CheckLaunch(stream, "MakeKeysKernel"));
  size_t temp_bytes = l.cub_temp_bytes;
  FFF_CUDA_RETURN_IF_ERROR(
      cub::DeviceRadixSort::SortPairs(
          cub_temp, temp_bytes, keys_in, keys_out, vals_in, vals_out,
          static_cast<int>(n_entries), 0, EndBit(n_total), stream),
      "cub::DeviceRadixSort::SortPairs");
  FFF_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(begin, 0, (n_total + 1) * 4, stream),
                           "cudaMemsetAsync(begin)");
  FFF_CUDA_RETURN_IF_ERROR(cudaMemsetAsync(end, 0, (n_total + 1) * 4, stream),
                           "cudaMemsetAsync(end)");
  SegmentKernel<<<Blocks(n_entries, kThreads), kThreads, 0, stream>>>(
      keys_out, n_entries, begin, end);
  FFF_RETURN_IF_ERROR(CheckLaunch(stream, "SegmentKernel"));
  // 3. Chunks and their partial sums.
  ChunkCountKernel<<<Blocks(n_total + 1, kThreads), kThreads, 0, stream>>>(
      begin, end, n_total, counts);
  FFF_RETURN_IF_ERROR(CheckLaunch(stream, "ChunkCountKernel"));
  temp_bytes = l.cub_temp_bytes;
  FFF_CUDA_RETURN_IF_ERROR(
      cub::DeviceScan::ExclusiveSum(cub_temp, temp_bytes, counts, offsets,
                                    static_cast<int>(n_total + 1), stream),
      "cub::DeviceScan::ExclusiveSum");
  ChunkNodeKernel<<<Blocks(n_total, kThreads), kThreads, 0, stream>>>(
      offsets, n_total, chunk_node);
  FFF_RETURN_IF_ERROR(CheckLaunch(stream, "ChunkNodeKernel"));
  ChunkSumKernel<T>
      <<<static_cast<unsigned>(l.max_chunks), kChunkThreads, 0, stream>>>(
          p, vals_out, begin, end, offsets, chunk_node, n_total, partial);
  FFF_RETURN_IF_ERROR(CheckLaunch(stream, "ChunkSumKernel"));
  // 4. Per-node sums.
  const int64_t width = shape.d_in + shape.d_out + 1;
  const dim3 grid(static_cast<unsigned>(n_total),
                  static_cast<unsigned>((width + kThreads - 1) / kThreads));
  NodeSumKernel<<<grid, kThreads, 0, stream>>>(
      partial, offsets, shape.d_in, shape.d_out, dw_in, db_in, dw_out);
  return CheckLaunch(stream, "NodeSumKernel");
}

template Status FffBackward<float>(const FffShape&,
                                   const FffDeviceWeights<float>&, const float*,
                                   const float*, int64_t, const int32_t*,
                                   const float*, float*, float*, float*, float*,
                                   void*, size_t, cudaStream_t);
template Status FffBackward<__nv_bfloat16>(
    const FffShape&, const FffDeviceWeights<__nv_bfloat16>&,
    const __nv_bfloat16*, const __nv_bfloat16*, int64_t, const int32_t*,
    const float*, float*, float*, float*, float*, void*, size_t, cudaStream_t);

}  // namespace fff::cuda
