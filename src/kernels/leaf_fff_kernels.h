// Target-independent interface between the leaf FFF plan
// (leaf_fff_layer.cc) and its per-SIMD-target kernels (leaf_fff_cpu.cc).
// Model code uses fff/leaf_fff.h instead.
#ifndef FFF_SRC_KERNELS_LEAF_FFF_KERNELS_H_
#define FFF_SRC_KERNELS_LEAF_FFF_KERNELS_H_

#include <cstdint>
#include <string_view>
#include <vector>

namespace fff::kernels {

// A validated leaf FFF problem over a chunk of rows (layouts of
// fff/leaf_fff.h; strides in elements).
struct LeafFffProblem {
  int64_t d_in = 0;
  int64_t d_out = 0;
  int64_t depth = 0;
  int64_t leaf_width = 0;
  int64_t n_routers = 0;
  bool gelu = false;                // else ReLU
  const float* router_w = nullptr;  // [n_routers, d_in]
  const float* router_b = nullptr;  // [n_routers]
  const float* w1 = nullptr;        // [n_leaves, leaf_width, d_in]
  const float* b1 = nullptr;        // [n_leaves, leaf_width]
  const float* w2 = nullptr;        // [n_leaves, leaf_width, d_out]
  const float* b2 = nullptr;        // [n_leaves, d_out]
  const float* x = nullptr;         // [n_rows, d_in], stride x_stride
  int64_t x_stride = 0;
  float* y = nullptr;  // [n_rows, d_out], stride y_stride
  int64_t y_stride = 0;
};

// Rows evaluated together against one leaf's weights (their arithmetic is
// per row: the same whatever the group).
inline constexpr int64_t kLeafMaxGroupRows = 4;

// leaves[r - row_begin] = the leaf row r reaches, for r in [row_begin,
// row_end).
using LeafRouteFn = void (*)(const LeafFffProblem& p, int64_t row_begin,
                             int64_t row_end, int32_t* leaves);

// y of the n rows listed in rows[] (chunk row indices), all at `leaf`.
// `hidden` holds kLeafMaxGroupRows * leaf_width floats, `iota` the
// leaf_width indices 0, 1, 2, ...
using LeafEvalFn = void (*)(const LeafFffProblem& p, int32_t leaf,
                            const int32_t* rows, int64_t n, float* hidden,
                            const int32_t* iota);

struct LeafFffKernelTable {
  int64_t target = 0;
  const char* name = "";
  LeafRouteFn route = nullptr;
  LeafEvalFn eval = nullptr;
};

std::vector<const LeafFffKernelTable*> CompiledLeafFffKernelTables();
std::vector<const LeafFffKernelTable*> SupportedLeafFffKernelTables();

}  // namespace fff::kernels

#endif  // FFF_SRC_KERNELS_LEAF_FFF_KERNELS_H_
