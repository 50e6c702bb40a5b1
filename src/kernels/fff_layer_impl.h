// FffLayer's plan (shared by the forward in fff_layer.cc and the backward in
// fff_backward.cc). Internal to fff_kernels.
#ifndef FFF_SRC_KERNELS_FFF_LAYER_IMPL_H_
#define FFF_SRC_KERNELS_FFF_LAYER_IMPL_H_

#include <cstdint>

#include "fff/fff.h"
#include "src/base/aligned_buffer.h"
#include "src/base/check.h"
#include "src/kernels/fff_kernels.h"

namespace fff {

struct FffLayer::Impl {
  FffShape shape;
  FffWeightsView weights;
  FffOptions options;
  const kernels::FffKernelTable* kernels = nullptr;
  int n_threads = 1;
  int64_t level_batched_min_rows = 0;    // set by Create
  int64_t stream_outputs_min_bytes = 0;  // set by Create
  int64_t chunk_rows = 0;                // rows per chunk the scratch holds

  // Scratch, sized once by Create.
  AlignedBuffer<int32_t> nodes;      // [chunk_rows, n_visited]
  AlignedBuffer<float> acts;         // [chunk_rows, n_visited]
  AlignedBuffer<int32_t> order;      // [chunk_rows] rows in processing order
  AlignedBuffer<int32_t> sorted;     // [chunk_rows] rows bucketed by subtree
  AlignedBuffer<int32_t> next_node;  // [chunk_rows]
  AlignedBuffer<int32_t> group;      // per thread: 4 arrays of chunk_rows
  int64_t group_stride = 0;          // int32 elements per thread

  kernels::FffGroupScratch GroupScratch(int thread) {
    FFF_CHECK(thread >= 0 && thread < n_threads);  // scratch is per thread
    int32_t* g = group.data() + thread * group_stride;
    const int64_t a = (chunk_rows + 16) / 16 * 16;  // keeps 64-byte alignment
    kernels::FffGroupScratch s;
    s.max_rows = chunk_rows;
    s.perm_next = g;
    s.node = g + a;
    s.node_next = g + 2 * a;
    s.z = reinterpret_cast<float*>(g + 3 * a);
    return s;
  }

  void RouteChunk(const kernels::FffProblem& p, int64_t n_rows,
                  FffStrategy strategy);
  // Top levels the block-by-block path computes densely (options or default).
  int64_t DenseLevels() const;
  // Reorders rows[0..n) (at most kMaxBlockRows) by the node of `tree` each
  // reached at level `dense` (from the recorded routing of level dense - 1),
  // stably, and writes those nodes (within the tree) to start[].
  void SortByDenseLeaf(int64_t tree, int64_t dense, int32_t* rows, int64_t n,
                       int32_t* start) const;
  // Levels the top pass of a group of n rows covers (0: route the group in
  // one pass).
  int64_t SplitSpan(int64_t n, int64_t remaining_levels) const;
  // Reorders rows[0..n) (positions in `order`) by the node they reached
  // `span` levels below `node` (from next_node); bounds[i]..bounds[i+1] are
  // the rows of the i-th of those 2^span nodes.
  void BucketBySubtree(int32_t node, int64_t span, int32_t* rows, int64_t n,
                       int32_t* bounds);
  // Routes rows[0..n), all at `node` of `tree` at `level`, through the
  // remaining levels on the calling thread, splitting recursively.
  void RouteSubtree(const kernels::FffProblem& p, int64_t tree, int32_t node,
                    int64_t level, int32_t* rows, int64_t n, int thread);
};

}  // namespace fff

#endif  // FFF_SRC_KERNELS_FFF_LAYER_IMPL_H_
