// A one-line progress bar on stderr (redrawn with \r at most 5 times a
// second); silent when disabled.
#ifndef FFF_TOOLS_TRAIN_PROGRESS_H_
#define FFF_TOOLS_TRAIN_PROGRESS_H_

#include <chrono>
#include <cstdio>
#include <string>

namespace fff::train {

// Seconds on the steady clock.
inline double SteadySeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

class Progress {
 public:
  Progress(bool enabled, std::string label)
      : enabled_(enabled), label_(std::move(label)),
        start_(std::chrono::steady_clock::now()) {}
  ~Progress() { Finish(); }
  // fraction in [0, 1]; text after the bar.
  void Update(double fraction, const std::string& text) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_ < std::chrono::milliseconds(200) && fraction < 1.0) return;
    last_ = now;
    drawn_ = true;
    const int width = 30;
    const int fill = static_cast<int>(fraction * width + 0.5);
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double eta = fraction > 1e-6 ? elapsed * (1.0 - fraction) / fraction : 0.0;
    std::fprintf(stderr, "\r%s [%s%s] %3.0f%% %s  %.0fs (ETA %.0fs)  ", label_.c_str(),
                 std::string(fill, '#').c_str(), std::string(width - fill, '.').c_str(),
                 100.0 * fraction, text.c_str(), elapsed, eta);
    std::fflush(stderr);
  }
  void Finish() {
    if (enabled_ && drawn_) std::fputc('\n', stderr);
    drawn_ = false;
  }

 private:
  bool enabled_;
  std::string label_;
  std::chrono::steady_clock::time_point start_, last_;
  bool drawn_ = false;
};

}  // namespace fff::train

#endif  // FFF_TOOLS_TRAIN_PROGRESS_H_
