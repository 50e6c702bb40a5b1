#include "tools/server/batcher.h"

#include <utility>

namespace fff::server {

InferenceRequest::InferenceRequest(TaskOptions options,
                                   std::vector<SequenceJob> sequences,
                                   Clock::time_point deadline)
    : options_(options),
      sequences_(std::move(sequences)),
      outputs_(sequences_.size()),
      deadline_(deadline),
      remaining_(sequences_.size()) {}

bool InferenceRequest::Wait() {
  std::unique_lock<std::mutex> lock(mu_);
  if (cv_.wait_until(lock, deadline_, [&] { return remaining_ == 0; })) {
    return true;
  }
  cancelled_.store(true, std::memory_order_release);
  return false;
}

void InferenceRequest::Started(Clock::time_point t) {
  if (!has_started_) {
    has_started_ = true;
    started_ = t;
  }
}

void InferenceRequest::Finish(size_t n, const Status& status) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!status.ok() && status_.ok()) status_ = status;
  remaining_ -= n;
  if (remaining_ == 0) {
    finished_ = Clock::now();
    cv_.notify_all();
  }
}

double InferenceRequest::queue_ms() const {
  return std::chrono::duration<double, std::milli>(started_ - submitted_)
      .count();
}

double InferenceRequest::inference_ms() const {
  return std::chrono::duration<double, std::milli>(finished_ - started_)
      .count();
}

std::vector<size_t> SelectBatch(const std::deque<QueueEntry>& queue,
                                const BatcherOptions& options) {
  std::vector<size_t> picked;
  if (queue.empty()) return picked;
  const int key = queue.front().key;
  int64_t tokens = queue.front().n_tokens;
  picked.push_back(0);
  for (size_t i = 1; i < queue.size(); ++i) {
    if (picked.size() >= options.max_batch_sequences) break;
    const QueueEntry& e = queue[i];
    if (e.key != key || tokens + e.n_tokens > options.max_batch_tokens) {
      continue;
    }
    tokens += e.n_tokens;
    picked.push_back(i);
  }
  return picked;
}

Batcher::Batcher(BatcherOptions options, RunBatchFn run, BatcherHooks hooks)
    : options_(options), run_(std::move(run)), hooks_(std::move(hooks)) {
  worker_ = std::thread([this] { Loop(); });
}

Batcher::~Batcher() { Stop(); }

bool Batcher::Submit(const std::shared_ptr<InferenceRequest>& request) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return false;
    request->submitted_ = Clock::now();
    const int key = request->options().BatchKey();
    for (size_t i = 0; i < request->sequences().size(); ++i) {
      queue_.push_back(
          {request, i, static_cast<int64_t>(request->sequences()[i].ids.size()),
           key});
    }
    if (hooks_.on_queue_size) hooks_.on_queue_size(queue_.size());
  }
  cv_.notify_one();
  return true;
}

void Batcher::Stop() {
  std::call_once(stop_once_, [this] {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    worker_.join();
  });
}

size_t Batcher::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void Batcher::Loop() {
  std::vector<QueueEntry> batch;
  std::vector<Item> items;
  for (;;) {
    batch.clear();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
      if (queue_.empty()) return;  // stopping, and nothing left to run
      // Drop what nobody waits for any more (timed out).
      const Clock::time_point now = Clock::now();
      std::erase_if(queue_, [&](const QueueEntry& e) {
        return e.request->cancelled() || now >= e.request->deadline_;
      });
      const std::vector<size_t> picked = SelectBatch(queue_, options_);
      if (picked.empty()) {
        if (hooks_.on_queue_size) hooks_.on_queue_size(0);
        continue;
      }
      std::deque<QueueEntry> rest;
      size_t p = 0;
      for (size_t i = 0; i < queue_.size(); ++i) {
        if (p < picked.size() && picked[p] == i) {
          batch.push_back(std::move(queue_[i]));
          ++p;
        } else {
          rest.push_back(std::move(queue_[i]));
        }
      }
      queue_.swap(rest);
      if (hooks_.on_queue_size) hooks_.on_queue_size(queue_.size());
    }
    const Clock::time_point start = Clock::now();
    int64_t tokens = 0;
    items.clear();
    for (QueueEntry& e : batch) {
      InferenceRequest& r = *e.request;
      r.Started(start);
      if (hooks_.on_sequence_start) {
        hooks_.on_sequence_start(
            std::chrono::duration<double>(start - r.submitted_).count());
      }
      tokens += e.n_tokens;
      items.push_back(
          {&r.sequences_[e.index], &r.outputs_[e.index], &r.options_});
    }
    if (hooks_.on_batch_start) hooks_.on_batch_start(batch.size(), tokens);
    const Status status = run_(items);
    if (hooks_.on_batch_done) {
      hooks_.on_batch_done(
          batch.size(), tokens,
          std::chrono::duration<double>(Clock::now() - start).count());
    }
    for (QueueEntry& e : batch) e.request->Finish(1, status);
  }
}

}  // namespace fff::server
