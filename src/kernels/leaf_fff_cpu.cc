// Leaf FFF hard-inference kernels for every Highway target (compiled once
// per target through foreach_target.h). The dot products and the output
// accumulation are fff-inl.h's, so their per-row operation order (and hence
// every row's result) does not depend on how many rows share a leaf.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "src/kernels/leaf_fff_kernels.h"
#include "src/kernels/target_tables.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "src/kernels/leaf_fff_cpu.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep

#include "hwy/highway.h"
#include "src/kernels/fff-inl.h"
#include "src/kernels/gelu-inl.h"

HWY_BEFORE_NAMESPACE();
namespace fff::kernels::HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;
using fff::HWY_NAMESPACE::AccumulateOutputRows;
using fff::HWY_NAMESPACE::DotRows;
using fff::HWY_NAMESPACE::Gelu;
using fff::HWY_NAMESPACE::kMaxLanesF32;

using DF = hn::ScalableTag<float>;

// Rows sharing a leaf per kernel call: 4 on AVX-512 (16 dot accumulators in
// its 32 registers), 2 on narrower targets.
constexpr size_t kGroupRows = HWY_MAX_BYTES >= 64 ? 4 : 2;
static_assert(kGroupRows <= kLeafMaxGroupRows);

void Route(const LeafFffProblem& p, int64_t row_begin, int64_t row_end,
           int32_t* leaves) {
  const DF d;
  const size_t d_in = static_cast<size_t>(p.d_in);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* x = p.x + r * p.x_stride;
    int64_t node = 0;
    for (int64_t level = 0; level < p.depth; ++level) {
      const float* w = p.router_w + node * p.d_in;
      float z;
      DotRows<1, true>(d, &x, &w, d_in, &z);
      z += p.router_b[node];
      node = 2 * node + 1 + (z >= 0.0f);
    }
    leaves[r - row_begin] = static_cast<int32_t>(node - p.n_routers);
  }
}

// act(h) in place over n values: ReLU, or the vectorised erf GELU (each
// element computed alone, so its value does not depend on its position).
void Activate(bool gelu, float* h, size_t n) {
  if (!gelu) {
    for (size_t i = 0; i < n; ++i) h[i] = h[i] > 0.0f ? h[i] : 0.0f;
    return;
  }
  const DF d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(Gelu(d, hn::LoadU(d, h + i)), d, h + i);
  if (i < n) {
    HWY_ALIGN float buf[kMaxLanesF32] = {};
    std::memcpy(buf, h + i, (n - i) * sizeof(float));
    hn::Store(Gelu(d, hn::Load(d, buf)), d, buf);
    std::memcpy(h + i, buf, (n - i) * sizeof(float));
  }
}

// R rows at one leaf: hidden units against shared W1 rows, activation,
// then y = sum_k h_k W2[k] (AccumulateOutputRows's order) + b2.
template <size_t R>
void EvalGroup(const LeafFffProblem& p, int32_t leaf, const int32_t* rows,
               float* hidden, const int32_t* iota) {
  const DF d;
  const size_t d_in = static_cast<size_t>(p.d_in);
  const size_t d_out = static_cast<size_t>(p.d_out);
  const size_t width = static_cast<size_t>(p.leaf_width);
  const float* w1 = p.w1 + static_cast<size_t>(leaf) * width * d_in;
  const float* b1 = p.b1 + static_cast<size_t>(leaf) * width;
  const float* w2 = p.w2 + static_cast<size_t>(leaf) * width * d_out;
  const float* b2 = p.b2 + static_cast<size_t>(leaf) * d_out;
  const float* xs[R];
  float* ys[R];
  const int32_t* idx[R];
  const float* acts[R];
  for (size_t r = 0; r < R; ++r) {
    xs[r] = p.x + rows[r] * p.x_stride;
    ys[r] = p.y + rows[r] * p.y_stride;
    idx[r] = iota;
    acts[r] = hidden + r * width;
  }
  for (size_t k = 0; k < width; ++k) {
    const float* w = w1 + k * d_in;
    float out[R];
    DotRows<R, true>(d, xs, &w, d_in, out);
    for (size_t r = 0; r < R; ++r) hidden[r * width + k] = out[r] + b1[k];
  }
  for (size_t r = 0; r < R; ++r) Activate(p.gelu, hidden + r * width, width);
  AccumulateOutputRows<R>(d, w2, d_out, d_out, idx, acts, width, ys);
  const size_t N = hn::Lanes(d);
  for (size_t r = 0; r < R; ++r) {
    size_t c = 0;
    for (; c + N <= d_out; c += N) {
      hn::StoreU(hn::Add(hn::LoadU(d, ys[r] + c), hn::LoadU(d, b2 + c)), d,
                 ys[r] + c);
    }
    for (; c < d_out; ++c) ys[r][c] += b2[c];
  }
}

void Eval(const LeafFffProblem& p, int32_t leaf, const int32_t* rows, int64_t n,
          float* hidden, const int32_t* iota) {
  int64_t i = 0;
  for (; i + static_cast<int64_t>(kGroupRows) <= n; i += kGroupRows) {
    EvalGroup<kGroupRows>(p, leaf, rows + i, hidden, iota);
  }
  for (; i < n; ++i) EvalGroup<1>(p, leaf, rows + i, hidden, iota);
}

const LeafFffKernelTable* GetLeafFffKernelTable() {
  static const LeafFffKernelTable table = {
      HWY_TARGET, hwy::TargetName(HWY_TARGET), &Route, &Eval};
  return &table;
}

}  // namespace fff::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fff::kernels {

HWY_EXPORT(GetLeafFffKernelTable);

std::vector<const LeafFffKernelTable*> CompiledLeafFffKernelTables() {
  return CompiledTables<LeafFffKernelTable>(
      HWY_DISPATCH_TABLE(GetLeafFffKernelTable),
      sizeof(HWY_DISPATCH_TABLE(GetLeafFffKernelTable)) /
          sizeof(HWY_DISPATCH_TABLE(GetLeafFffKernelTable)[0]));
}

std::vector<const LeafFffKernelTable*> SupportedLeafFffKernelTables() {
  return SupportedTables(CompiledLeafFffKernelTables());
}

}  // namespace fff::kernels
#endif  // HWY_ONCE
