// CUDA errors as fff Status values (internal to fff_cuda). Every CUDA call
// of the host wrappers goes through FFF_CUDA_RETURN_IF_ERROR, every launch
// through CheckLaunch.
#ifndef FFF_SRC_CUDA_CUDA_STATUS_H_
#define FFF_SRC_CUDA_CUDA_STATUS_H_

#include <cuda_runtime_api.h>

#include <string>

#include "fff/status.h"

namespace fff::cuda {

// OK for cudaSuccess; otherwise an Internal error "fff cuda: <what>:
// <error name> (<error text>)".
inline Status CudaStatus(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  return InternalError(std::string("fff cuda: ") + what + ": " +
                       cudaGetErrorName(e) + " (" + cudaGetErrorString(e) +
                       ")");
}

// After a kernel launch: the launch error if any. With FFF_CUDA_SYNC_CHECKS
// (debug builds) also waits for the kernel, so a fault inside it is reported
// by the call that launched it rather than by a later synchronisation.
inline Status CheckLaunch(cudaStream_t stream, const char* kernel) {
  FFF_RETURN_IF_ERROR(CudaStatus(cudaGetLastError(), kernel));
#ifdef FFF_CUDA_SYNC_CHECKS
  FFF_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(stream), kernel));
#else
  (void)stream;
#endif
  return Status::Ok();
}

}  // namespace fff::cuda

#define FFF_CUDA_RETURN_IF_ERROR(expr, what) \
  FFF_RETURN_IF_ERROR(::fff::cuda::CudaStatus((expr), (what)))

#endif  // FFF_SRC_CUDA_CUDA_STATUS_H_
