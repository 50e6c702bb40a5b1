// Timing helpers for fff-bench: repetitions after a warm-up, medians.
#ifndef FFF_TOOLS_BENCH_TIMING_H_
#define FFF_TOOLS_BENCH_TIMING_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace fff::bench {

inline double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Timing {
  double median_s = 0;  // seconds per call
  double min_s = 0;
  double max_s = 0;
  int reps = 0;
  int64_t calls_per_rep = 0;
};

// Runs fn() once to warm up, picks calls per repetition so one repetition
// lasts about min_rep_s, then times `reps` repetitions.
template <class Fn>
Timing TimeCalls(const Fn& fn, int reps, double min_rep_s) {
  double t0 = Now();
  fn();  // warm-up (also first-touch of buffers)
  double once = Now() - t0;
  t0 = Now();
  fn();
  once = std::min(once, Now() - t0);
  Timing t;
  t.reps = reps;
  t.calls_per_rep = std::max<int64_t>(
      1, static_cast<int64_t>(min_rep_s / std::max(once, 1e-9)));
  std::vector<double> per_call;
  for (int r = 0; r < reps; ++r) {
    const double start = Now();
    for (int64_t c = 0; c < t.calls_per_rep; ++c) fn();
    per_call.push_back((Now() - start) / static_cast<double>(t.calls_per_rep));
  }
  std::sort(per_call.begin(), per_call.end());
  t.median_s = per_call[per_call.size() / 2];
  t.min_s = per_call.front();
  t.max_s = per_call.back();
  return t;
}

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_TIMING_H_
