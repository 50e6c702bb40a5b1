// Torch reports errors by throwing (c10::Error); fff's API returns Status.
// TorchCall runs a piece of torch code and turns an exception into an
// Internal error prefixed with `what`.
#ifndef FFF_TOOLS_TRAIN_TORCH_STATUS_H_
#define FFF_TOOLS_TRAIN_TORCH_STATUS_H_

#include <fmt/format.h>

#include <exception>

#include "fff/status.h"

namespace fff::train {

template <class Fn>
Status TorchCall(const char* what, const Fn& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return InternalError(fmt::format("{}: {}", what, e.what()));
  }
  return Status::Ok();
}

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_TORCH_STATUS_H_
