// Prometheus metrics (text exposition format 0.0.4) for GET /metrics.
//
// Metrics are registered once, when the server is built; recording is a few
// relaxed atomic operations (no lock, no allocation), so the request threads
// and the batching worker record freely. Render() may run concurrently with
// recording: each value is read atomically, a histogram's buckets may be a
// few observations apart from its count (Prometheus tolerates this).
#ifndef FFF_TOOLS_SERVER_METRICS_H_
#define FFF_TOOLS_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace fff::server {

class Counter {
 public:
  void Inc(uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

class Gauge {
 public:
  void Set(double v) { v_.store(v, std::memory_order_relaxed); }
  void Add(double d) { v_.fetch_add(d, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

// Cumulative buckets with upper bounds `bounds` (ascending) and +Inf.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Non-cumulative count of bucket i (i == bounds().size(): +Inf).
  uint64_t bucket(size_t i) const {
    return counts_[i].load(std::memory_order_relaxed);
  }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

// Owns every metric; pointers it returns stay valid for its lifetime.
// Registration is not thread-safe (do it before serving); recording and
// Render are.
class MetricsRegistry {
 public:
  // `labels` is the label set in exposition syntax without braces, e.g.
  // `route="embed"` (empty: none). Metrics with the same name form one
  // family: the first registration's help text is used.
  Counter* AddCounter(const std::string& name, const std::string& help,
                      const std::string& labels = "");
  Gauge* AddGauge(const std::string& name, const std::string& help,
                  const std::string& labels = "");
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds,
                          const std::string& labels = "");

  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    std::string labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name, help;
    Type type;
    std::vector<Series> series;
  };
  Family* GetFamily(const std::string& name, const std::string& help,
                    Type type);
  std::vector<std::unique_ptr<Family>> families_;
};

// Bounds for latencies in seconds (0.5 ms .. 50 s, steps of about 1.26x).
std::vector<double> LatencyBuckets();
// 1, 2, 4, ... up to and including `max` (a power of two or not).
std::vector<double> PowerOfTwoBuckets(double max);

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_METRICS_H_
