// Prometheus exposition (tools/server/metrics.h).
#include "tools/server/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace fff::server {
namespace {

TEST(MetricsTest, RendersFamiliesOnceWithCumulativeBuckets) {
  MetricsRegistry m;
  Counter* a = m.AddCounter("x_total", "help x", "route=\"a\"");
  Counter* b = m.AddCounter("x_total", "ignored", "route=\"b\"");
  Gauge* g = m.AddGauge("q", "queue");
  Histogram* h = m.AddHistogram("lat_seconds", "latency", {0.1, 1});
  a->Inc(3);
  b->Inc();
  g->Set(2.5);
  h->Observe(0.05);
  h->Observe(0.1);  // le is inclusive
  h->Observe(0.5);
  h->Observe(7);
  const std::string t = m.Render();
  EXPECT_EQ(t,
            "# HELP x_total help x\n# TYPE x_total counter\n"
            "x_total{route=\"a\"} 3\nx_total{route=\"b\"} 1\n"
            "# HELP q queue\n# TYPE q gauge\nq 2.5\n"
            "# HELP lat_seconds latency\n# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{le=\"0.1\"} 2\n"
            "lat_seconds_bucket{le=\"1\"} 3\n"
            "lat_seconds_bucket{le=\"+Inf\"} 4\n"
            "lat_seconds_sum 7.65\nlat_seconds_count 4\n");
}

TEST(MetricsTest, ConcurrentRecordingCountsEverything) {
  MetricsRegistry m;
  Counter* c = m.AddCounter("c", "c");
  Histogram* h = m.AddHistogram("h", "h", PowerOfTwoBuckets(64));
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c->Inc();
        h->Observe(i % 100);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c->value(), 40000u);
  EXPECT_EQ(h->count(), 40000u);
  EXPECT_EQ(PowerOfTwoBuckets(64),
            (std::vector<double>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(PowerOfTwoBuckets(48),
            (std::vector<double>{1, 2, 4, 8, 16, 32, 48}));
}

}  // namespace
}  // namespace fff::server
