// `fff serve`: an HTTP server for one loaded model with the request and
// response shapes of text-embeddings-inference (/embed, /predict, /tokenize,
// /decode, /info, /health, /metrics), OpenAI's /v1/embeddings and the HF
// Inference API's /fill-mask (docs/server-api.md).
//
// Threads: cpp-httplib's pool of request threads parses and tokenizes; one
// batching worker (batcher.h) owns the model. Admission: at most
// `max_concurrent_requests` model requests are in the server at once; the
// next one is answered 429 at once rather than queued without bound.
#ifndef FFF_TOOLS_SERVER_SERVER_H_
#define FFF_TOOLS_SERVER_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "fff/model.h"
#include "fff/status.h"

namespace fff::server {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                 // 0: any free port (Start returns it)
  // Batching worker: most tokens / sequences in one engine call. Must be at
  // least the model's max_seq_length.
  int64_t max_batch_tokens = 4096;
  int max_batch_requests = 64;
  // Model requests (embed, predict, fill-mask, v1/embeddings) inside the
  // server at once; beyond it: 429 (with Retry-After: 1).
  int max_concurrent_requests = 64;
  // A connection that comes back sooner than the Retry-After of its last
  // 429 gets its next 429 after this pause (0: never pause). The first 429
  // of a connection is always immediate; this only slows clients that
  // retry in a loop, which would otherwise take the CPU from the accepted
  // requests (docs/benchmarks.md#server).
  int64_t retry_pause_ms = 100;
  // Inputs in one request; beyond it: 413.
  size_t max_client_batch_size = 32;
  // Request body bytes; beyond it: 413.
  size_t max_body_bytes = 2 << 20;
  // A model request not answered within this is answered 504 (and its
  // unstarted sequences are dropped).
  int64_t request_timeout_ms = 30000;
  // Default of the requests' `truncate` (TEI's --auto-truncate).
  bool auto_truncate = false;
  // Embedding pooling: mean over tokens, or the first token.
  bool mean_pooling = true;
  // Request threads (0: max(256, max_concurrent_requests + 16)). httplib
  // serves a keep-alive connection on one thread until it closes, so this is
  // also the most client connections served at once; it must exceed the
  // limit so that a request over the limit finds a thread to answer its 429.
  int http_threads = 0;
  // Name in /info and /v1/embeddings responses (empty: the folder's name).
  std::string served_model_name;
  // Server log lines (start, drain, stop); none when empty.
  std::function<void(const std::string&)> log;
  // Tests only: runs on the worker before every batch (e.g. to hold it).
  std::function<void()> before_batch_for_testing;
};

class Server {
 public:
  // Takes the loaded model (it must have a tokenizer). `model_dir` is read
  // for the labels (config.json "id2label") and names the model in /info.
  static Result<std::unique_ptr<Server>> Create(Model model,
                                                const std::string& model_dir,
                                                const ServerOptions& options);
  ~Server();  // Shutdown()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and serves on background threads. Returns the port.
  Result<int> Start();
  // Graceful stop: from now on requests are answered 503 (and /health is
  // 503); requests already accepted are finished (each ends by its
  // timeout); then the worker and the listener stop. Blocks until stopped.
  // Idempotent and thread-safe; must not be called from a request handler.
  void Shutdown();
  // Blocks until the listener has stopped (after Shutdown, or if serving
  // failed), then completes the shutdown.
  void Wait();

  int port() const;
  bool draining() const;
  // Requests inside handlers now (all routes).
  int active_requests() const;
  // The Prometheus text GET /metrics serves.
  std::string RenderMetrics() const;

  struct Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fff::server

#endif  // FFF_TOOLS_SERVER_SERVER_H_
