// One function per route: parse (api.h), tokenize on the request thread,
// run on the batching worker, render. Errors are ApiErrors; server.cc turns
// them into statuses through the one table (errors.h).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>

#include "tools/server/server_impl.h"

namespace fff::server {
namespace {

using json = nlohmann::ordered_json;

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

int64_t CountCodePoints(const std::string& s) {
  int64_t n = 0;
  for (const unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string InputName(const char* field, bool single, size_t i) {
  return single ? fmt::format("`{}`", field)
                : fmt::format("`{}`[{}]", field, i);
}

}  // namespace

ApiResult<TokenizedInputs> Server::Impl::TokenizeInputs(
    const std::vector<TextInput>& inputs, bool truncate, bool single,
    const char* field, Clock::time_point arrival) const {
  const ModelConfig& c = model.config();
  const size_t max_len = static_cast<size_t>(c.max_seq_length);
  const bool typed = c.type_vocab_size > 0;
  TokenizedInputs out;
  out.jobs.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TextInput& in = inputs[i];
    SequenceJob job;
    if (in.is_ids) {
      for (size_t k = 0; k < in.ids.size(); ++k) {
        if (in.ids[k] >= c.vocab_size) {
          return ApiError{ErrorKind::kValidation,
                          fmt::format("{}[{}]: token id {} is outside the "
                                      "vocabulary [0, {})",
                                      InputName(field, single, i), k, in.ids[k],
                                      c.vocab_size)};
        }
      }
      job.ids = in.ids;
      if (job.ids.size() > max_len) {
        if (!truncate) {
          return ApiError{ErrorKind::kValidation,
                          fmt::format("{}: {} tokens, the model takes at most "
                                      "{} (send \"truncate\": true to cut)",
                                      InputName(field, single, i),
                                      job.ids.size(), max_len)};
        }
        job.ids.resize(max_len);
      }
      if (typed) job.type_ids.assign(job.ids.size(), 0);
    } else {
      EncodeOptions eo;
      eo.max_length = max_len;
      eo.error_on_truncation = !truncate;
      Result<Encoding> e = in.pair ? tok->EncodePair(in.text, *in.pair, eo)
                                   : tok->Encode(in.text, eo);
      if (!e.ok()) {
        const bool too_long = e.status().code() == StatusCode::kOutOfRange;
        return ApiError{
            too_long ? ErrorKind::kValidation : ErrorKind::kTokenizer,
            fmt::format("{}: {}{}", InputName(field, single, i),
                        e.status().message(),
                        too_long ? " (send \"truncate\": true to cut it to "
                                   "the model's maximum)"
                                 : "")};
      }
      job.ids = std::move(e->ids);
      if (typed) job.type_ids = std::move(e->type_ids);
      out.n_chars += CountCodePoints(in.text);
      if (in.pair) out.n_chars += CountCodePoints(*in.pair);
    }
    if (job.ids.empty()) {
      return ApiError{ErrorKind::kValidation,
                      fmt::format("{}: the input has no tokens",
                                  InputName(field, single, i))};
    }
    out.n_tokens += static_cast<int64_t>(job.ids.size());
    out.jobs.push_back(std::move(job));
  }
  out.tokenization_ms = MsSince(arrival);
  tokenization_seconds->Observe(out.tokenization_ms / 1000);
  return out;
}

std::optional<ApiError> Server::Impl::CheckDimensions(
    const std::optional<int64_t>& dimensions) const {
  if (!dimensions || *dimensions == model.config().d_model) return std::nullopt;
  return ApiError{ErrorKind::kValidation,
                  fmt::format("`dimensions`: the model's embeddings have {} "
                              "dimensions and cannot be shortened, got {}",
                              model.config().d_model, *dimensions)};
}

ApiResult<std::shared_ptr<InferenceRequest>> Server::Impl::Infer(
    const TaskOptions& options, std::vector<SequenceJob> jobs,
    Clock::time_point arrival) {
  auto r = std::make_shared<InferenceRequest>(
      options, std::move(jobs),
      arrival + std::chrono::milliseconds(opt.request_timeout_ms));
  if (!batcher->Submit(r)) {
    return ApiError{ErrorKind::kUnavailable, "the server is shutting down"};
  }
  if (!r->Wait()) {
    return ApiError{ErrorKind::kTimeout,
                    fmt::format("the request was not served within {} ms "
                                "(--request-timeout-ms)",
                                opt.request_timeout_ms)};
  }
  if (!r->status().ok()) {
    return ApiError{ErrorKind::kInternal,
                    "inference failed: " + r->status().ToString()};
  }
  return r;
}

void Server::Impl::AddTimingHeaders(Reply* reply, const TokenizedInputs& in,
                                    const InferenceRequest& r,
                                    Clock::time_point arrival) const {
  auto ms = [](double v) { return fmt::format("{:.3f}", v); };
  reply->headers = {{"x-compute-type", "cpu"},
                    {"x-compute-tokens", std::to_string(in.n_tokens)},
                    {"x-compute-characters", std::to_string(in.n_chars)},
                    {"x-total-time", ms(MsSince(arrival))},
                    {"x-tokenization-time", ms(in.tokenization_ms)},
                    {"x-queue-time", ms(r.queue_ms())},
                    {"x-inference-time", ms(r.inference_ms())}};
}

ApiResult<Reply> Server::Impl::Embed(const httplib::Request& req) {
  const Clock::time_point arrival = Clock::now();
  ApiResult<EmbedRequest> p = ParseEmbedRequest(req.body, limits);
  if (!p.ok()) return p.error();
  if (auto e = CheckDimensions(p->dimensions)) return *e;
  ApiResult<TokenizedInputs> in =
      TokenizeInputs(p->inputs, p->truncate.value_or(opt.auto_truncate),
                     p->single, "inputs", arrival);
  if (!in.ok()) return in.error();
  TaskOptions to{Task::kEmbed, p->normalize, 0};
  auto r = Infer(to, std::move(in->jobs), arrival);
  if (!r.ok()) return r.error();
  json out = json::array();
  for (const SequenceOutput& o : (*r)->outputs()) out.push_back(o.values);
  Reply reply{Dump(out), "application/json", {}};
  AddTimingHeaders(&reply, *in, **r, arrival);
  return reply;
}

ApiResult<Reply> Server::Impl::OpenAiEmbed(const httplib::Request& req) {
  const Clock::time_point arrival = Clock::now();
  ApiResult<OpenAiEmbedRequest> p = ParseOpenAiEmbedRequest(req.body, limits);
  if (!p.ok()) return p.error();
  if (auto e = CheckDimensions(p->dimensions)) return *e;
  // OpenAI's endpoint truncates nothing silently: it rejects long inputs
  // unless the server runs with --auto-truncate.
  ApiResult<TokenizedInputs> in =
      TokenizeInputs(p->inputs, opt.auto_truncate, p->single, "input", arrival);
  if (!in.ok()) return in.error();
  // OpenAI's embeddings are unit length.
  auto r = Infer({Task::kEmbed, true, 0}, std::move(in->jobs), arrival);
  if (!r.ok()) return r.error();
  json data = json::array();
  const auto& outputs = (*r)->outputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::vector<float>& e = outputs[i].values;
    json item = {{"object", "embedding"}};
    if (p->base64) {
      // x86-64 is little-endian: the bytes are the float32 array as is.
      item["embedding"] = Base64Encode(e.data(), e.size() * sizeof(float));
    } else {
      item["embedding"] = e;
    }
    item["index"] = i;
    data.push_back(std::move(item));
  }
  json out = {
      {"object", "list"},
      {"data", std::move(data)},
      {"model", p->model.empty() ? model_name : p->model},
      {"usage",
       {{"prompt_tokens", in->n_tokens}, {"total_tokens", in->n_tokens}}}};
  Reply reply{Dump(out), "application/json", {}};
  AddTimingHeaders(&reply, *in, **r, arrival);
  return reply;
}

ApiResult<Reply> Server::Impl::Predict(const httplib::Request& req) {
  const Clock::time_point arrival = Clock::now();
  if (model.n_labels() == 0) {
    return ApiError{ErrorKind::kUnsupported,
                    "this model has no classification head (use /embed or "
                    "/fill-mask)"};
  }
  ApiResult<PredictRequest> p = ParsePredictRequest(req.body, limits);
  if (!p.ok()) return p.error();
  ApiResult<TokenizedInputs> in =
      TokenizeInputs(p->inputs, p->truncate.value_or(opt.auto_truncate),
                     p->single, "inputs", arrival);
  if (!in.ok()) return in.error();
  auto r = Infer({Task::kClassify, false, 0}, std::move(in->jobs), arrival);
  if (!r.ok()) return r.error();
  json out = json::array();
  for (const SequenceOutput& o : (*r)->outputs()) {
    const std::vector<float>& logits = o.values;
    std::vector<float> scores(logits.size());
    if (p->raw_scores) {
      scores = logits;
    } else if (logits.size() == 1) {
      scores[0] =
          static_cast<float>(1.0 / (1.0 + std::exp(-double(logits[0]))));
    } else {
      const float m = *std::max_element(logits.begin(), logits.end());
      double sum = 0;
      for (const float l : logits) sum += std::exp(double(l) - m);
      for (size_t k = 0; k < logits.size(); ++k) {
        scores[k] = static_cast<float>(std::exp(double(logits[k]) - m) / sum);
      }
    }
    std::vector<size_t> order(scores.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return scores[a] > scores[b]; });
    json preds = json::array();
    for (const size_t k : order) {
      preds.push_back({{"score", scores[k]}, {"label", labels[k]}});
    }
    out.push_back(std::move(preds));
  }
  Reply reply{Dump(p->single ? out[0] : out), "application/json", {}};
  AddTimingHeaders(&reply, *in, **r, arrival);
  return reply;
}

ApiResult<Reply> Server::Impl::FillMask(const httplib::Request& req) {
  const Clock::time_point arrival = Clock::now();
  const int32_t mask = tok->special_ids().mask;
  if (!model.has_mlm_head() || mask < 0) {
    return ApiError{ErrorKind::kUnsupported,
                    model.has_mlm_head()
                        ? "the tokenizer has no mask token"
                        : "this model has no MLM head (a classification "
                          "checkpoint: use /predict)"};
  }
  ApiResult<FillMaskRequest> p = ParseFillMaskRequest(req.body, limits);
  if (!p.ok()) return p.error();
  ApiResult<TokenizedInputs> in =
      TokenizeInputs(p->inputs, p->truncate.value_or(opt.auto_truncate),
                     p->single, "inputs", arrival);
  if (!in.ok()) return in.error();
  for (size_t i = 0; i < in->jobs.size(); ++i) {
    const auto& ids = in->jobs[i].ids;
    if (std::find(ids.begin(), ids.end(), mask) == ids.end()) {
      return ApiError{
          ErrorKind::kValidation,
          fmt::format("{}: no mask token \"{}\" in the input",
                      InputName("inputs", p->single, i), tok->IdToToken(mask))};
    }
  }
  TaskOptions to{Task::kFillMask, false, p->top_k};
  auto r = Infer(to, std::move(in->jobs), arrival);
  if (!r.ok()) return r.error();
  json out = json::array();
  const auto& outputs = (*r)->outputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    const SequenceOutput& o = outputs[i];
    const std::vector<int32_t>& ids = (*r)->sequences()[i].ids;
    const size_t n_masks =
        static_cast<size_t>(std::count(ids.begin(), ids.end(), mask));
    const size_t k = n_masks ? o.ids.size() / n_masks : 0;
    json per_mask = json::array();
    size_t m = 0;
    for (size_t pos = 0; pos < ids.size(); ++pos) {
      if (ids[pos] != mask) continue;
      json preds = json::array();
      std::vector<int32_t> filled = ids;
      for (size_t j = 0; j < k; ++j) {
        const int32_t id = o.ids[m * k + j];
        filled[pos] = id;
        Result<std::string> seq = tok->Decode(filled, true);
        preds.push_back({{"score", o.values[m * k + j]},
                         {"token", id},
                         {"token_str", tok->IdToToken(id)},
                         {"sequence", seq.ok() ? *seq : std::string()}});
      }
      per_mask.push_back(std::move(preds));
      ++m;
    }
    // HF's pipeline: a list of predictions for one mask, a list of such
    // lists for several.
    out.push_back(n_masks == 1 ? per_mask[0] : per_mask);
  }
  Reply reply{Dump(p->single ? out[0] : out), "application/json", {}};
  AddTimingHeaders(&reply, *in, **r, arrival);
  return reply;
}

ApiResult<Reply> Server::Impl::Tokenize(const httplib::Request& req) {
  const Clock::time_point arrival = Clock::now();
  ApiResult<TokenizeRequest> p = ParseTokenizeRequest(req.body, limits);
  if (!p.ok()) return p.error();
  EncodeOptions eo;
  eo.add_special_tokens = p->add_special_tokens;
  json out = json::array();
  for (size_t i = 0; i < p->inputs.size(); ++i) {
    const std::string& text = p->inputs[i];
    Result<Encoding> e = tok->Encode(text, eo);
    if (!e.ok()) {
      return ApiError{ErrorKind::kTokenizer,
                      fmt::format("`inputs`[{}]: {}", i, e.status().message())};
    }
    json tokens = json::array();
    for (size_t k = 0; k < e->ids.size(); ++k) {
      const bool special = e->special_tokens_mask[k] != 0;
      const auto [start, stop] = e->offsets[k];
      tokens.push_back({{"id", e->ids[k]},
                        {"text", special ? tok->IdToToken(e->ids[k])
                                         : text.substr(start, stop - start)},
                        {"special", special},
                        {"start", special ? json() : json(start)},
                        {"stop", special ? json() : json(stop)}});
    }
    out.push_back(std::move(tokens));
  }
  tokenization_seconds->Observe(MsSince(arrival) / 1000);
  return Reply{Dump(out), "application/json", {}};
}

ApiResult<Reply> Server::Impl::Decode(const httplib::Request& req) {
  ApiResult<DecodeRequest> p = ParseDecodeRequest(req.body, limits);
  if (!p.ok()) return p.error();
  json out = json::array();
  for (const auto& ids : p->ids) {
    Result<std::string> s = tok->Decode(ids, p->skip_special_tokens);
    if (!s.ok()) {
      return ApiError{ErrorKind::kTokenizer, s.status().message()};
    }
    out.push_back(*s);
  }
  return Reply{Dump(out), "application/json", {}};
}

Reply Server::Impl::Info() const {
  const ModelConfig& c = model.config();
  json model_type;
  if (model.n_labels() > 0) {
    json id2label = json::object(), label2id = json::object();
    for (size_t i = 0; i < labels.size(); ++i) {
      id2label[std::to_string(i)] = labels[i];
      label2id[labels[i]] = i;
    }
    model_type = {
        {"classifier", {{"id2label", id2label}, {"label2id", label2id}}}};
  } else {
    model_type = {
        {"embedding", {{"pooling", opt.mean_pooling ? "mean" : "cls"}}}};
  }
  json ff;
  if (c.ff_kind == FfKind::kFff) {
    ff = {{"type", "fff"},
          {"trees", c.fff_trees},
          {"depth", c.fff_depth},
          {"visited_per_token", c.fff_trees * (c.fff_depth + 1)}};
  } else if (c.ff_kind == FfKind::kLeafFff) {
    ff = {{"type", "leaf_fff"},
          {"depth", c.leaf_depth},
          {"leaf_width", c.leaf_width},
          {"nonlin", LeafActivationName(c.leaf_activation)}};
  } else {
    ff = {{"type", "dense"}, {"width", c.d_ff}};
  }
  json j = {
      {"model_id", model_name},
      {"model_sha", nullptr},
      {"model_dtype", "float32"},
      {"model_type", model_type},
      {"max_concurrent_requests", opt.max_concurrent_requests},
      {"max_input_length", c.max_seq_length},
      {"max_batch_tokens", opt.max_batch_tokens},
      {"max_batch_requests", opt.max_batch_requests},
      {"max_client_batch_size", opt.max_client_batch_size},
      {"auto_truncate", opt.auto_truncate},
      {"tokenization_workers", opt.http_threads},
      {"version", "fff-0.1.0"},
      {"sha", nullptr},
      {"docker_label", nullptr},
      // fff's own fields
      {"model_dir", model_dir},
      {"architecture",
       {{"family", ModelFamilyName(c.family)},
        {"layers", c.n_layers},
        {"d_model", c.d_model},
        {"heads", c.n_heads},
        {"vocab_size", c.vocab_size},
        {"ff", ff},
        {"parameters", model.n_parameters()}}},
      {"heads",
       {{"mlm", model.has_mlm_head()}, {"n_labels", model.n_labels()}}},
      {"cpu_target", model.cpu_target()},
      {"threads", model.n_threads()},
      {"limits",
       {{"max_body_bytes", opt.max_body_bytes},
        {"request_timeout_ms", opt.request_timeout_ms}}},
  };
  return Reply{Dump(j), "application/json", {}};
}

}  // namespace fff::server
