#include "tools/server/server.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tools/server/server_impl.h"

namespace fff::server {
namespace {

// Label names: config.json's "id2label" ({"0": "NEGATIVE", ...}) when it
// names every label, else LABEL_0, LABEL_1, ... (HF's defaults).
std::vector<std::string> ReadLabels(const std::string& dir, int64_t n_labels) {
  std::vector<std::string> labels;
  for (int64_t i = 0; i < n_labels; ++i) {
    labels.push_back(fmt::format("LABEL_{}", i));
  }
  std::ifstream f(std::filesystem::path(dir) / "config.json");
  const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return labels;
  auto it = j.find("id2label");
  if (it == j.end() || !it->is_object()) return labels;
  std::vector<std::string> named(labels.size());
  for (int64_t i = 0; i < n_labels; ++i) {
    auto l = it->find(std::to_string(i));
    if (l == it->end() || !l->is_string()) return labels;
    named[i] = l->get<std::string>();
  }
  return named;
}

// Routes served per method; the other method on the same path is a 405.
constexpr const char* kPostRoutes[] = {"/embed",     "/predict",
                                       "/fill-mask", "/tokenize",
                                       "/decode",    "/v1/embeddings"};
constexpr const char* kGetRoutes[] = {"/health", "/info", "/metrics"};

}  // namespace

Server::Impl::Impl(Model m, std::string dir, ServerOptions o)
    : model(std::move(m)), model_dir(std::move(dir)), opt(std::move(o)) {}

Server::Impl::RouteMetrics Server::Impl::RegisterRoute(
    const std::string& route) {
  const std::string l = fmt::format("route=\"{}\"", route);
  return {metrics.AddCounter("fff_requests_total",
                             "HTTP requests received, by route", l),
          metrics.AddCounter("fff_requests_success_total",
                             "HTTP requests answered 200, by route", l),
          metrics.AddHistogram(
              "fff_request_duration_seconds",
              "Time from arrival to response of successful requests",
              LatencyBuckets(), l)};
}

void Server::Impl::PauseIfIgnoringRetryAfter(const httplib::Request& req,
                                             Clock::time_point arrival) {
  // httplib serves a keep-alive connection on one thread from start to end,
  // so the thread's last 429 peer identifies the connection.
  thread_local std::string last_peer;
  thread_local int last_port = -1;
  thread_local Clock::time_point last_429;
  const bool repeat =
      req.remote_port == last_port && req.remote_addr == last_peer &&
      arrival - last_429 < std::chrono::seconds(kRetryAfterSeconds);
  if (repeat && opt.retry_pause_ms > 0) {
    retry_pauses->Inc();
    std::this_thread::sleep_for(std::chrono::milliseconds(opt.retry_pause_ms));
  }
  last_peer = req.remote_addr;
  last_port = req.remote_port;
  last_429 = Clock::now();
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() {
  if (impl_) Shutdown();
}

Result<std::unique_ptr<Server>> Server::Create(Model model,
                                               const std::string& model_dir,
                                               const ServerOptions& options) {
  if (model.tokenizer() == nullptr) {
    return NotFoundError(fmt::format(
        "{}: no tokenizer.json or vocab.txt: the server needs a tokenizer",
        model_dir));
  }
  const int64_t max_len = model.config().max_seq_length;
  if (options.max_batch_tokens < max_len) {
    return InvalidArgumentError(fmt::format(
        "--max-batch-tokens: expected at least the model's max_seq_length {} "
        "(a longest input must fit one batch), got {}",
        max_len, options.max_batch_tokens));
  }
  auto check_positive = [](const char* name, int64_t v) -> Status {
    if (v > 0) return Status::Ok();
    return InvalidArgumentError(
        fmt::format("{}: expected a positive value, got {}", name, v));
  };
  FFF_RETURN_IF_ERROR(
      check_positive("--max-batch-requests", options.max_batch_requests));
  FFF_RETURN_IF_ERROR(check_positive("--max-concurrent-requests",
                                     options.max_concurrent_requests));
  FFF_RETURN_IF_ERROR(
      check_positive("--max-client-batch-size",
                     static_cast<int64_t>(options.max_client_batch_size)));
  FFF_RETURN_IF_ERROR(check_positive(
      "--max-body-bytes", static_cast<int64_t>(options.max_body_bytes)));
  FFF_RETURN_IF_ERROR(
      check_positive("--request-timeout-ms", options.request_timeout_ms));
  if (options.retry_pause_ms < 0) {
    return InvalidArgumentError(
        fmt::format("--retry-pause-ms: expected 0 or more, got {}",
                    options.retry_pause_ms));
  }
  if (options.http_threads < 0) {
    return InvalidArgumentError(
        fmt::format("--http-threads: expected 0 (automatic) or more, got {}",
                    options.http_threads));
  }

  auto im = std::make_unique<Impl>(std::move(model), model_dir, options);
  Impl& s = *im;
  if (s.opt.http_threads == 0) {
    s.opt.http_threads = std::max(256, s.opt.max_concurrent_requests + 16);
  }
  s.tok = s.model.tokenizer();
  s.model_name = s.opt.served_model_name;
  if (s.model_name.empty()) {
    s.model_name =
        std::filesystem::path(model_dir).lexically_normal().filename().string();
    if (s.model_name.empty()) {
      s.model_name = std::filesystem::path(model_dir)
                         .lexically_normal()
                         .parent_path()
                         .filename()
                         .string();
    }
  }
  s.labels = ReadLabels(model_dir, s.model.n_labels());
  s.limits.max_inputs = s.opt.max_client_batch_size;

  // ---- metrics ----
  for (size_t i = 0; i < std::size(kAllErrorKinds); ++i) {
    s.errors[i] = s.metrics.AddCounter(
        "fff_request_errors_total", "Requests answered with an error, by type",
        fmt::format("error_type=\"{}\",status=\"{}\"",
                    GetErrorInfo(kAllErrorKinds[i]).error_type,
                    GetErrorInfo(kAllErrorKinds[i]).http_status));
  }
  s.in_flight_gauge = s.metrics.AddGauge(
      "fff_in_flight_requests", "Model requests admitted and not yet answered");
  s.queue_gauge = s.metrics.AddGauge(
      "fff_queue_size", "Sequences waiting for the batching worker");
  s.batch_sequences = s.metrics.AddHistogram(
      "fff_batch_size", "Sequences per engine batch",
      PowerOfTwoBuckets(static_cast<double>(s.opt.max_batch_requests)));
  s.batch_tokens = s.metrics.AddHistogram(
      "fff_batch_tokens", "Tokens per engine batch",
      PowerOfTwoBuckets(static_cast<double>(s.opt.max_batch_tokens)));
  s.queue_seconds = s.metrics.AddHistogram(
      "fff_queue_duration_seconds", "Time a sequence waited for its batch",
      LatencyBuckets());
  s.inference_seconds =
      s.metrics.AddHistogram("fff_inference_duration_seconds",
                             "Engine time per batch", LatencyBuckets());
  s.tokenization_seconds = s.metrics.AddHistogram(
      "fff_tokenization_duration_seconds",
      "Parsing and tokenization time per request", LatencyBuckets());
  s.tokens_total = s.metrics.AddCounter("fff_tokens_total",
                                        "Tokens run through the encoder");
  s.batches_total =
      s.metrics.AddCounter("fff_batches_total", "Engine batches run");
  s.retry_pauses = s.metrics.AddCounter(
      "fff_retry_pauses_total",
      "429s delayed by --retry-pause-ms: the connection came back sooner "
      "than Retry-After");
  s.tokens_per_second = s.metrics.AddGauge(
      "fff_tokens_per_second", "Encoder throughput of the last batch");

  // ---- the worker ----
  s.engine = std::make_unique<ModelEngine>(&s.model, s.opt.mean_pooling,
                                           s.tok->special_ids().mask);
  BatcherHooks hooks;
  hooks.on_queue_size = [&s](size_t n) { s.queue_gauge->Set(double(n)); };
  hooks.on_sequence_start = [&s](double sec) { s.queue_seconds->Observe(sec); };
  hooks.on_batch_done = [&s](size_t n, int64_t tokens, double sec) {
    s.batch_sequences->Observe(double(n));
    s.batch_tokens->Observe(double(tokens));
    s.inference_seconds->Observe(sec);
    s.tokens_total->Inc(static_cast<uint64_t>(tokens));
    s.batches_total->Inc();
    if (sec > 0) s.tokens_per_second->Set(double(tokens) / sec);
  };
  BatcherOptions bo;
  bo.max_batch_tokens = s.opt.max_batch_tokens;
  bo.max_batch_sequences = static_cast<size_t>(s.opt.max_batch_requests);
  s.batcher = std::make_unique<Batcher>(
      bo,
      [&s](std::span<const Batcher::Item> items) {
        if (s.opt.before_batch_for_testing) s.opt.before_batch_for_testing();
        return s.engine->Run(items);
      },
      std::move(hooks));

  // ---- HTTP ----
  httplib::Server& h = s.http;
  h.new_task_queue = [n = s.opt.http_threads] {
    return new httplib::ThreadPool(static_cast<size_t>(n));
  };
  h.set_payload_max_length(s.opt.max_body_bytes);
  h.set_keep_alive_max_count(1000);
  h.set_keep_alive_timeout(5);
  h.set_tcp_nodelay(true);
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
  // a second server bind the same port silently.
  h.set_socket_options([&s](int fd) {
    int yes = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    s.listen_fd = fd;
  });

  // Every route goes through `serve`: drain check, admission, metrics and
  // the error table. The counters are held by guards, so a handler that
  // throws (httplib answers 500) still releases its permit.
  struct Hold {
    std::atomic<int>* counter;
    Gauge* gauge;
    Impl* s;  // notified when `active` drops to 0 while draining
    ~Hold() {
      if (gauge) gauge->Add(-1);
      if (counter->fetch_sub(1) == 1 && s && s->draining.load()) {
        std::lock_guard<std::mutex> lock(s->state_mu);
        s->state_cv.notify_all();
      }
    }
  };
  auto serve = [&s](const char* route, bool model_route, bool openai, auto fn) {
    Impl::RouteMetrics rm = s.RegisterRoute(route);
    return [&s, rm, model_route, openai, fn](const httplib::Request& req,
                                             httplib::Response& res) {
      const Clock::time_point arrival = Clock::now();
      rm.requests->Inc();
      s.active.fetch_add(1);
      Hold active{&s.active, nullptr, &s};
      ApiResult<Reply> reply = ApiError{ErrorKind::kInternal, ""};
      if (s.draining.load()) {
        reply =
            ApiError{ErrorKind::kUnavailable, "the server is shutting down"};
      } else if (model_route &&
                 s.admitted.fetch_add(1) >= s.opt.max_concurrent_requests) {
        s.admitted.fetch_sub(1);
        s.PauseIfIgnoringRetryAfter(req, arrival);
        reply = ApiError{ErrorKind::kOverloaded,
                         fmt::format("model is overloaded: {} requests in "
                                     "flight (--max-concurrent-requests)",
                                     s.opt.max_concurrent_requests)};
      } else if (model_route) {
        s.in_flight_gauge->Add(1);
        Hold permit{&s.admitted, s.in_flight_gauge, nullptr};
        reply = fn(req);
      } else {
        reply = fn(req);
      }
      if (reply.ok()) {
        res.status = 200;
        for (const auto& [k, v] : reply->headers) res.set_header(k, v);
        res.set_content(std::move(reply->body), reply->content_type);
        rm.success->Inc();
        rm.duration->Observe(
            std::chrono::duration<double>(Clock::now() - arrival).count());
      } else {
        const ApiError& e = reply.error();
        res.status = GetErrorInfo(e.kind).http_status;
        res.set_content(openai ? RenderOpenAiError(e) : RenderError(e),
                        "application/json");
        s.errors[static_cast<size_t>(e.kind)]->Inc();
        if (e.kind == ErrorKind::kOverloaded) {
          res.set_header("Retry-After", std::to_string(kRetryAfterSeconds));
        }
      }
      if (s.draining.load()) res.set_header("Connection", "close");
    };
  };
  h.Post("/embed", serve("embed", true, false, [&s](const httplib::Request& r) {
           return s.Embed(r);
         }));
  h.Post("/v1/embeddings",
         serve("v1_embeddings", true, true,
               [&s](const httplib::Request& r) { return s.OpenAiEmbed(r); }));
  h.Post("/predict",
         serve("predict", true, false,
               [&s](const httplib::Request& r) { return s.Predict(r); }));
  h.Post("/fill-mask",
         serve("fill_mask", true, false,
               [&s](const httplib::Request& r) { return s.FillMask(r); }));
  h.Post("/tokenize",
         serve("tokenize", false, false,
               [&s](const httplib::Request& r) { return s.Tokenize(r); }));
  h.Post("/decode",
         serve("decode", false, false,
               [&s](const httplib::Request& r) { return s.Decode(r); }));
  h.Get("/info", serve("info", false, false,
                       [&s](const httplib::Request&) -> ApiResult<Reply> {
                         return s.Info();
                       }));
  // /health and /metrics answer while draining (health with 503).
  const Impl::RouteMetrics health = s.RegisterRoute("health");
  h.Get("/health", [&s, health](const httplib::Request&,
                                httplib::Response& res) {
    health.requests->Inc();
    if (s.draining.load()) {
      const ApiError e{ErrorKind::kUnavailable, "the server is shutting down"};
      res.status = GetErrorInfo(e.kind).http_status;
      res.set_content(RenderError(e), "application/json");
      s.errors[static_cast<size_t>(e.kind)]->Inc();
      return;
    }
    health.success->Inc();
    res.status = 200;
  });
  const Impl::RouteMetrics metrics = s.RegisterRoute("metrics");
  h.Get("/metrics",
        [&s, metrics](const httplib::Request&, httplib::Response& res) {
          metrics.requests->Inc();
          metrics.success->Inc();
          res.set_content(s.metrics.Render(), "text/plain; version=0.0.4");
        });
  // The other method on a route: 405 with the Allow header.
  auto wrong_method = [&s](const char* allow) {
    return [&s, allow](const httplib::Request& req, httplib::Response& res) {
      s.errors[static_cast<size_t>(ErrorKind::kMethodNotAllowed)]->Inc();
      res.status = 405;
      res.set_header("Allow", allow);
      res.set_content(
          RenderError({ErrorKind::kMethodNotAllowed,
                       fmt::format("{} takes {}", req.path, allow)}),
          "application/json");
    };
  };
  for (const char* r : kPostRoutes) h.Get(r, wrong_method("POST"));
  for (const char* r : kGetRoutes) h.Post(r, wrong_method("GET"));
  // Errors httplib itself produces (404, 413 for an oversized body, 400 for
  // a malformed request line) get the same JSON body.
  h.set_error_handler(httplib::Server::HandlerWithResponse(
      [&s](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty())
          return httplib::Server::HandlerResponse::Unhandled;
        const ErrorKind kind = ErrorKindForHttpStatus(res.status);
        std::string message;
        switch (kind) {
          case ErrorKind::kNotFound:
            message = fmt::format("no route {} {}", req.method, req.path);
            break;
          case ErrorKind::kPayloadTooLarge:
            message = fmt::format(
                "request body larger than {} bytes "
                "(--max-body-bytes)",
                s.opt.max_body_bytes);
            break;
          default:
            message = fmt::format("HTTP {}", res.status);
        }
        s.errors[static_cast<size_t>(kind)]->Inc();
        res.set_content(RenderError({kind, message}), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  h.set_exception_handler([&s](const httplib::Request&, httplib::Response& res,
                               std::exception_ptr ep) {
    std::string what = "unknown exception";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    res.status = 500;
    s.errors[static_cast<size_t>(ErrorKind::kInternal)]->Inc();
    res.set_content(
        RenderError({ErrorKind::kInternal, "internal error: " + what}),
        "application/json");
  });
  return std::unique_ptr<Server>(new Server(std::move(im)));
}

Result<int> Server::Start() {
  Impl& s = *impl_;
  const int port =
      s.opt.port == 0
          ? s.http.bind_to_any_port(s.opt.host)
          : (s.http.bind_to_port(s.opt.host, s.opt.port) ? s.opt.port : -1);
  if (port < 0) {
    return Status(StatusCode::kFailedPrecondition,
                  fmt::format("cannot listen on {}:{} (in use, or not an "
                              "address of this machine)",
                              s.opt.host, s.opt.port));
  }
  // httplib listens with a backlog of 5; a burst of new connections would
  // then wait for SYN retransmits. Listening again on the bound socket
  // raises the backlog (Linux).
  if (s.listen_fd >= 0) ::listen(s.listen_fd, SOMAXCONN);
  s.port = port;
  s.listener = std::thread([&s] {
    const bool ok = s.http.listen_after_bind();
    if (!ok && !s.draining.load()) s.Log("fff serve: the listener failed");
    std::lock_guard<std::mutex> lock(s.state_mu);
    s.listener_done = true;
    s.state_cv.notify_all();
  });
  s.Log(fmt::format(
      "fff serve: listening on http://{}:{} ({} request "
      "threads, max {} concurrent requests, batches of at most "
      "{} tokens / {} sequences)",
      s.opt.host, port, s.opt.http_threads, s.opt.max_concurrent_requests,
      s.opt.max_batch_tokens, s.opt.max_batch_requests));
  return port;
}

void Server::Shutdown() {
  Impl& s = *impl_;
  std::call_once(s.shutdown_once, [&s] {
    s.draining.store(true);
    const int active = s.active.load();
    if (active > 0) {
      s.Log(fmt::format("fff serve: draining {} request(s)", active));
    }
    {
      // Every admitted request ends by its timeout; the margin covers
      // rendering. Requests arriving now are answered 503 at once.
      std::unique_lock<std::mutex> lock(s.state_mu);
      s.state_cv.wait_for(
          lock, std::chrono::milliseconds(s.opt.request_timeout_ms + 5000),
          [&s] { return s.active.load() == 0; });
    }
    s.batcher->Stop();
    s.http.stop();
    if (s.listener.joinable()) s.listener.join();
    s.Log("fff serve: stopped");
  });
}

void Server::Wait() {
  Impl& s = *impl_;
  if (s.listener.joinable()) {
    std::unique_lock<std::mutex> lock(s.state_mu);
    s.state_cv.wait(lock, [&s] { return s.listener_done; });
  }
  Shutdown();
}

int Server::port() const { return impl_->port; }
bool Server::draining() const { return impl_->draining.load(); }
int Server::active_requests() const { return impl_->active.load(); }
std::string Server::RenderMetrics() const { return impl_->metrics.Render(); }

}  // namespace fff::server
