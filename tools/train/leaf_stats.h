// Training support of leaf FFF models (the original FFF, issue 7): the
// hardening schedule and the per-layer usage statistics fff-train logs.
#ifndef FFF_TOOLS_TRAIN_LEAF_STATS_H_
#define FFF_TOOLS_TRAIN_LEAF_STATS_H_

#include <nlohmann/json.hpp>

#include "tools/train/crammed_model.h"

namespace fff::train {

// The hardening loss weight at training progress t in [0, 1]: `coef`
// ramped linearly from 0 over the first `warmup` of training (warmup 0:
// constant).
double HardeningAt(double coef, double warmup, double t);

// Per leaf FFF layer, from the usage the layers accumulated since the last
// reset (hard counts of the leaf each row's hard routing picks; soft sums of
// the mixture weights): leaves used (hard count > 0), the largest leaf's
// share of the rows, the occupancy entropy in bits (hard and soft; log2 of
// n_leaves when every leaf is used equally) and the last mean router
// entropy (nats). Resets the counts when `reset`. An empty array for models
// without leaf FFF layers.
nlohmann::json LeafUsageJson(CrammedBert& model, bool reset);

// Turns usage collection on or off in every leaf FFF layer.
void CollectLeafUsage(CrammedBert& model, bool on);

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_LEAF_STATS_H_
