// FFF kernels for every Highway target (this file is compiled once per
// target through foreach_target.h). Strategies, layouts and the plan's choice
// between them are described in docs/kernels.md.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "src/base/check.h"
#include "src/kernels/fff_kernels.h"
#include "src/kernels/target_tables.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/fff_cpu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "src/kernels/fff-inl.h"
#include "src/kernels/gelu-inl.h"

HWY_BEFORE_NAMESPACE();
namespace fff::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using fff::HWY_NAMESPACE::AccumulateOutputPass;
using fff::HWY_NAMESPACE::DotRows;
using fff::HWY_NAMESPACE::DotTile;
using fff::HWY_NAMESPACE::Gelu;

using DF = hn::ScalableTag<float>;

// Rows whose dot products share one weight row in the level-batched
// strategy: 4 needs 16 accumulators, which fits AVX-512's 32 registers;
// narrower targets have 16 registers and take 2.
constexpr size_t kGroupRows = HWY_MAX_BYTES >= 64 ? 4 : 2;

void GeluArray(const float* in, float* out, int64_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= static_cast<size_t>(n); i += N) {
    hn::StoreU(Gelu(d, hn::LoadU(d, in + i)), d, out + i);
  }
  if (i < static_cast<size_t>(n)) {
    const size_t rem = static_cast<size_t>(n) - i;
    HWY_ALIGN float buf[fff::HWY_NAMESPACE::kMaxLanesF32] = {};
    std::memcpy(buf, in + i, rem * sizeof(float));
    hn::Store(Gelu(d, hn::Load(d, buf)), d, buf);
    std::memcpy(out + i, buf, rem * sizeof(float));
  }
}

float Dot(const float* x, const float* w, int64_t n) {
  const DF d;
  float out;
  DotRows<1, true>(d, &x, &w, static_cast<size_t>(n), &out);
  return out;
}

// Row walk: each row descends its trees alone. While a level's logit is
// computed, the first cache lines of both candidate rows of the next level
// are prefetched, so the hardware streamer finds them already in flight.
void RowWalk(const FffProblem& p, int64_t row_begin, int64_t row_end,
             const FffRouting& routing) {
  const DF d;
  const int64_t nv = p.n_visited();
  const size_t d_in = static_cast<size_t>(p.d_in);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* x = p.x + r * p.x_stride;
    int32_t* nodes = routing.nodes + r * nv;
    float* acts = routing.acts + r * nv;
    for (int64_t t = 0; t < p.n_trees; ++t) {
      const int64_t base = t * p.n_nodes;
      int64_t node = 0;
      for (int64_t level = 0; level <= p.depth; ++level) {
        const int64_t g = base + node;
        const float* w = p.w_in + g * p.w_in_stride;
        if (level < p.depth) {
          const float* left = p.w_in + (g + node + 1) * p.w_in_stride;
          hwy::Prefetch(left);
          hwy::Prefetch(left + 16);
          hwy::Prefetch(left + p.w_in_stride);
          hwy::Prefetch(left + p.w_in_stride + 16);
        }
        float z;
        DotRows<1, true>(d, &x, &w, d_in, &z);
        z += p.b_in[g];
        *nodes++ = static_cast<int32_t>(g);
        *acts++ = z;
        // A branch, not a select: a select makes the next level's loads wait
        // for this logit's reduction (a ~30-cycle chain per level), while a
        // branch lets the core run ahead on the predicted child. Measured
        // (FFF-1x11, B = 1): the walk 515 -> 380 ns when a row's path repeats
        // between calls, unchanged (within noise) on fresh rows, where half
        // the predictions miss and a miss costs about what the select waited.
        if (z > 0.0f) {
          node = 2 * node + 2;
        } else {
          node = 2 * node + 1;
        }
      }
    }
  }
}

// Logits of the n rows at positions [0, n) of perm, whose current nodes are
// node[] (sorted, so rows sharing a node are adjacent): kGroupRows rows at a
// time, loading a weight row once for all of them when they share it.
// Interleaving rows of different groups keeps the FMA units busy where
// groups are small (deep levels), instead of one latency-bound dot at a time.
HWY_INLINE void GroupLogits(const FffProblem& p, int64_t base,
                            const int32_t* perm, const int32_t* node, int64_t n,
                            float* z) {
  const DF d;
  const size_t d_in = static_cast<size_t>(p.d_in);
  const float* xs[kGroupRows];
  const float* ws[kGroupRows];
  int64_t i = 0;
  for (; i + static_cast<int64_t>(kGroupRows) <= n; i += kGroupRows) {
    for (size_t k = 0; k < kGroupRows; ++k) {
      xs[k] = p.x + perm[i + k] * p.x_stride;
      ws[k] = p.w_in + (base + node[i + k]) * p.w_in_stride;
    }
    if (node[i] == node[i + kGroupRows - 1]) {
      DotRows<kGroupRows, true>(d, xs, ws, d_in, z + i);
    } else {
      DotRows<kGroupRows, false>(d, xs, ws, d_in, z + i);
    }
  }
  for (; i < n; ++i) {
    xs[0] = p.x + perm[i] * p.x_stride;
    ws[0] = p.w_in + (base + node[i]) * p.w_in_stride;
    DotRows<1, true>(d, xs, ws, d_in, z + i);
  }
}

// Dense top levels (see FffRouteDenseFn). The logits of every node of the
// top levels of a pass of trees are computed with DotTile: kTileRows rows
// against kTileCols weight rows at a time, so each input vector is loaded
// once for kTileCols dot products instead of once per product, and each
// product has DotRows' bits. Rows are then walked down those levels.
constexpr int64_t kTileRows = HWY_MAX_BYTES >= 64 ? 4 : 2;
constexpr int64_t kTileCols = HWY_MAX_BYTES >= 64 ? 6 : 4;

// z[r * n_cols + c] = dot(x of rows[r], w_in row cols[c]) for r < n_rows,
// c < n_cols.
void TileLogits(const FffProblem& p, const int32_t* rows, int64_t n_rows,
                const float* const* cols, int64_t n_cols, float* z) {
  const DF d;
  const size_t d_in = static_cast<size_t>(p.d_in);
  constexpr int64_t R = kTileRows, C = kTileCols;
  float out[R * C];
  const float* xs[R];
  // Weight rows outermost: a column block (C rows) stays in L1 while the
  // rows' inputs stream past it.
  for (int64_t c = 0; c < n_cols; c += C) {
    const int64_t nc = std::min(C, n_cols - c);
    for (int64_t r = 0; r < n_rows; r += R) {
      const int64_t nr = std::min(R, n_rows - r);
      for (int64_t i = 0; i < nr; ++i) xs[i] = p.x + rows[r + i] * p.x_stride;
      if (nr == R && nc == C) {
        DotTile<R, C>(d, xs, cols + c, d_in, out);
        for (int64_t i = 0; i < R; ++i) {
          for (int64_t k = 0; k < C; ++k) {
            z[(r + i) * n_cols + c + k] = out[i * C + k];
          }
        }
        continue;
      }
      // Edges: one row against the block's columns, or single products.
      for (int64_t i = 0; i < nr; ++i) {
        if (nc == C) {
          DotTile<1, C>(d, xs + i, cols + c, d_in, out);
          for (int64_t k = 0; k < C; ++k) z[(r + i) * n_cols + c + k] = out[k];
        } else {
          for (int64_t k = 0; k < nc; ++k) {
            DotTile<1, 1>(d, xs + i, cols + c + k, d_in, out);
            z[(r + i) * n_cols + c + k] = out[0];
          }
        }
      }
    }
  }
}

void RouteDense(const FffProblem& p, int64_t tree_begin, int64_t tree_end,
                int64_t levels, const int32_t* rows, int64_t n,
                const FffRouting& routing) {
  const int64_t nv = p.n_visited();
  const int64_t tree_levels = p.depth + 1;
  FFF_CHECK(levels >= 1 && levels <= kMaxDenseLevels);
  const int64_t m = (int64_t{1} << levels) - 1;  // top nodes per tree
  // Logits of a pass: at most kDenseRows rows x (kDenseCols / m) trees.
  constexpr int64_t kDenseRows = 16;
  constexpr int64_t kDenseCols = 96;
  HWY_ALIGN float z[kDenseRows * kDenseCols];
  const float* cols[kDenseCols];
  const int64_t trees_per_pass = std::max<int64_t>(1, kDenseCols / m);
  // Tree passes outermost: a pass's weight rows (at most kDenseCols, 288 KB
  // at d_in = 768) stay in L2 while every row of the block goes past them.
  for (int64_t t0 = tree_begin; t0 < tree_end; t0 += trees_per_pass) {
    const int64_t nt = std::min(trees_per_pass, tree_end - t0);
    for (int64_t t = 0; t < nt; ++t) {
      for (int64_t k = 0; k < m; ++k) {
        cols[t * m + k] = p.w_in + ((t0 + t) * p.n_nodes + k) * p.w_in_stride;
      }
    }
    const int64_t n_cols = nt * m;
    for (int64_t r0 = 0; r0 < n; r0 += kDenseRows) {
      const int64_t nr = std::min(kDenseRows, n - r0);
      TileLogits(p, rows + r0, nr, cols, n_cols, z);
      for (int64_t i = 0; i < nr; ++i) {
        const int64_t row = rows[r0 + i];
        for (int64_t t = 0; t < nt; ++t) {
          const int64_t tree = t0 + t;
          const int64_t base = tree * p.n_nodes;
          int64_t node = 0;
          for (int64_t level = 0; level < levels; ++level) {
            const float zl = z[i * n_cols + t * m + node] + p.b_in[base + node];
            const int64_t at = row * nv + tree * tree_levels + level;
            routing.nodes[at] = static_cast<int32_t>(base + node);
            routing.acts[at] = zl;
            node = 2 * node + (zl > 0.0f ? 2 : 1);
          }
        }
      }
    }
  }
}

// Grouped routing (see FffRouteGroupFn). Positions [0, n) hold rows sorted
// by their current node; after each level every group of equal nodes is
// split stably into its left then right child group, which keeps the order
// sorted by node.
void RouteGroup(const FffProblem& p, int64_t tree, int32_t start_node,
                const int32_t* start_nodes, int64_t level_begin,
                int64_t level_end, int32_t* rows, int64_t n,
                const FffRouting& routing, const FffGroupScratch& s,
                int32_t* next_node) {
  if (n == 0) return;
  const int64_t nv = p.n_visited();
  const int64_t levels = p.depth + 1;
  const int64_t base = tree * p.n_nodes;
  int32_t* perm = rows;
  int32_t* perm_next = s.perm_next;
  int32_t* node = s.node;
  int32_t* node_next = s.node_next;
  for (int64_t i = 0; i < n; ++i) {
    node[i] = start_nodes != nullptr ? start_nodes[i] : start_node;
  }
  for (int64_t level = level_begin; level < level_end; ++level) {
    GroupLogits(p, base, perm, node, n, s.z);
    for (int64_t j = 0; j < n; ++j) {
      const float z = s.z[j] + p.b_in[base + node[j]];
      s.z[j] = z;
      const int64_t at = perm[j] * nv + tree * levels + level;
      routing.nodes[at] = static_cast<int32_t>(base + node[j]);
      routing.acts[at] = z;
    }
    // Stable split of every group into its left then right child group.
    int64_t out = 0;
    for (int64_t b = 0; b < n;) {
      int64_t e = b + 1;
      while (e < n && node[e] == node[b]) ++e;
      for (int side = 0; side < 2; ++side) {
        const int32_t child = 2 * node[b] + 1 + side;
        for (int64_t j = b; j < e; ++j) {
          if ((s.z[j] > 0.0f) == (side == 1)) {
            perm_next[out] = perm[j];
            node_next[out] = child;
            ++out;
          }
        }
      }
      b = e;
    }
    std::swap(perm, perm_next);
    std::swap(node, node_next);
  }
  if (perm != rows) std::memcpy(rows, perm, static_cast<size_t>(n) * 4);
  if (next_node != nullptr) {
    std::memcpy(next_node, node, static_cast<size_t>(n) * 4);
  }
}

// y[i] += a * x[i] for i < n: one MulAdd per element (fused where the target
// has FMA; the tail past the last whole vector uses std::fma), so an element's
// result depends only on its own operands.
void Axpy(float a, const float* x, float* y, int64_t n) {
  const DF d;
  const size_t N = hn::Lanes(d);
  const auto va = hn::Set(d, a);
  size_t i = 0;
  const size_t un = static_cast<size_t>(n);
  for (; i + 2 * N <= un; i += 2 * N) {
    const auto y0 = hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i));
    const auto y1 =
        hn::MulAdd(va, hn::LoadU(d, x + i + N), hn::LoadU(d, y + i + N));
    hn::StoreU(y0, d, y + i);
    hn::StoreU(y1, d, y + i + N);
  }
  for (; i + N <= un; i += N) {
    hn::StoreU(hn::MulAdd(va, hn::LoadU(d, x + i), hn::LoadU(d, y + i)), d,
               y + i);
  }
  for (; i < un; ++i) y[i] = std::fma(a, x[i], y[i]);
}

// Output rows of the listed rows from their activations, kGroupRows rows at
// a time so rows that share a node (consecutive grouped rows share their
// upper levels) load its w_out row once. Rows with many visits (many trees)
// go in blocks of kOutputBlockRows, each block pass by pass
// (kOutputPassVisits visits): a pass's w_out rows then stay in L2 for the
// whole block instead of streaming from L3 once per group, and the block's
// partial sums in y stay in L2 between passes. Same per-element order as
// one group at a time (AccumulateOutputRows).
constexpr int64_t kOutputBlockRows = 64;

template <bool kStream>
void FinishRowsImpl(const FffProblem& p, const int32_t* rows, int64_t n,
                    const FffRouting& routing) {
  const DF d;
  const int64_t nv = p.n_visited();
  const size_t d_out = static_cast<size_t>(p.d_out);
  const size_t w_stride = static_cast<size_t>(p.w_out_stride);
  const int32_t* nodes[kGroupRows];
  const float* acts[kGroupRows];
  float* ys[kGroupRows];
  const int64_t pass =
      static_cast<int64_t>(fff::HWY_NAMESPACE::kOutputPassVisits);
  for (int64_t b0 = 0; b0 < n; b0 += kOutputBlockRows) {
    const int64_t b1 = std::min(n, b0 + kOutputBlockRows);
    for (int64_t k0 = 0; k0 < nv; k0 += pass) {
      const size_t k1 = static_cast<size_t>(std::min(nv, k0 + pass));
      const bool last = static_cast<int64_t>(k1) == nv;
      int64_t i = b0;
      for (; i + static_cast<int64_t>(kGroupRows) <= b1; i += kGroupRows) {
        for (size_t k = 0; k < kGroupRows; ++k) {
          const int64_t r = rows[i + k];
          nodes[k] = routing.nodes + r * nv;
          acts[k] = routing.acts + r * nv;
          ys[k] = p.y + r * p.y_stride;
        }
        if (kStream && last) {
          AccumulateOutputPass<kGroupRows, true>(d, p.w_out, w_stride, d_out,
                                                 nodes, acts, k0, k1, ys);
        } else {
          AccumulateOutputPass<kGroupRows, false>(d, p.w_out, w_stride, d_out,
                                                  nodes, acts, k0, k1, ys);
        }
      }
      for (; i < b1; ++i) {
        const int64_t r = rows[i];
        nodes[0] = routing.nodes + r * nv;
        acts[0] = routing.acts + r * nv;
        ys[0] = p.y + r * p.y_stride;
        if (kStream && last) {
          AccumulateOutputPass<1, true>(d, p.w_out, w_stride, d_out, nodes,
                                        acts, k0, k1, ys);
        } else {
          AccumulateOutputPass<1, false>(d, p.w_out, w_stride, d_out, nodes,
                                         acts, k0, k1, ys);
        }
      }
    }
  }
  // Streaming stores are weakly ordered: drain them before the caller's
  // barrier publishes y to other threads.
  if (kStream) hwy::FlushStream();
}

void FinishRows(const FffProblem& p, const int32_t* rows, int64_t n,
                const FffRouting& routing) {
  if (p.stream_y) {
    FinishRowsImpl<true>(p, rows, n, routing);
  } else {
    FinishRowsImpl<false>(p, rows, n, routing);
  }
}

const FffKernelTable* GetFffKernelTable() {
  static const FffKernelTable table = {HWY_TARGET,  hwy::TargetName(HWY_TARGET),
                                       &RowWalk,    &RouteGroup,
                                       &RouteDense, &FinishRows,
                                       &GeluArray,  &Dot,
                                       &Axpy};
  return &table;
}

}  // namespace fff::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fff::kernels {

HWY_EXPORT(GetFffKernelTable);

std::vector<const FffKernelTable*> CompiledFffKernelTables() {
  return CompiledTables<FffKernelTable>(
      HWY_DISPATCH_TABLE(GetFffKernelTable),
      sizeof(HWY_DISPATCH_TABLE(GetFffKernelTable)) /
          sizeof(HWY_DISPATCH_TABLE(GetFffKernelTable)[0]));
}

std::vector<const FffKernelTable*> SupportedFffKernelTables() {
  return SupportedTables(CompiledFffKernelTables());
}

const FffKernelTable* FindFffKernelTable(std::string_view name) {
  return FindTable(SupportedFffKernelTables(), name);
}

}  // namespace fff::kernels
#endif  // HWY_ONCE
