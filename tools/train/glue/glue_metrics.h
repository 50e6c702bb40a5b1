// GLUE evaluation metrics: accuracy, binary F1, Matthews correlation,
// Pearson and Spearman correlation, and the per-task scores GLUE reports.
//
// The metric functions return raw values (accuracy and F1 in [0, 1],
// correlations in [-1, 1]); ScoreGlue reports them in percent (x100), as
// GLUE tables do (e.g. SST-2 accuracy 92.1, CoLA MCC 51.3).
//
// Classification inputs are class indices stored as floats (0.0f / 1.0f).
// Two values are the same class only when they compare equal, and the
// positive class is exactly 1.0f; NaN matches nothing.
//
// Degenerate cases (chosen to match scikit-learn / HF `evaluate`, whose
// GLUE metric wraps them, where those return a number):
//   * no examples: accuracy, F1 and MCC are 0; correlations are 0.
//   * F1 with no positive prediction and no positive label (2tp+fp+fn = 0):
//     0 (sklearn's zero_division default).
//   * MCC when a row or column marginal of the 2x2 confusion matrix is empty
//     (e.g. every prediction is the same class): 0 (as sklearn).
//   * Pearson / Spearman with fewer than 2 values or a zero variance (a
//     constant vector): 0. (scipy returns NaN here; 0 keeps averages finite
//     and is what a constant predictor deserves.)
//   * Pearson / Spearman with a NaN or infinite value: NaN, so a diverged
//     model is not reported as a plausible score.
// All sums are in double, in index order (deterministic).
#ifndef FFF_TOOLS_TRAIN_GLUE_GLUE_METRICS_H_
#define FFF_TOOLS_TRAIN_GLUE_GLUE_METRICS_H_

#include <map>
#include <span>
#include <string>
#include <vector>

#include "tools/train/glue/glue_tasks.h"

namespace fff::glue {

// For every metric function: precondition predictions.size() ==
// labels.size() (checked; a mismatch is a caller bug and aborts).

// Fraction of i with predictions[i] == labels[i].
double Accuracy(std::span<const float> predictions,
                std::span<const float> labels);

// F1 of the positive class 1: 2tp / (2tp + fp + fn).
double BinaryF1(std::span<const float> predictions,
                std::span<const float> labels);

// Matthews correlation of a binary task (class 1 vs everything else):
// (tp·tn − fp·fn) / sqrt((tp+fp)(tp+fn)(tn+fp)(tn+fn)).
double MatthewsCorrelation(std::span<const float> predictions,
                           std::span<const float> labels);

// Pearson's r of x and y (two-pass: means, then centred sums).
double PearsonCorrelation(std::span<const float> x, std::span<const float> y);

// Spearman's rho: Pearson's r of the ranks, tied values getting the average
// of the ranks they span (scipy.stats.spearmanr).
double SpearmanCorrelation(std::span<const float> x, std::span<const float> y);

// The average ranks (1-based) of x; ties share the mean of their ranks.
// Precondition: every value is finite.
std::vector<double> AverageRanks(std::span<const float> x);

// A task's scores in percent (x100), keyed by GlueTaskInfo::metric_names:
// CoLA "matthews"; STS-B "pearson", "spearman"; MRPC "f1", "accuracy";
// SST-2, RTE, WNLI, QNLI "accuracy". `main` is the task's single GLUE
// number: the metric itself, or the mean of the two for STS-B and MRPC (as
// the GLUE leaderboard averages them).
struct GlueScores {
  std::map<std::string, double> metrics;
  double main = 0.0;
};

// Scores predictions (class indices, or regression values for STS-B)
// against labels as loaded by LoadGlueSplit. Precondition: equal sizes.
GlueScores ScoreGlue(GlueTask task, std::span<const float> predictions,
                     std::span<const float> labels);

// The GLUE average: the mean of `main` over the given tasks, WNLI excluded
// (as in the BERT / crammedBERT / UltraFastBERT tables). NaN when no task
// other than WNLI is given.
double GlueAverage(const std::map<GlueTask, GlueScores>& scores);

}  // namespace fff::glue

#endif  // FFF_TOOLS_TRAIN_GLUE_GLUE_METRICS_H_
