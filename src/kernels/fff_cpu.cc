// FFF kernels for every Highway target (this file is compiled once per
// target through foreach_target.h). Strategies, layouts and the plan's choice
// between them are described in docs/kernels.md.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "src/kernels/fff_kernels.h"

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
using fff::HWY_NAMESPACE::AccumulateOutputRow;
using fff::HWY_NAMESPACE::DotRows;
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

// Copies the block's logits and within-tree nodes into the caller's trace.
void WriteTrace(const FffProblem& p, int64_t row_begin, int64_t n_rows,
                const FffScratch& s) {
  const int64_t nv = p.n_visited();
  const int64_t levels = p.depth + 1;
  for (int64_t r = 0; r < n_rows; ++r) {
    const int64_t at = (row_begin + r) * nv;
    if (p.trace_logits != nullptr) {
      std::memcpy(p.trace_logits + at, s.acts + r * nv, nv * sizeof(float));
    }
    if (p.trace_nodes != nullptr) {
      for (int64_t k = 0; k < nv; ++k) {
        const int64_t tree = k / levels;
        p.trace_nodes[at + k] = s.nodes[r * nv + k] -
                                static_cast<int32_t>(tree * p.n_nodes);
      }
    }
  }
}

// After routing: GELU of every logit of the block, then each row's output.
void FinishBlock(const FffProblem& p, int64_t row_begin, int64_t n_rows,
                 const FffScratch& s) {
  if (p.trace_nodes != nullptr || p.trace_logits != nullptr) {
    WriteTrace(p, row_begin, n_rows, s);
  }
  const int64_t nv = p.n_visited();
  GeluArray(s.acts, s.acts, n_rows * nv);
  const DF d;
  for (int64_t r = 0; r < n_rows; ++r) {
    AccumulateOutputRow(d, p.w_out, static_cast<size_t>(p.d_out),
                        s.nodes + r * nv, s.acts + r * nv,
                        static_cast<size_t>(nv),
                        p.y + (row_begin + r) * p.y_stride);
  }
}

// Row walk: each row descends its trees alone; the next level's two
// candidate weight rows are prefetched while the current logit is computed.
void RowWalk(const FffProblem& p, int64_t row_begin, int64_t row_end,
             const FffScratch& s) {
  const DF d;
  const int64_t nv = p.n_visited();
  const size_t d_in = static_cast<size_t>(p.d_in);
  for (int64_t r = row_begin; r < row_end; ++r) {
    const float* x = p.x + r * p.x_stride;
    int32_t* nodes = s.nodes + (r - row_begin) * nv;
    float* acts = s.acts + (r - row_begin) * nv;
    for (int64_t t = 0; t < p.n_trees; ++t) {
      const int64_t base = t * p.n_nodes;
      int64_t node = 0;
      for (int64_t level = 0; level <= p.depth; ++level) {
        const int64_t g = base + node;
        const float* w = p.w_in + g * p.d_in;
        if (level < p.depth) {
          hwy::Prefetch(p.w_in + (base + 2 * node + 1) * p.d_in);
          hwy::Prefetch(p.w_in + (base + 2 * node + 2) * p.d_in);
        }
        float z;
        DotRows<1, true>(d, &x, &w, d_in, &z);
        z += p.b_in[g];
        *nodes++ = static_cast<int32_t>(g);
        *acts++ = z;
        node = 2 * node + 1 + (z > 0.0f ? 1 : 0);
      }
    }
  }
  FinishBlock(p, row_begin, row_end - row_begin, s);
}

// Level-batched: per tree, rows are kept grouped by their current node (a
// stable partition per level), and each group's logits are computed against
// the shared weight row kGroupRows rows at a time.
void LevelBatched(const FffProblem& p, int64_t row_begin, int64_t row_end,
                  const FffScratch& s) {
  const DF d;
  const int64_t n_rows = row_end - row_begin;
  const int64_t nv = p.n_visited();
  const int64_t levels = p.depth + 1;
  const size_t d_in = static_cast<size_t>(p.d_in);
  int32_t* perm = s.perm;
  int32_t* perm_next = s.perm_next;
  int32_t* seg_begin = s.seg_begin;
  int32_t* seg_node = s.seg_node;
  int32_t* seg_next_begin = s.seg_next_begin;
  int32_t* seg_next_node = s.seg_next_node;
  for (int64_t t = 0; t < p.n_trees; ++t) {
    const int64_t base = t * p.n_nodes;
    for (int64_t i = 0; i < n_rows; ++i) perm[i] = static_cast<int32_t>(i);
    int64_t n_segs = 1;
    seg_begin[0] = 0;
    seg_begin[1] = static_cast<int32_t>(n_rows);
    seg_node[0] = 0;
    for (int64_t level = 0; level < levels; ++level) {
      for (int64_t sg = 0; sg < n_segs; ++sg) {
        const int64_t g = base + seg_node[sg];
        const float* w = p.w_in + g * p.d_in;
        const float bias = p.b_in[g];
        const float* ws[kGroupRows];
        const float* xs[kGroupRows];
        for (size_t k = 0; k < kGroupRows; ++k) ws[k] = w;
        int64_t i = seg_begin[sg];
        const int64_t end = seg_begin[sg + 1];
        for (; i + static_cast<int64_t>(kGroupRows) <= end;
             i += kGroupRows) {
          for (size_t k = 0; k < kGroupRows; ++k) {
            xs[k] = p.x + (row_begin + perm[i + k]) * p.x_stride;
          }
          DotRows<kGroupRows, true>(d, xs, ws, d_in, s.z + i);
        }
        for (; i < end; ++i) {
          xs[0] = p.x + (row_begin + perm[i]) * p.x_stride;
          DotRows<1, true>(d, xs, ws, d_in, s.z + i);
        }
        for (int64_t j = seg_begin[sg]; j < end; ++j) {
          const float z = s.z[j] + bias;
          s.z[j] = z;
          const int64_t at = perm[j] * nv + t * levels + level;
          s.nodes[at] = static_cast<int32_t>(g);
          s.acts[at] = z;
        }
      }
      if (level + 1 == levels) break;
      // Stable partition of every group into its left then right child.
      int64_t out = 0;
      int64_t n_next = 0;
      for (int64_t sg = 0; sg < n_segs; ++sg) {
        const int64_t b = seg_begin[sg];
        const int64_t e = seg_begin[sg + 1];
        const int32_t node = seg_node[sg];
        for (int side = 0; side < 2; ++side) {
          const int64_t start = out;
          for (int64_t j = b; j < e; ++j) {
            if ((s.z[j] > 0.0f) == (side == 1)) perm_next[out++] = perm[j];
          }
          if (out > start) {
            seg_next_begin[n_next] = static_cast<int32_t>(start);
            seg_next_node[n_next] = 2 * node + 1 + side;
            ++n_next;
          }
        }
      }
      seg_next_begin[n_next] = static_cast<int32_t>(out);
      std::swap(perm, perm_next);
      std::swap(seg_begin, seg_next_begin);
      std::swap(seg_node, seg_next_node);
      n_segs = n_next;
    }
  }
  FinishBlock(p, row_begin, n_rows, s);
}

const FffKernelTable* GetFffKernelTable() {
  static const FffKernelTable table = {
      HWY_TARGET, hwy::TargetName(HWY_TARGET), &RowWalk, &LevelBatched,
      &GeluArray, &Dot};
  return &table;
}

}  // namespace fff::kernels::HWY_NAMESPACE
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace fff::kernels {

HWY_EXPORT(GetFffKernelTable);

std::vector<const FffKernelTable*> CompiledFffKernelTables() {
  // Entry 0 of an HWY_EXPORT table is the dispatch initialiser; the others
  // are one per compiled target (nullptr where not compiled), best first.
  std::vector<const FffKernelTable*> tables;
  constexpr size_t kEntries = sizeof(HWY_DISPATCH_TABLE(GetFffKernelTable)) /
                              sizeof(HWY_DISPATCH_TABLE(GetFffKernelTable)[0]);
  for (size_t i = 1; i < kEntries; ++i) {
    const auto fn = HWY_DISPATCH_TABLE(GetFffKernelTable)[i];
    if (fn == nullptr) continue;
    const FffKernelTable* t = fn();
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) {
      tables.push_back(t);
    }
  }
  std::sort(tables.begin(), tables.end(),
            [](const FffKernelTable* a, const FffKernelTable* b) {
              return a->target < b->target;  // lower bit = better target
            });
  return tables;
}

std::vector<const FffKernelTable*> SupportedFffKernelTables() {
  const int64_t supported = hwy::SupportedTargets();
  std::vector<const FffKernelTable*> out;
  for (const FffKernelTable* t : CompiledFffKernelTables()) {
    if ((t->target & supported) != 0) out.push_back(t);
  }
  return out;
}

const FffKernelTable* FindFffKernelTable(std::string_view name) {
  for (const FffKernelTable* t : SupportedFffKernelTables()) {
    std::string_view tn(t->name);
    if (tn.size() == name.size() &&
        std::equal(tn.begin(), tn.end(), name.begin(), [](char a, char b) {
          return (a | 0x20) == (b | 0x20);
        })) {
      return t;
    }
  }
  return nullptr;
}

int64_t FffScratchBytes(int64_t max_rows, int64_t n_visited) {
  auto line = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  const int64_t rv = max_rows * n_visited;
  return line(rv * 4) * 2 + line(max_rows * 4) * 4 +
         line((max_rows + 1) * 4) * 2 + line(max_rows * 4);
}

FffScratch CarveFffScratch(void* base, int64_t max_rows, int64_t n_visited) {
  auto line = [](int64_t bytes) { return (bytes + 63) / 64 * 64; };
  char* p = static_cast<char*>(base);
  auto take = [&](int64_t bytes) {
    char* q = p;
    p += line(bytes);
    return q;
  };
  FffScratch s;
  s.max_rows = max_rows;
  const int64_t rv = max_rows * n_visited;
  s.nodes = reinterpret_cast<int32_t*>(take(rv * 4));
  s.acts = reinterpret_cast<float*>(take(rv * 4));
  s.perm = reinterpret_cast<int32_t*>(take(max_rows * 4));
  s.perm_next = reinterpret_cast<int32_t*>(take(max_rows * 4));
  s.seg_node = reinterpret_cast<int32_t*>(take(max_rows * 4));
  s.seg_next_node = reinterpret_cast<int32_t*>(take(max_rows * 4));
  s.seg_begin = reinterpret_cast<int32_t*>(take((max_rows + 1) * 4));
  s.seg_next_begin = reinterpret_cast<int32_t*>(take((max_rows + 1) * 4));
  s.z = reinterpret_cast<float*>(take(max_rows * 4));
  return s;
}

}  // namespace fff::kernels
#endif  // HWY_ONCE
