#include "tools/server/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace fff::server {
namespace {

// Prometheus float syntax: integers without a fraction, others shortest.
std::string Num(double v) {
  if (v == static_cast<double>(static_cast<int64_t>(v)) && v < 1e15 &&
      v > -1e15) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

std::string Braced(const std::string& labels, const std::string& extra = "") {
  std::string all = labels;
  if (!extra.empty()) all += (all.empty() ? "" : ",") + extra;
  return all.empty() ? "" : "{" + all + "}";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)),
      counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double v) {
  const size_t i = static_cast<size_t>(
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

MetricsRegistry::Family* MetricsRegistry::GetFamily(const std::string& name,
                                                    const std::string& help,
                                                    Type type) {
  for (auto& f : families_) {
    if (f->name == name) return f.get();
  }
  families_.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
  return families_.back().get();
}

Counter* MetricsRegistry::AddCounter(const std::string& name,
                                     const std::string& help,
                                     const std::string& labels) {
  Family* f = GetFamily(name, help, Type::kCounter);
  f->series.push_back({labels, std::make_unique<Counter>(), nullptr, nullptr});
  return f->series.back().counter.get();
}

Gauge* MetricsRegistry::AddGauge(const std::string& name,
                                 const std::string& help,
                                 const std::string& labels) {
  Family* f = GetFamily(name, help, Type::kGauge);
  f->series.push_back({labels, nullptr, std::make_unique<Gauge>(), nullptr});
  return f->series.back().gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name,
                                         const std::string& help,
                                         std::vector<double> bounds,
                                         const std::string& labels) {
  Family* f = GetFamily(name, help, Type::kHistogram);
  f->series.push_back({labels, nullptr, nullptr,
                       std::make_unique<Histogram>(std::move(bounds))});
  return f->series.back().histogram.get();
}

std::string MetricsRegistry::Render() const {
  std::string out;
  for (const auto& f : families_) {
    const char* type = f->type == Type::kCounter ? "counter"
                       : f->type == Type::kGauge ? "gauge"
                                                 : "histogram";
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", f->name, f->help,
                       f->name, type);
    for (const Series& s : f->series) {
      if (s.counter) {
        out += fmt::format("{}{} {}\n", f->name, Braced(s.labels),
                           s.counter->value());
      } else if (s.gauge) {
        out += fmt::format("{}{} {}\n", f->name, Braced(s.labels),
                           Num(s.gauge->value()));
      } else {
        const Histogram& h = *s.histogram;
        uint64_t cumulative = 0;
        for (size_t i = 0; i < h.bounds().size(); ++i) {
          cumulative += h.bucket(i);
          out += fmt::format(
              "{}_bucket{} {}\n", f->name,
              Braced(s.labels, fmt::format("le=\"{}\"", Num(h.bounds()[i]))),
              cumulative);
        }
        cumulative += h.bucket(h.bounds().size());
        out += fmt::format("{}_bucket{} {}\n", f->name,
                           Braced(s.labels, "le=\"+Inf\""), cumulative);
        out += fmt::format("{}_sum{} {}\n", f->name, Braced(s.labels),
                           Num(h.sum()));
        out += fmt::format("{}_count{} {}\n", f->name, Braced(s.labels),
                           cumulative);
      }
    }
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  // The R10 series (1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8 per decade),
  // ~1.26x apart: a quantile read off the buckets (the load test does) is
  // within ~12% of the true value.
  static constexpr double kSteps[] = {1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8};
  std::vector<double> b;
  for (double decade = 1e-4; decade < 100; decade *= 10) {
    for (const double step : kSteps) {
      // Rounded to 6 digits so that le labels read 0.16, not 0.16000000000000003.
      const double v = std::stod(fmt::format("{:.6g}", step * decade));
      if (v >= 0.0005 - 1e-12 && v <= 60 + 1e-9) b.push_back(v);
    }
  }
  return b;
}

std::vector<double> PowerOfTwoBuckets(double max) {
  std::vector<double> b;
  double v = 1;
  for (; v < max; v *= 2) b.push_back(v);
  b.push_back(max);
  return b;
}

}  // namespace fff::server
