// ValidateFffShape (fff/fff.h). In fff_core, with Status, so that every
// backend (the CPU kernels and the CUDA library, which is built without fmt
// on the GPU machine) checks shapes with the same code and messages.
#include <cstdint>
#include <limits>
#include <string>

#include "fff/fff.h"

namespace fff {
namespace {

std::string Str(int64_t v) { return std::to_string(v); }

}  // namespace

Status ValidateFffShape(const FffShape& s) {
  if (s.d_in < 1) {
    return InvalidArgumentError("fff: d_in: expected >= 1, got " + Str(s.d_in));
  }
  if (s.d_out < 1) {
    return InvalidArgumentError("fff: d_out: expected >= 1, got " +
                                Str(s.d_out));
  }
  if (s.depth < 0 || s.depth > kFffMaxDepth) {
    return OutOfRangeError("fff: depth: expected 0.." + Str(kFffMaxDepth) +
                           " (int32 node index), got " + Str(s.depth));
  }
  if (s.n_trees < 1) {
    return InvalidArgumentError("fff: n_trees: expected >= 1, got " +
                                Str(s.n_trees));
  }
  constexpr int64_t kMaxNodes = std::numeric_limits<int32_t>::max();
  if (s.n_trees > kMaxNodes / s.n_nodes()) {
    return OutOfRangeError("fff: n_trees * n_nodes: expected <= " +
                           Str(kMaxNodes) + " (int32 node index), got " +
                           Str(s.n_trees) + " * " + Str(s.n_nodes()));
  }
  constexpr int64_t kMaxElements = std::numeric_limits<int64_t>::max() / 8;
  const int64_t total = s.n_total_nodes();
  if (s.d_in > kMaxElements / total || s.d_out > kMaxElements / total) {
    return OutOfRangeError("fff: weights of " + Str(total) +
                           " nodes x max(d_in " + Str(s.d_in) + ", d_out " +
                           Str(s.d_out) + ") overflow int64");
  }
  return Status::Ok();
}

}  // namespace fff
