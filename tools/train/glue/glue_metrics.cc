#include "tools/train/glue/glue_metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>

#include "src/base/check.h"

namespace fff::glue {
namespace {

struct Confusion {
  int64_t tp = 0, fp = 0, fn = 0, tn = 0;
};

Confusion Count(std::span<const float> predictions,
                std::span<const float> labels) {
  FFF_CHECK(predictions.size() == labels.size());
  Confusion c;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool pred_pos = predictions[i] == 1.0f;
    const bool label_pos = labels[i] == 1.0f;
    if (pred_pos && label_pos) ++c.tp;
    if (pred_pos && !label_pos) ++c.fp;
    if (!pred_pos && label_pos) ++c.fn;
    if (!pred_pos && !label_pos) ++c.tn;
  }
  return c;
}

bool AllFinite(std::span<const float> x) {
  return std::all_of(x.begin(), x.end(),
                     [](float v) { return std::isfinite(v); });
}

// Pearson's r of finite x, y (double inputs; used for values and ranks).
double Pearson(std::span<const double> x, std::span<const double> y) {
  const size_t n = x.size();
  if (n < 2) return 0.0;
  double mean_x = 0.0, mean_y = 0.0;
  for (size_t i = 0; i < n; ++i) {
    mean_x += x[i];
    mean_y += y[i];
  }
  mean_x /= static_cast<double>(n);
  mean_y /= static_cast<double>(n);
  double sxy = 0.0, sxx = 0.0, syy = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double dx = x[i] - mean_x;
    const double dy = y[i] - mean_y;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx == 0.0 || syy == 0.0) return 0.0;
  // Rounding can push |r| a hair past 1 for (anti)collinear data.
  return std::clamp(sxy / std::sqrt(sxx * syy), -1.0, 1.0);
}

}  // namespace

double Accuracy(std::span<const float> predictions,
                std::span<const float> labels) {
  FFF_CHECK(predictions.size() == labels.size());
  if (labels.empty()) return 0.0;
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (predictions[i] == labels[i]) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

double BinaryF1(std::span<const float> predictions,
                std::span<const float> labels) {
  const Confusion c = Count(predictions, labels);
  const int64_t denom = 2 * c.tp + c.fp + c.fn;
  if (denom == 0) return 0.0;
  return 2.0 * static_cast<double>(c.tp) / static_cast<double>(denom);
}

double MatthewsCorrelation(std::span<const float> predictions,
                           std::span<const float> labels) {
  const Confusion c = Count(predictions, labels);
  const double tp = static_cast<double>(c.tp), fp = static_cast<double>(c.fp);
  const double fn = static_cast<double>(c.fn), tn = static_cast<double>(c.tn);
  const double prod = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn);
  if (prod == 0.0) return 0.0;
  return (tp * tn - fp * fn) / std::sqrt(prod);
}

double PearsonCorrelation(std::span<const float> x, std::span<const float> y) {
  FFF_CHECK(x.size() == y.size());
  if (!AllFinite(x) || !AllFinite(y)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  const std::vector<double> xd(x.begin(), x.end());
  const std::vector<double> yd(y.begin(), y.end());
  return Pearson(xd, yd);
}

std::vector<double> AverageRanks(std::span<const float> x) {
  const size_t n = x.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return x[a] < x[b]; });
  std::vector<double> ranks(n);
  size_t i = 0;
  while (i < n) {
    size_t j = i + 1;
    while (j < n && x[order[j]] == x[order[i]]) ++j;
    // Positions i..j-1 hold ranks i+1..j; each gets their mean.
    const double rank = 0.5 * static_cast<double>(i + 1 + j);
    for (size_t k = i; k < j; ++k) ranks[order[k]] = rank;
    i = j;
  }
  return ranks;
}

double SpearmanCorrelation(std::span<const float> x, std::span<const float> y) {
  FFF_CHECK(x.size() == y.size());
  if (!AllFinite(x) || !AllFinite(y)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return Pearson(AverageRanks(x), AverageRanks(y));
}

GlueScores ScoreGlue(GlueTask task, std::span<const float> predictions,
                     std::span<const float> labels) {
  FFF_CHECK(predictions.size() == labels.size());
  GlueScores s;
  switch (task) {
    case GlueTask::kCoLA:
      s.metrics["matthews"] = 100.0 * MatthewsCorrelation(predictions, labels);
      s.main = s.metrics["matthews"];
      break;
    case GlueTask::kSTSB:
      s.metrics["pearson"] = 100.0 * PearsonCorrelation(predictions, labels);
      s.metrics["spearman"] = 100.0 * SpearmanCorrelation(predictions, labels);
      s.main = 0.5 * (s.metrics["pearson"] + s.metrics["spearman"]);
      break;
    case GlueTask::kMRPC:
      s.metrics["f1"] = 100.0 * BinaryF1(predictions, labels);
      s.metrics["accuracy"] = 100.0 * Accuracy(predictions, labels);
      s.main = 0.5 * (s.metrics["f1"] + s.metrics["accuracy"]);
      break;
    case GlueTask::kSST2:
    case GlueTask::kRTE:
    case GlueTask::kWNLI:
    case GlueTask::kQNLI:
      s.metrics["accuracy"] = 100.0 * Accuracy(predictions, labels);
      s.main = s.metrics["accuracy"];
      break;
  }
  return s;
}

double GlueAverage(const std::map<GlueTask, GlueScores>& scores) {
  double sum = 0.0;
  int n = 0;
  for (const auto& [task, s] : scores) {
    if (task == GlueTask::kWNLI) continue;
    sum += s.main;
    ++n;
  }
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return sum / n;
}

}  // namespace fff::glue
