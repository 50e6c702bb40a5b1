// Internal to tools/server: the server's state, shared by server.cc (HTTP
// plumbing, admission, shutdown) and handlers.cc (one function per route).
#ifndef FFF_TOOLS_SERVER_SERVER_IMPL_H_
#define FFF_TOOLS_SERVER_SERVER_IMPL_H_

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fff/model.h"
#include "fff/tokenizer.h"
#include "tools/server/api.h"
#include "tools/server/batcher.h"
#include "tools/server/engine.h"
#include "tools/server/errors.h"
#include "tools/server/metrics.h"
#include "tools/server/server.h"

namespace fff::server {

// A successful response.
struct Reply {
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
};

// What the model routes have in common: the tokenized inputs and their
// accounting for the x-compute-* headers and metrics.
struct TokenizedInputs {
  std::vector<SequenceJob> jobs;
  int64_t n_tokens = 0;
  int64_t n_chars = 0;         // Unicode code points of the input texts
  double tokenization_ms = 0;  // arrival to tokenized
};

// The Retry-After of a 429, in seconds.
inline constexpr int kRetryAfterSeconds = 1;

struct Server::Impl {
  Impl(Model m, std::string dir, ServerOptions o);

  // ---- configuration (immutable after Create) ----
  Model model;
  std::string model_dir;
  std::string model_name;
  ServerOptions opt;
  const Tokenizer* tok = nullptr;
  std::vector<std::string> labels;  // classification label names
  ParseLimits limits;

  // ---- metrics ----
  MetricsRegistry metrics;
  struct RouteMetrics {
    Counter* requests;
    Counter* success;
    Histogram* duration;
  };
  RouteMetrics RegisterRoute(const std::string& route);
  Counter* errors[std::size(kAllErrorKinds)];
  Gauge* in_flight_gauge;
  Gauge* queue_gauge;
  Histogram* batch_sequences;
  Histogram* batch_tokens;
  Histogram* queue_seconds;
  Histogram* inference_seconds;
  Histogram* tokenization_seconds;
  Counter* tokens_total;
  Counter* batches_total;
  Gauge* tokens_per_second;
  Counter* retry_pauses;

  // ---- execution ----
  std::unique_ptr<ModelEngine> engine;
  std::unique_ptr<Batcher> batcher;

  // ---- HTTP ----
  httplib::Server http;
  std::thread listener;
  int port = 0;
  int listen_fd = -1;
  std::atomic<int> active{0};    // inside any handler
  std::atomic<int> admitted{0};  // model requests holding a permit
  std::atomic<bool> draining{false};
  std::mutex state_mu;
  std::condition_variable state_cv;  // active reaching 0; listener exit
  bool listener_done = false;
  std::once_flag shutdown_once;

  // Before a 429: sleeps --retry-pause-ms when the same connection was
  // answered 429 less than Retry-After ago (a client ignoring it), so that
  // a client retrying in a loop cannot take the CPU from accepted requests.
  void PauseIfIgnoringRetryAfter(const httplib::Request& req,
                                 Clock::time_point arrival);

  void Log(const std::string& line) const {
    if (opt.log) opt.log(line);
  }

  // ---- handlers (handlers.cc) ----
  ApiResult<Reply> Embed(const httplib::Request& req);
  ApiResult<Reply> OpenAiEmbed(const httplib::Request& req);
  ApiResult<Reply> Predict(const httplib::Request& req);
  ApiResult<Reply> FillMask(const httplib::Request& req);
  ApiResult<Reply> Tokenize(const httplib::Request& req);
  ApiResult<Reply> Decode(const httplib::Request& req);
  Reply Info() const;

  // Tokenizes `inputs` for the engine, checking lengths and ids against the
  // model; `field` names the request field in errors.
  // Records the tokenization time since `arrival`.
  ApiResult<TokenizedInputs> TokenizeInputs(
      const std::vector<TextInput>& inputs, bool truncate, bool single,
      const char* field, Clock::time_point arrival) const;
  // 422 unless `dimensions` is unset or the model's width.
  std::optional<ApiError> CheckDimensions(
      const std::optional<int64_t>& dimensions) const;
  // Submits and waits; errors: 503 shutting down, 504 timeout, 500 engine.
  ApiResult<std::shared_ptr<InferenceRequest>> Infer(
      const TaskOptions& options, std::vector<SequenceJob> jobs,
      Clock::time_point arrival);
  // x-compute-* and x-*-time headers.
  void AddTimingHeaders(Reply* reply, const TokenizedInputs& in,
                        const InferenceRequest& r,
                        Clock::time_point arrival) const;
};

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_SERVER_IMPL_H_
