// FffLayer::Backward: the conditional FFF gradients of fff/fff.h. Only the
// visited nodes are read or written, in three steps:
//   1. per row (parallel over fixed row blocks): dz of each visit from dy and
//      the visited w_out rows, the activations, and dx from the visited w_in
//      rows;
//   2. the visits sorted by global node (rows ascending within a node);
//   3. per node (parallel over contiguous node ranges, one thread per node):
//      dw_in, db_in and dw_out rows accumulated over that node's rows in
//      ascending row order.
// So every result is independent of the thread count by construction.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fff/fff.h"
#include "src/base/aligned_buffer.h"
#include "src/base/parallel.h"
#include "src/base/validate.h"
#include "src/kernels/fff_kernels.h"
#include "src/kernels/fff_layer_impl.h"

namespace fff {
namespace {

// Rows per parallel block of step 1 (fixed, so blocks do not depend on the
// thread count).
constexpr int64_t kRowBlock = 64;

// d GELU(z) / dz = Phi(z) + z phi(z), in float.
inline float GeluGrad(float z) {
  constexpr float kInvSqrt2 = 0.70710678118654752f;
  constexpr float kInvSqrt2Pi = 0.39894228040143268f;
  return 0.5f * (1.0f + std::erf(z * kInvSqrt2)) +
         z * kInvSqrt2Pi * std::exp(-0.5f * z * z);
}

// OK when the trace of every row is a root-to-leaf path consistent with its
// logits: level 0 at the root, then child 2n+1 + (z > 0) of the node above.
Status ValidateTracePaths(const FffShape& s, const FffConstTrace& trace,
                          int64_t n_rows) {
  const int64_t levels = s.depth + 1;
  const int64_t nv = s.n_visited();
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t t = 0; t < s.n_trees; ++t) {
      const int64_t base = r * nv + t * levels;
      int64_t want = 0;
      for (int64_t level = 0; level < levels; ++level) {
        const int32_t got = trace.nodes[base + level];
        if (got != want) {
          return InvalidArgumentError(fmt::format(
              "fff: trace.nodes: row {} tree {} level {}: expected node {} "
              "(the path its logits take), got {}; pass the trace the "
              "forward wrote for this layer",
              r, t, level, want, got));
        }
        want = 2 * want + 1 + (trace.logits[base + level] > 0.0f ? 1 : 0);
      }
    }
  }
  return Status::Ok();
}

struct NamedRange {
  const void* p;
  size_t bytes;
  const char* name;
};

}  // namespace

Status FffLayer::Backward(MatrixView<const float> x,
                          MatrixView<const float> dy,
                          const FffConstTrace& trace,
                          const FffGradients& grads) {
  const Impl& im = *impl_;
  const FffShape& s = im.shape;
  FFF_RETURN_IF_ERROR(ValidateMatrix(x, "x", s.d_in, "d_in"));
  FFF_RETURN_IF_ERROR(ValidateMatrix(dy, "dy", s.d_out, "d_out"));
  FFF_RETURN_IF_ERROR(ValidateMatrix(grads.dx, "dx", s.d_in, "d_in"));
  const int64_t n_rows = x.rows;
  if (dy.rows != n_rows || grads.dx.rows != n_rows) {
    return InvalidArgumentError(fmt::format(
        "fff: {}: expected {} rows (as x), got {}",
        dy.rows != n_rows ? "dy" : "dx", n_rows,
        dy.rows != n_rows ? dy.rows : grads.dx.rows));
  }
  const int64_t total = s.n_total_nodes();
  FFF_RETURN_IF_ERROR(ValidateSpan(grads.dw_in, "dw_in", total * s.d_in,
                                   "n_trees*n_nodes x d_in"));
  FFF_RETURN_IF_ERROR(
      ValidateSpan(grads.db_in, "db_in", total, "n_trees*n_nodes"));
  FFF_RETURN_IF_ERROR(ValidateSpan(grads.dw_out, "dw_out", total * s.d_out,
                                   "n_trees*n_nodes x d_out, node-major"));
  const int64_t nv = s.n_visited();
  const int64_t n_vis = n_rows * nv;
  FFF_RETURN_IF_ERROR(ValidateSpan(trace.nodes, "trace.nodes", n_vis,
                                   "n_rows x n_trees x (depth+1)"));
  FFF_RETURN_IF_ERROR(ValidateSpan(trace.logits, "trace.logits", n_vis,
                                   "n_rows x n_trees x (depth+1)"));
  // Outputs must not overlap each other or any input.
  const NamedRange outputs[] = {
      {grads.dx.data, grads.dx.ExtentElements() * sizeof(float), "dx"},
      {grads.dw_in.data(), grads.dw_in.size_bytes(), "dw_in"},
      {grads.db_in.data(), grads.db_in.size_bytes(), "db_in"},
      {grads.dw_out.data(), grads.dw_out.size_bytes(), "dw_out"}};
  const NamedRange inputs[] = {
      {x.data, x.ExtentElements() * sizeof(float), "x"},
      {dy.data, dy.ExtentElements() * sizeof(float), "dy"},
      {trace.nodes.data(), trace.nodes.size_bytes(), "trace.nodes"},
      {trace.logits.data(), trace.logits.size_bytes(), "trace.logits"},
      {im.weights.w_in.data(), im.weights.w_in.size_bytes(), "w_in"},
      {im.weights.b_in.data(), im.weights.b_in.size_bytes(), "b_in"},
      {im.weights.w_out.data(), im.weights.w_out.size_bytes(), "w_out"}};
  for (size_t i = 0; i < std::size(outputs); ++i) {
    for (size_t j = i + 1; j < std::size(outputs); ++j) {
      if (Overlaps(outputs[i].p, outputs[i].bytes, outputs[j].p,
                   outputs[j].bytes)) {
        return InvalidArgumentError(fmt::format(
            "fff: {} and {} overlap", outputs[i].name, outputs[j].name));
      }
    }
    for (const NamedRange& in : inputs) {
      if (Overlaps(outputs[i].p, outputs[i].bytes, in.p, in.bytes)) {
        return InvalidArgumentError(
            fmt::format("fff: {} and {} overlap", outputs[i].name, in.name));
      }
    }
  }
  FFF_RETURN_IF_ERROR(ValidateTracePaths(s, trace, n_rows));
  if (n_rows == 0) return Status::Ok();

  AlignedBuffer<float> dz, act;
  FFF_RETURN_IF_ERROR(dz.Allocate(static_cast<size_t>(n_vis), "FFF dz"));
  FFF_RETURN_IF_ERROR(act.Allocate(static_cast<size_t>(n_vis), "FFF acts"));
  const auto* k = im.kernels;
  const int64_t levels = s.depth + 1;
  const int64_t n_nodes = s.n_nodes();
  const float* w_in = im.weights.w_in.data();
  const float* w_out = im.weights.w_out.data();
  const int64_t w_in_stride =
      im.weights.w_in_stride > 0 ? im.weights.w_in_stride : s.d_in;
  const int64_t w_out_stride =
      im.weights.w_out_stride > 0 ? im.weights.w_out_stride : s.d_out;
  auto global = [&](int64_t p) {  // global node of visit p = r * nv + k
    return (p % nv) / levels * n_nodes + trace.nodes[p];
  };

  // 1. dz, activations and dx, per row.
  ParallelFor((n_rows + kRowBlock - 1) / kRowBlock, im.n_threads,
              [&](int64_t b) {
                const int64_t r0 = b * kRowBlock;
                const int64_t r1 = std::min(n_rows, r0 + kRowBlock);
                k->gelu(trace.logits.data() + r0 * nv, act.data() + r0 * nv,
                        (r1 - r0) * nv);
                for (int64_t r = r0; r < r1; ++r) {
                  const float* dyr = dy.Row(r);
                  float* dxr = grads.dx.Row(r);
                  std::fill(dxr, dxr + s.d_in, 0.0f);
                  for (int64_t p = r * nv; p < (r + 1) * nv; ++p) {
                    const int64_t g = global(p);
                    const float da =
                        k->dot(dyr, w_out + g * w_out_stride, s.d_out);
                    dz[p] = da * GeluGrad(trace.logits[p]);
                    k->axpy(dz[p], w_in + g * w_in_stride, dxr, s.d_in);
                  }
                }
              });

  // 2. Visits sorted by (global node, position): a counting sort when the
  // nodes are few next to the visits, else a comparison sort of packed keys.
  std::vector<int64_t> by_node(static_cast<size_t>(n_vis));
  if (total <= 4 * n_vis + 1024) {
    std::vector<int64_t> count(static_cast<size_t>(total) + 1, 0);
    for (int64_t p = 0; p < n_vis; ++p) ++count[global(p) + 1];
    std::partial_sum(count.begin(), count.end(), count.begin());
    for (int64_t p = 0; p < n_vis; ++p) by_node[count[global(p)]++] = p;
  } else {
    // g < 2^31 and p < n_rows * nv: the key (g, p) packs into 64 bits when
    // p < 2^32 (checked), which a batch this sparse always satisfies.
    if (n_vis >= (int64_t{1} << 32)) {
      return OutOfRangeError(fmt::format(
          "fff: Backward: {} visits in one call; expected < 2^32", n_vis));
    }
    std::vector<uint64_t> keys(static_cast<size_t>(n_vis));
    for (int64_t p = 0; p < n_vis; ++p) {
      keys[p] = (static_cast<uint64_t>(global(p)) << 32) |
                static_cast<uint64_t>(p);
    }
    std::sort(keys.begin(), keys.end());
    for (int64_t i = 0; i < n_vis; ++i) {
      by_node[i] = static_cast<int64_t>(keys[i] & 0xffffffffu);
    }
  }

  // 3. Weight gradients, one thread per node: each part takes a contiguous
  // range of visits moved to node boundaries.
  const int parts = im.n_threads;
  std::vector<int64_t> cut(static_cast<size_t>(parts) + 1);
  for (int i = 0; i <= parts; ++i) {
    int64_t c = n_vis * i / parts;
    while (c > 0 && c < n_vis && global(by_node[c]) == global(by_node[c - 1])) {
      ++c;
    }
    cut[i] = c;
  }
  ParallelFor(parts, im.n_threads, [&](int64_t part) {
    for (int64_t i = cut[part]; i < cut[part + 1]; ++i) {
      const int64_t p = by_node[i];
      const int64_t g = global(p);
      const int64_t r = p / nv;
      k->axpy(dz[p], x.Row(r), grads.dw_in.data() + g * s.d_in, s.d_in);
      grads.db_in[g] += dz[p];
      k->axpy(act[p], dy.Row(r), grads.dw_out.data() + g * s.d_out, s.d_out);
    }
  });
  return Status::Ok();
}

}  // namespace fff
