// Device queries of fff_cuda (fff_cuda.h).
#include <cuda_runtime_api.h>

#include <string>

#include "src/cuda/cuda_status.h"
#include "src/cuda/fff_cuda.h"

namespace fff::cuda {

Status DeviceAvailable() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear it: the caller may go on without CUDA
    return Status(StatusCode::kFailedPrecondition,
                  std::string("fff cuda: no usable CUDA device: ") +
                      cudaGetErrorString(e));
  }
  if (count == 0) {
    return Status(StatusCode::kFailedPrecondition,
                  "fff cuda: no usable CUDA device: none found");
  }
  return Status::Ok();
}

std::string DeviceDescription() {
  if (!DeviceAvailable().ok()) return "";
  int device = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaGetDeviceProperties(&prop, device) != cudaSuccess) {
    cudaGetLastError();
    return "";
  }
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) +
         std::to_string(prop.minor) + ", " +
         std::to_string(prop.multiProcessorCount) + " SMs, " +
         std::to_string(prop.l2CacheSize / (1024 * 1024)) + " MB L2)";
}

}  // namespace fff::cuda
