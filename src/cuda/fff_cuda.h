// The FFF layer on CUDA GPUs: conditional forward and backward over device
// buffers, for inference (fp32 or bf16 activations and weights, fp32
// accumulation) and for training (the torch op's CUDA path).
//
// Semantics, layouts and gradients are exactly those of fff/fff.h (the CPU
// layer): each row walks every tree from the root, z = x.w_in[g] + b_in[g],
// y += GELU(z) w_out[g] (exact erf GELU), child 2n+1+(z>0); w_out is
// node-major [n_trees*n_nodes, d_out]; the routing trace is
// [n_rows, n_trees, depth+1] (node within its tree, fp32 logit).
//
// Every pointer is device memory (or managed memory), contiguous rows.
// Calls only enqueue work on `stream` and return; errors found before the
// launch (shapes, null pointers, sizes) and launch errors come back as a
// Status naming the argument; errors of the kernel itself surface at the
// caller's next synchronisation. In builds with FFF_CUDA_SYNC_CHECKS defined
// (the debug configuration) every launch is followed by a synchronisation
// so a fault is reported by the call that caused it.
//
// Determinism: for a given device, shape and inputs every output is the same
// bits on every run: each output element is computed by one thread in a
// fixed order, and weight gradients are summed over the rows visiting a node
// in row order (no atomics). Results can differ from the CPU kernels in the
// last bits (another summation order); tests compare both against the
// double-precision reference.
#ifndef FFF_SRC_CUDA_FFF_CUDA_H_
#define FFF_SRC_CUDA_FFF_CUDA_H_

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fff/fff.h"
#include "fff/status.h"

namespace fff::cuda {

// OK when a CUDA device can run kernels here; otherwise the reason. On a
// machine without a driver cudaGetDeviceCount returns an error (not zero
// devices): that is reported here as FailedPrecondition, never thrown.
Status DeviceAvailable();

// The device the calling thread uses, as "NVIDIA H100 80GB HBM3 (sm_90, 132
// SMs, 50 MB L2)"; empty when none.
std::string DeviceDescription();

// Weights of one layer on the device, element type T (float or
// __nv_bfloat16). Rows are contiguous: w_in [n_total, d_in],
// w_out [n_total, d_out] node-major. b_in is always fp32.
template <class T>
struct FffDeviceWeights {
  const T* w_in = nullptr;
  const float* b_in = nullptr;
  const T* w_out = nullptr;
};

// Forward over n_rows rows: x [n_rows, d_in] -> y [n_rows, d_out] (T), fp32
// accumulation. nodes (int32) and logits (fp32) [n_rows, n_trees, depth+1]
// are written when non-null (both or neither; the training path needs both).
// n_rows == 0 is a no-op.
template <class T>
Status FffForward(const FffShape& shape, const FffDeviceWeights<T>& w,
                  const T* x, int64_t n_rows, T* y, int32_t* nodes,
                  float* logits, cudaStream_t stream);

// Gradients of the layer from the routing the forward returned. Inputs: dy
// [n_rows, d_out], x [n_rows, d_in] (T), nodes/logits as the forward wrote
// them. Outputs (fp32, overwritten, every element written): dx
// [n_rows, d_in], dw_in [n_total, d_in], db_in [n_total], dw_out
// [n_total, d_out] node-major. Rows of unvisited nodes come back zero.
// `workspace` is device memory of at least FffBackwardWorkspaceBytes bytes,
// 256-byte aligned (cudaMalloc's alignment).
size_t FffBackwardWorkspaceBytes(const FffShape& shape, int64_t n_rows);

template <class T>
Status FffBackward(const FffShape& shape, const FffDeviceWeights<T>& w,
                   const T* x, const T* dy, int64_t n_rows,
                   const int32_t* nodes, const float* logits, float* dx,
                   float* dw_in, float* db_in, float* dw_out, void* workspace,
                   size_t workspace_bytes, cudaStream_t stream);

}  // namespace fff::cuda

#endif  // FFF_SRC_CUDA_FFF_CUDA_H_
