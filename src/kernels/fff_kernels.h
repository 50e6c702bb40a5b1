// Target-independent interface between the FFF plan (fff_layer.cc) and the
// per-SIMD-target kernels (fff_cpu.cc, compiled once per Highway target).
// Model code never sees this header; it uses fff/fff.h.
#ifndef FFF_SRC_KERNELS_FFF_KERNELS_H_
#define FFF_SRC_KERNELS_FFF_KERNELS_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace fff::kernels {

// A validated FFF problem: pointers, shapes and strides (in elements). The
// layouts are those documented in fff/fff.h.
struct FffProblem {
  int64_t d_in = 0;
  int64_t d_out = 0;
  int64_t depth = 0;
  int64_t n_trees = 0;
  int64_t n_nodes = 0;       // per tree
  const float* w_in = nullptr;   // [n_trees*n_nodes, d_in]
  const float* b_in = nullptr;   // [n_trees*n_nodes]
  const float* w_out = nullptr;  // [n_trees*n_nodes, d_out] node-major
  const float* x = nullptr;      // [n_rows, d_in], row stride x_stride
  int64_t x_stride = 0;
  float* y = nullptr;            // [n_rows, d_out], row stride y_stride
  int64_t y_stride = 0;
  int32_t* trace_nodes = nullptr;  // [n_rows, n_trees, depth+1] or null
  float* trace_logits = nullptr;   // [n_rows, n_trees, depth+1] or null

  int64_t n_visited() const { return n_trees * (depth + 1); }
};

// Per-thread scratch for one block of at most `max_rows` rows; sized by
// ScratchElements and carved by the plan. All pointers are 64-byte aligned.
struct FffScratch {
  int64_t max_rows = 0;
  int32_t* nodes = nullptr;   // [max_rows, n_visited] global node per visit
  float* acts = nullptr;      // [max_rows, n_visited] logit, then GELU
  int32_t* perm = nullptr;    // [max_rows] rows grouped by node
  int32_t* perm_next = nullptr;  // [max_rows]
  int32_t* seg_begin = nullptr;  // [max_rows + 1] group boundaries
  int32_t* seg_node = nullptr;   // [max_rows] group node (within tree)
  int32_t* seg_next_begin = nullptr;  // [max_rows + 1]
  int32_t* seg_next_node = nullptr;   // [max_rows]
  float* z = nullptr;         // [max_rows] logits of the current level
};

// Bytes of scratch for one thread and `max_rows` rows, each array rounded up
// to a cache line.
int64_t FffScratchBytes(int64_t max_rows, int64_t n_visited);
// Carves `base` (FffScratchBytes long, 64-byte aligned) into a FffScratch.
FffScratch CarveFffScratch(void* base, int64_t max_rows, int64_t n_visited);

// Computes rows [row_begin, row_end) of the problem (row_end - row_begin <=
// scratch.max_rows). Writes y and, when requested, the trace of those rows.
using FffBlockFn = void (*)(const FffProblem& p, int64_t row_begin,
                            int64_t row_end, const FffScratch& scratch);

// The kernels compiled for one SIMD target.
struct FffKernelTable {
  int64_t target = 0;        // Highway target bit (HWY_AVX3, ...)
  const char* name = "";     // hwy::TargetName(target), e.g. "AVX3"
  FffBlockFn row_walk = nullptr;
  FffBlockFn level_batched = nullptr;
  // out[i] = GELU(in[i]) for i < n (in == out allowed). Exposed for tests.
  void (*gelu)(const float* in, float* out, int64_t n) = nullptr;
  // The dot product every strategy uses for a logit (without bias).
  float (*dot)(const float* x, const float* w, int64_t n) = nullptr;
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
