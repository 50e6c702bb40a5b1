// The device a run trains on, and bf16 autocast on CUDA (libtorch 1.13's
// and 2.x's autocast APIs).
#ifndef FFF_TOOLS_TRAIN_DEVICE_H_
#define FFF_TOOLS_TRAIN_DEVICE_H_

#include <ATen/autocast_mode.h>
#include <fmt/format.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <string>

#include "fff/status.h"

namespace fff::train {

// "cpu", "cuda", "cuda:1", ...; CUDA must be available.
inline Result<torch::Device> ParseDevice(const std::string& name) {
  try {
    torch::Device d(name);
    if (d.is_cuda() && !torch::cuda::is_available()) {
      return InvalidArgumentError(fmt::format(
          "--device {}: this libtorch has no usable CUDA device", name));
    }
    if (!d.is_cpu() && !d.is_cuda()) {
      return InvalidArgumentError(
          fmt::format("--device: expected cpu or cuda[:N], got \"{}\"", name));
    }
    return d;
  } catch (const std::exception&) {
    return InvalidArgumentError(
        fmt::format("--device: expected cpu or cuda[:N], got \"{}\"", name));
  }
}

// bf16 autocast for CUDA while alive (no-op on CPU or when disabled).
class AutocastBf16 {
 public:
  AutocastBf16(const torch::Device& d, bool enabled) : on_(enabled && d.is_cuda()) {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 3 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(true);
#endif
  }
  ~AutocastBf16() {
    if (!on_) return;
#if TORCH_VERSION_MAJOR >= 3 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_enabled(at::kCUDA, false);
#else
    at::autocast::set_enabled(false);
#endif
    at::autocast::clear_cache();
  }

 private:
  bool on_;
};

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_DEVICE_H_
