#include "tools/train/leaf_stats.h"

#include <algorithm>
#include <cmath>

namespace fff::train {
namespace {

double EntropyBits(const torch::Tensor& counts) {
  const double total = counts.sum().item<double>();
  if (total <= 0) return 0;
  double h = 0;
  auto c = counts.contiguous();
  const double* p = c.data_ptr<double>();
  for (int64_t i = 0; i < c.numel(); ++i) {
    if (p[i] > 0) h -= p[i] / total * std::log2(p[i] / total);
  }
  return h;
}

}  // namespace

double HardeningAt(double coef, double warmup, double t) {
  if (warmup <= 0) return coef;
  return coef * std::clamp(t / warmup, 0.0, 1.0);
}

nlohmann::json LeafUsageJson(CrammedBert& model, bool reset) {
  nlohmann::json layers = nlohmann::json::array();
  int64_t i = 0;
  for (auto* l : model->LeafLayers()) {
    const torch::Tensor& hard = l->usage_hard;
    const double total = hard.sum().item<double>();
    nlohmann::json j = {
        {"layer", i++},
        {"n_leaves", l->n_leaves()},
        {"rows", total},
        {"leaves_used", (hard > 0).sum().item<int64_t>()},
        {"max_share", total > 0 ? hard.max().item<double>() / total : 0.0},
        {"occupancy_bits", EntropyBits(hard)},
        {"soft_occupancy_bits", EntropyBits(l->usage_soft)},
        {"router_entropy",
         l->last_mean_entropy.defined()
             ? nlohmann::json(l->last_mean_entropy.item<double>())
             : nlohmann::json()}};
    layers.push_back(std::move(j));
    if (reset) l->ResetUsage();
  }
  return layers;
}

void CollectLeafUsage(CrammedBert& model, bool on) {
  for (auto* l : model->LeafLayers()) l->collect_usage = on;
}

}  // namespace fff::train
