// Target-independent interface between the FFF plan (fff_layer.cc) and the
// per-SIMD-target kernels (fff_cpu.cc, compiled once per Highway target).
// Model code never sees this header; it uses fff/fff.h.
#ifndef FFF_SRC_KERNELS_FFF_KERNELS_H_
#define FFF_SRC_KERNELS_FFF_KERNELS_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace fff::kernels {

// A validated FFF problem over one chunk of rows: pointers, shapes and
// strides (in elements). Layouts are those documented in fff/fff.h; x and y
// point at the chunk's first row.
struct FffProblem {
  int64_t d_in = 0;
  int64_t d_out = 0;
  int64_t depth = 0;
  int64_t n_trees = 0;
  int64_t n_nodes = 0;           // per tree
  const float* w_in = nullptr;   // [n_trees*n_nodes, d_in], row stride w_in_stride
  const float* b_in = nullptr;   // [n_trees*n_nodes]
  const float* w_out = nullptr;  // [n_trees*n_nodes, d_out] node-major, row stride w_out_stride
  int64_t w_in_stride = 0;       // >= d_in
  int64_t w_out_stride = 0;      // >= d_out
  const float* x = nullptr;      // [n_rows, d_in], row stride x_stride
  int64_t x_stride = 0;
  float* y = nullptr;  // [n_rows, d_out], row stride y_stride
  int64_t y_stride = 0;
  // Write y with non-temporal (streaming) stores: set by the plan when the
  // call's outputs are larger than the last-level cache, so they would not
  // stay cached anyway. Needs y and y_stride aligned to the widest vector.
  bool stream_y = false;

  int64_t n_visited() const { return n_trees * (depth + 1); }
};

// Per-row routing of a chunk: for row r and visit k = tree*(depth+1)+level,
// nodes[r*n_visited+k] is the global node (tree*n_nodes + node) and
// acts[r*n_visited+k] its logit (the plan then applies GELU in place).
struct FffRouting {
  int32_t* nodes = nullptr;
  float* acts = nullptr;
};

// Per-thread scratch of the grouped router, each array [max_rows], 64-byte
// aligned.
struct FffGroupScratch {
  int64_t max_rows = 0;
  int32_t* perm_next = nullptr;
  int32_t* node = nullptr;  // current node of each position
  int32_t* node_next = nullptr;
  float* z = nullptr;  // logit of each position
};

// Row walk: routes rows [row_begin, row_end) of the chunk one at a time
// (prefetching each next level's candidate rows) and records the routing.
using FffRowWalkFn = void (*)(const FffProblem& p, int64_t row_begin,
                              int64_t row_end, const FffRouting& routing);

// Grouped routing: the n rows listed in rows[] (chunk row indices), all at
// node `start_node` of `tree` at level `level_begin` (or, when start_nodes is
// not null, row i at node start_nodes[i], rows sorted by it), are routed
// through levels [level_begin, level_end), kept grouped by node so each group's
// logits are computed against one shared weight row. On return rows[] is
// reordered by the node each row reaches after the last level, written to
// next_node[i] for the row now at position i (may be null). n <= max_rows.
using FffRouteGroupFn = void (*)(const FffProblem& p, int64_t tree,
                                 int32_t start_node, const int32_t* start_nodes,
                                 int64_t level_begin, int64_t level_end,
                                 int32_t* rows, int64_t n,
                                 const FffRouting& routing,
                                 const FffGroupScratch& scratch,
                                 int32_t* next_node);

// Dense top levels: for the n rows listed in rows[] and trees
// [tree_begin, tree_end), the logits of all 2^levels - 1 nodes of each tree's
// top `levels` levels are computed (each product with the same arithmetic as
// every other strategy, so the recorded logits are bitwise those of a row
// walk), each row is walked down them, and the routing of those levels is
// recorded. Pays where a tree's top nodes are few and shared by every row:
// each input vector is loaded once for several weight rows.
inline constexpr int64_t kMaxDenseLevels = 6;  // levels <= this
using FffRouteDenseFn = void (*)(const FffProblem& p, int64_t tree_begin,
                                 int64_t tree_end, int64_t levels,
                                 const int32_t* rows, int64_t n,
                                 const FffRouting& routing);

// For the n rows listed in rows[], whose acts already hold GELU(logit):
// y[row] = sum over visits of act * w_out[node] (fixed order, fff-inl.h).
using FffFinishRowsFn = void (*)(const FffProblem& p, const int32_t* rows,
                                 int64_t n, const FffRouting& routing);

// The kernels compiled for one SIMD target.
struct FffKernelTable {
  int64_t target = 0;     // Highway target bit (HWY_AVX3, ...)
  const char* name = "";  // hwy::TargetName(target), e.g. "AVX3"
  FffRowWalkFn row_walk = nullptr;
  FffRouteGroupFn route_group = nullptr;
  FffRouteDenseFn route_dense = nullptr;
  FffFinishRowsFn finish_rows = nullptr;
  // out[i] = GELU(in[i]) for i < n (in == out allowed). Exposed for tests.
  void (*gelu)(const float* in, float* out, int64_t n) = nullptr;
  // The dot product every strategy uses for a logit (without bias).
  float (*dot)(const float* x, const float* w, int64_t n) = nullptr;
  // y[i] += a * x[i] for i < n, one MulAdd per element (the backward's
  // accumulation step; an element's result depends only on its operands).
  void (*axpy)(float a, const float* x, float* y, int64_t n) = nullptr;
};

// Tables for every target compiled into this binary, best first (whether or
// not this CPU supports it).
std::vector<const FffKernelTable*> CompiledFffKernelTables();
// Compiled and supported by this CPU, best first. Never empty.
std::vector<const FffKernelTable*> SupportedFffKernelTables();
// The table named `name` (case-insensitive) if compiled and supported, else
// nullptr.
const FffKernelTable* FindFffKernelTable(std::string_view name);

}  // namespace fff::kernels

#endif  // FFF_SRC_KERNELS_FFF_KERNELS_H_
