// The server's one batching worker. Request threads tokenize their inputs
// and Submit an InferenceRequest (one or more sequences); a single worker
// thread owns the model and runs the queued sequences in batches of at most
// `max_batch_tokens` tokens and `max_batch_sequences` sequences, oldest
// first. Sequences of one request may land in different batches, and one
// batch mixes requests; the engine guarantees every sequence's result is
// bitwise the same whatever it is batched with, so batching is invisible in
// the responses.
//
// There is no batching delay: while a batch runs, new work queues up and
// forms the next batch (under load batches grow by themselves; alone, a
// request runs at once).
#ifndef FFF_TOOLS_SERVER_BATCHER_H_
#define FFF_TOOLS_SERVER_BATCHER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "fff/status.h"

namespace fff::server {

using Clock = std::chrono::steady_clock;

enum class Task { kEmbed, kClassify, kFillMask };

// What a request asks of the engine; sequences of requests with equal
// BatchKey() may share a batch.
struct TaskOptions {
  Task task = Task::kEmbed;
  bool normalize = false;  // kEmbed: L2-normalise
  int top_k = 5;           // kFillMask: predictions per mask
  int BatchKey() const { return static_cast<int>(task) * 2 + normalize; }
};

// One tokenized input.
struct SequenceJob {
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;  // empty unless the model has token types
};

// The engine's result for one sequence.
struct SequenceOutput {
  // kEmbed: the embedding [d_model]; kClassify: logits [n_labels];
  // kFillMask: top_k probabilities per mask, masks in position order.
  std::vector<float> values;
  std::vector<int32_t> ids;  // kFillMask: the token ids of `values`
};

// Shared by the request thread that made it and the worker; the request
// thread Waits, the worker fills outputs and completes it.
class InferenceRequest {
 public:
  InferenceRequest(TaskOptions options, std::vector<SequenceJob> sequences,
                   Clock::time_point deadline);

  const TaskOptions& options() const { return options_; }
  const std::vector<SequenceJob>& sequences() const { return sequences_; }

  // Blocks until every sequence is done (true) or the deadline passes
  // (false: the request is cancelled; sequences not yet started are
  // dropped from the queue).
  bool Wait();
  // After Wait() returned true: the engine's status and outputs.
  const Status& status() const { return status_; }
  const std::vector<SequenceOutput>& outputs() const { return outputs_; }
  // Milliseconds from Submit to the first batch / from it to completion.
  double queue_ms() const;
  double inference_ms() const;

  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

 private:
  friend class Batcher;
  void Started(Clock::time_point t);
  // Marks `n` sequences done (with `status` if it is an error).
  void Finish(size_t n, const Status& status);

  const TaskOptions options_;
  const std::vector<SequenceJob> sequences_;
  std::vector<SequenceOutput> outputs_;  // written by the worker only
  const Clock::time_point deadline_;
  Clock::time_point submitted_, started_, finished_;
  bool has_started_ = false;  // worker only

  std::mutex mu_;
  std::condition_variable cv_;
  size_t remaining_;
  Status status_;
  std::atomic<bool> cancelled_{false};
};

struct BatcherOptions {
  int64_t max_batch_tokens = 8192;
  size_t max_batch_sequences = 64;
};

// One queued sequence.
struct QueueEntry {
  std::shared_ptr<InferenceRequest> request;
  size_t index;  // into request->sequences()
  int64_t n_tokens;
  int key;  // request->options().BatchKey()
};

// The batch to run next: positions in `queue` (ascending). It starts with
// the head (always taken, whatever its size) and adds, in queue order, every
// entry with the head's key that keeps the batch within the limits.
std::vector<size_t> SelectBatch(const std::deque<QueueEntry>& queue,
                                const BatcherOptions& options);

// Observers of the worker (metrics); each may be empty. Called on the
// worker thread.
struct BatcherHooks {
  std::function<void(size_t queued_sequences)> on_queue_size;
  // Before and after each batch: sequences, tokens; after also seconds.
  std::function<void(size_t n_sequences, int64_t n_tokens)> on_batch_start;
  std::function<void(size_t n_sequences, int64_t n_tokens, double seconds)>
      on_batch_done;
  std::function<void(double queue_seconds)> on_sequence_start;
};

class Batcher {
 public:
  // One item of a batch: the sequence, where its result goes, its options.
  struct Item {
    const SequenceJob* sequence;
    SequenceOutput* output;
    const TaskOptions* options;
  };
  // Runs one batch (all items share a BatchKey) and fills every output.
  using RunBatchFn = std::function<Status(std::span<const Item> items)>;

  // Starts the worker thread.
  Batcher(BatcherOptions options, RunBatchFn run, BatcherHooks hooks = {});
  ~Batcher();  // Stop()
  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Queues every sequence of `request`. False after Stop() began (nothing
  // queued). Each sequence must be at most max_batch_tokens long.
  bool Submit(const std::shared_ptr<InferenceRequest>& request);
  // Runs what is queued, then stops the worker. Idempotent; blocks until
  // the worker has exited.
  void Stop();
  size_t queued() const;

 private:
  void Loop();

  const BatcherOptions options_;
  const RunBatchFn run_;
  const BatcherHooks hooks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<QueueEntry> queue_;
  bool stopping_ = false;
  std::thread worker_;
  std::once_flag stop_once_;
};

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_BATCHER_H_
