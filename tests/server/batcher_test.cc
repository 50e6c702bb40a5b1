// The batching worker (tools/server/batcher.h) with a fake engine: batch
// selection under the token/sequence limits, every sequence run exactly
// once, cancellation, stop.
#include "tools/server/batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>
#include <thread>

namespace fff::server {
namespace {

std::shared_ptr<InferenceRequest> MakeRequest(std::vector<size_t> lengths,
                                              int key_task = 0,
                                              int timeout_ms = 10000) {
  std::vector<SequenceJob> jobs;
  int32_t next = 1;
  for (size_t n : lengths) {
    SequenceJob j;
    for (size_t i = 0; i < n; ++i) j.ids.push_back(next++);
    jobs.push_back(std::move(j));
  }
  TaskOptions o;
  o.task = static_cast<Task>(key_task);
  return std::make_shared<InferenceRequest>(
      o, std::move(jobs), Clock::now() + std::chrono::milliseconds(timeout_ms));
}

std::deque<QueueEntry> Queue(std::vector<std::pair<int64_t, int>> tokens_keys) {
  std::deque<QueueEntry> q;
  for (auto [t, k] : tokens_keys) q.push_back({nullptr, 0, t, k});
  return q;
}

TEST(SelectBatchTest, HeadAlwaysTakenThenFirstFitWithinLimits) {
  BatcherOptions o;
  o.max_batch_tokens = 10;
  o.max_batch_sequences = 3;
  EXPECT_TRUE(SelectBatch({}, o).empty());
  // Head over the token limit alone: still taken (it must run somewhere).
  EXPECT_EQ(SelectBatch(Queue({{20, 0}, {1, 0}}), o), std::vector<size_t>({0}));
  // Key mismatch skipped, too-large skipped, smaller later ones fill in.
  EXPECT_EQ(SelectBatch(Queue({{4, 0}, {3, 1}, {7, 0}, {5, 0}, {1, 0}}), o),
            std::vector<size_t>({0, 3, 4}));
  // Sequence limit.
  EXPECT_EQ(SelectBatch(Queue({{1, 0}, {1, 0}, {1, 0}, {1, 0}}), o),
            std::vector<size_t>({0, 1, 2}));
  // Head's key decides.
  EXPECT_EQ(SelectBatch(Queue({{1, 1}, {1, 0}, {1, 1}}), o),
            std::vector<size_t>({0, 2}));
}

// A fake engine: output = the ids as floats times the batch's key; records
// batch shapes.
struct FakeEngine {
  std::mutex mu;
  std::vector<std::pair<size_t, int64_t>> batches;  // (sequences, tokens)
  std::atomic<int> runs{0};
  Status Run(std::span<const Batcher::Item> items) {
    int64_t tokens = 0;
    const int key = items[0].options->BatchKey();
    for (const auto& it : items) {
      EXPECT_EQ(it.options->BatchKey(), key) << "mixed keys in a batch";
      tokens += static_cast<int64_t>(it.sequence->ids.size());
      it.output->values.assign(it.sequence->ids.begin(),
                               it.sequence->ids.end());
      for (float& v : it.output->values) v *= float(key + 1);
    }
    std::lock_guard<std::mutex> l(mu);
    batches.emplace_back(items.size(), tokens);
    ++runs;
    return Status::Ok();
  }
};

TEST(BatcherTest, EverySequenceRunsOnceWithinLimits) {
  FakeEngine engine;
  BatcherOptions o;
  o.max_batch_tokens = 64;
  o.max_batch_sequences = 5;
  Batcher b(o, [&](std::span<const Batcher::Item> items) {
    return engine.Run(items);
  });
  std::mt19937 rng(3);
  std::vector<std::shared_ptr<InferenceRequest>> reqs;
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    std::vector<std::shared_ptr<InferenceRequest>> mine;
    for (int r = 0; r < 20; ++r) {
      std::vector<size_t> lens;
      const int n = 1 + int(rng() % 4);
      for (int i = 0; i < n; ++i) lens.push_back(1 + rng() % 40);
      mine.push_back(MakeRequest(lens, int(rng() % 3)));
    }
    reqs.insert(reqs.end(), mine.begin(), mine.end());
    threads.emplace_back([&b, mine] {
      for (const auto& r : mine) {
        ASSERT_TRUE(b.Submit(r));
        ASSERT_TRUE(r->Wait());
      }
    });
  }
  for (auto& t : threads) t.join();
  size_t total_sequences = 0;
  for (const auto& r : reqs) {
    ASSERT_TRUE(r->status().ok());
    const float scale = float(r->options().BatchKey() + 1);
    for (size_t i = 0; i < r->sequences().size(); ++i) {
      const auto& ids = r->sequences()[i].ids;
      const auto& out = r->outputs()[i].values;
      ASSERT_EQ(out.size(), ids.size());
      for (size_t k = 0; k < ids.size(); ++k) ASSERT_EQ(out[k], ids[k] * scale);
    }
    total_sequences += r->sequences().size();
  }
  size_t run_sequences = 0;
  for (auto [n, tokens] : engine.batches) {
    EXPECT_LE(n, o.max_batch_sequences);
    EXPECT_LE(tokens, o.max_batch_tokens);
    run_sequences += n;
  }
  EXPECT_EQ(run_sequences, total_sequences);  // none lost, none run twice
  b.Stop();
  EXPECT_FALSE(b.Submit(MakeRequest({1})));
}

TEST(BatcherTest, QueuedWorkBatchesAndTimedOutWorkIsDropped) {
  FakeEngine engine;
  std::mutex gate_mu;
  std::condition_variable gate_cv;
  bool open = false;
  Batcher b({}, [&](std::span<const Batcher::Item> items) {
    std::unique_lock<std::mutex> l(gate_mu);
    gate_cv.wait(l, [&] { return open; });
    return engine.Run(items);
  });
  // The first request occupies the worker; the rest queue up.
  auto first = MakeRequest({2});
  ASSERT_TRUE(b.Submit(first));
  while (b.queued() != 0) std::this_thread::yield();
  auto expiring = MakeRequest({3}, 0, /*timeout_ms=*/20);
  ASSERT_TRUE(b.Submit(expiring));
  std::vector<std::shared_ptr<InferenceRequest>> later;
  for (int i = 0; i < 4; ++i) {
    later.push_back(MakeRequest({1, 2}));
    ASSERT_TRUE(b.Submit(later.back()));
  }
  EXPECT_FALSE(expiring->Wait());  // times out while the worker is held
  EXPECT_TRUE(expiring->cancelled());
  {
    std::lock_guard<std::mutex> l(gate_mu);
    open = true;
  }
  gate_cv.notify_all();
  ASSERT_TRUE(first->Wait());
  for (auto& r : later) ASSERT_TRUE(r->Wait());
  b.Stop();
  // Batch 1: the first request; batch 2: the 8 later sequences together; the
  // expired one never ran.
  ASSERT_EQ(engine.batches.size(), 2u);
  EXPECT_EQ(engine.batches[0].first, 1u);
  EXPECT_EQ(engine.batches[1].first, 8u);
  EXPECT_TRUE(expiring->outputs()[0].values.empty());
}

TEST(BatcherTest, EngineErrorFailsTheBatchsRequests) {
  Batcher b({}, [](std::span<const Batcher::Item>) {
    return InternalError("engine broke");
  });
  auto r = MakeRequest({1, 1});
  ASSERT_TRUE(b.Submit(r));
  ASSERT_TRUE(r->Wait());
  EXPECT_EQ(r->status().code(), StatusCode::kInternal);
}

TEST(BatcherTest, StopRunsWhatIsQueued) {
  FakeEngine engine;
  std::vector<std::shared_ptr<InferenceRequest>> reqs;
  {
    Batcher b({}, [&](std::span<const Batcher::Item> items) {
      return engine.Run(items);
    });
    for (int i = 0; i < 10; ++i) {
      reqs.push_back(MakeRequest({3}));
      ASSERT_TRUE(b.Submit(reqs.back()));
    }
  }  // destructor stops after the queue is empty
  for (auto& r : reqs) ASSERT_TRUE(r->Wait());
}

}  // namespace
}  // namespace fff::server
