// The server through HTTP on an ephemeral loopback port with the tiny test
// models: every route's schema, every error path, batching invisible in the
// results, 429 under a burst, timeouts, and graceful shutdown. Every wait is
// bounded (client timeouts, deadlines on polls).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "fff/model.h"
#include "tools/server/server.h"

namespace fff::server {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

const std::string kData = FFF_TEST_DATA_DIR;
const std::string kMlmModel = kData + "/golden/fff-1x3";
const std::string kClsModel = kData + "/golden/cls-fff-zero";

// Holds the batching worker while closed (ServerOptions hook).
class Gate {
 public:
  void Close() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = false;
  }
  void Open() {
    {
      std::lock_guard<std::mutex> l(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void Pass() {
    std::unique_lock<std::mutex> l(mu_);
    ++waiting_;
    cv_.wait(l, [&] { return open_; });
    --waiting_;
  }
  int waiting() {
    std::lock_guard<std::mutex> l(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = true;
  int waiting_ = 0;
};

// Polls `pred` every millisecond for at most 10 s.
template <class F>
bool Eventually(F pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return false;
}

struct Response {
  int status = -1;  // -1: no response (connection error)
  std::string body;
  json j;  // parsed body (discarded when not JSON)
  std::string header(const char* name) const {
    return headers.count(name) ? headers.find(name)->second : "";
  }
  httplib::Headers headers;
};

class TestServer {
 public:
  explicit TestServer(const std::string& dir, ServerOptions opt = {}) {
    opt.port = 0;
    opt.before_batch_for_testing = [this] { gate.Pass(); };
    Result<Model> m = Model::Load(dir);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    Result<std::unique_ptr<Server>> s = Server::Create(std::move(*m), dir, opt);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(*s);
    Result<int> p = server->Start();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    port = *p;
  }
  ~TestServer() {
    gate.Open();
    server->Shutdown();
  }

  Response Request(const std::string& method, const std::string& path,
                   const std::string& body = "") const {
    httplib::Client c("127.0.0.1", port);
    c.set_connection_timeout(5);
    c.set_read_timeout(20);
    c.set_write_timeout(5);
    httplib::Result r = method == "GET"
                            ? c.Get(path.c_str())
                            : c.Post(path.c_str(), body, "application/json");
    Response out;
    if (!r) return out;
    out.status = r->status;
    out.body = r->body;
    out.headers = r->headers;
    out.j = json::parse(r->body, nullptr, false);
    return out;
  }
  Response Post(const std::string& path, const std::string& body) const {
    return Request("POST", path, body);
  }
  Response Get(const std::string& path) const { return Request("GET", path); }

  // Value of an unlabelled or labelled series in /metrics text (-1: absent).
  double Metric(const std::string& series) const {
    const std::string t = server->RenderMetrics();
    const size_t at = t.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(t.substr(at + series.size() + 2));
  }

  Gate gate;
  std::unique_ptr<Server> server;
  int port = 0;
};

void ExpectError(const Response& r, int status, const std::string& type,
                 const std::string& part) {
  EXPECT_EQ(r.status, status) << r.body;
  ASSERT_TRUE(r.j.is_object()) << r.body;
  EXPECT_EQ(r.j.value("error_type", ""), type) << r.body;
  EXPECT_NE(r.j.value("error", "").find(part), std::string::npos)
      << "'" << part << "' missing from: " << r.body;
}

std::vector<float> Floats(const json& j) { return j.get<std::vector<float>>(); }

TEST(ServerHttpTest, HealthInfoMetricsTokenizeDecode) {
  TestServer s(kMlmModel);
  Response h = s.Get("/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_TRUE(h.body.empty());

  Response info = s.Get("/info");
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(info.j["model_id"], "fff-1x3");
  EXPECT_EQ(info.j["max_input_length"], 64);
  EXPECT_EQ(info.j["model_type"]["embedding"]["pooling"], "mean");
  EXPECT_EQ(info.j["architecture"]["ff"]["type"], "fff");
  EXPECT_EQ(info.j["architecture"]["ff"]["depth"], 3);
  EXPECT_FALSE(info.j["cpu_target"].get<std::string>().empty());

  Response t = s.Post("/tokenize", R"({"inputs": "the man went"})");
  ASSERT_EQ(t.status, 200) << t.body;
  ASSERT_TRUE(t.j.is_array() && t.j.size() == 1);
  const json& toks = t.j[0];
  ASSERT_GE(toks.size(), 2u);
  for (const json& tok : toks) {
    ASSERT_TRUE(tok.contains("id") && tok.contains("text") &&
                tok.contains("special"));
    if (tok["special"].get<bool>()) {
      EXPECT_TRUE(tok["start"].is_null());
    } else {
      const size_t a = tok["start"], b = tok["stop"];
      EXPECT_EQ(tok["text"], std::string("the man went").substr(a, b - a));
    }
  }
  EXPECT_TRUE(toks.back()["special"].get<bool>());  // "$A <sep>"
  Response t2 = s.Post(
      "/tokenize",
      R"({"inputs": ["the man went", "x"], "add_special_tokens": false})");
  ASSERT_EQ(t2.status, 200);
  ASSERT_EQ(t2.j.size(), 2u);
  EXPECT_EQ(t2.j[0].size(), toks.size() - 1);

  std::vector<int> ids;
  for (const json& tok : toks) ids.push_back(tok["id"]);
  Response d = s.Post("/decode", json({{"ids", ids}}).dump());
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.j, json::array({"the man went"}));

  Response m = s.Get("/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.header("Content-Type").find("text/plain"), std::string::npos);
  for (const char* name :
       {"fff_requests_total{route=\"tokenize\"} 2", "fff_in_flight_requests",
        "fff_queue_size", "fff_batch_size_bucket", "fff_batch_tokens_bucket",
        "fff_tokens_per_second", "fff_request_duration_seconds_bucket",
        "fff_queue_duration_seconds", "fff_inference_duration_seconds",
        "fff_request_errors_total{error_type=\"overloaded\",status=\"429\"}"}) {
    EXPECT_NE(m.body.find(name), std::string::npos) << name;
  }
}

TEST(ServerHttpTest, EmbedMatchesTheLibraryBitForBit) {
  TestServer s(kMlmModel);
  Result<Model> ref = Model::Load(kMlmModel);
  ASSERT_TRUE(ref.ok());
  const std::vector<std::string> texts = {"the man went to the store .", "a",
                                          "", "x y z w"};
  for (const bool normalize : {true, false}) {
    Response r = s.Post(
        "/embed", json({{"inputs", texts}, {"normalize", normalize}}).dump());
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.j.size(), texts.size());
    EXPECT_FALSE(r.header("x-compute-tokens").empty());
    for (size_t i = 0; i < texts.size(); ++i) {
      Result<Encoding> e = ref->tokenizer()->Encode(texts[i]);
      ASSERT_TRUE(e.ok());
      std::vector<std::span<const int32_t>> seqs = {e->ids};
      std::vector<float> want;
      ASSERT_TRUE(ref->Embed(seqs, true, normalize, &want).ok());
      const std::vector<float> got = Floats(r.j[i]);
      ASSERT_EQ(got.size(), want.size());
      EXPECT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * 4))
          << "input " << i << " normalize " << normalize;
    }
  }
  // A single string and pre-tokenized ids give the same embedding.
  Result<Encoding> e = ref->tokenizer()->Encode(texts[0]);
  Response single = s.Post("/embed", json({{"inputs", texts[0]}}).dump());
  Response ids = s.Post("/embed", json({{"inputs", e->ids}}).dump());
  ASSERT_EQ(single.status, 200);
  ASSERT_EQ(ids.status, 200) << ids.body;
  EXPECT_EQ(single.j, ids.j);
  EXPECT_EQ(single.j.size(), 1u);  // TEI: always a list
}

TEST(ServerHttpTest, OpenAiEmbeddings) {
  TestServer s(kMlmModel);
  Response r =
      s.Post("/v1/embeddings",
             R"({"input": ["hello there", "b"], "model": "my-model"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.j["object"], "list");
  EXPECT_EQ(r.j["model"], "my-model");
  ASSERT_EQ(r.j["data"].size(), 2u);
  EXPECT_EQ(r.j["data"][1]["object"], "embedding");
  EXPECT_EQ(r.j["data"][1]["index"], 1);
  // usage counts the tokens /tokenize reports.
  Response t = s.Post("/tokenize", R"({"inputs": ["hello there", "b"]})");
  const size_t n_tokens = t.j[0].size() + t.j[1].size();
  EXPECT_EQ(r.j["usage"]["prompt_tokens"], n_tokens);
  EXPECT_EQ(r.j["usage"]["total_tokens"], n_tokens);
  // Unit length, equal to /embed with normalize.
  const std::vector<float> e0 = Floats(r.j["data"][0]["embedding"]);
  double norm = 0;
  for (float v : e0) norm += double(v) * v;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  Response tei = s.Post("/embed", R"({"inputs": "hello there"})");
  EXPECT_EQ(tei.j[0], r.j["data"][0]["embedding"]);
  // base64: the same float32 bytes.
  Response b =
      s.Post("/v1/embeddings",
             R"({"input": "hello there", "encoding_format": "base64"})");
  ASSERT_EQ(b.status, 200) << b.body;
  const std::string b64 = b.j["data"][0]["embedding"];
  EXPECT_EQ(b64.size(), (e0.size() * 4 + 2) / 3 * 4);
  EXPECT_EQ(b.j["model"], "fff-1x3");
  // Errors in OpenAI's shape.
  Response bad = s.Post("/v1/embeddings", R"({"input": []})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.j["error"]["type"], "empty");
  EXPECT_EQ(bad.j["error"]["code"], 400);
}

TEST(ServerHttpTest, FillMaskShapes) {
  TestServer s(kMlmModel);
  Response one = s.Post(
      "/fill-mask",
      R"({"inputs": "the man went to the <mask> .", "parameters": {"top_k": 3}})");
  ASSERT_EQ(one.status, 200) << one.body;
  ASSERT_TRUE(one.j.is_array());
  ASSERT_EQ(one.j.size(), 3u);
  double prev = 2;
  for (const json& p : one.j) {
    EXPECT_TRUE(p.contains("token") && p.contains("token_str") &&
                p.contains("sequence"));
    const double score = p["score"];
    EXPECT_LE(score, prev);
    EXPECT_GT(score, 0);
    prev = score;
    EXPECT_EQ(p["sequence"].get<std::string>().find("<mask>"),
              std::string::npos);
  }
  Response two =
      s.Post("/fill-mask", R"({"inputs": ["<mask> b <mask>", "a <mask>"]})");
  ASSERT_EQ(two.status, 200) << two.body;
  ASSERT_EQ(two.j.size(), 2u);
  ASSERT_EQ(two.j[0].size(), 2u);     // two masks: a list per mask
  EXPECT_EQ(two.j[0][0].size(), 5u);  // default top_k
  EXPECT_EQ(two.j[1].size(), 5u);     // one mask: the predictions
  ExpectError(s.Post("/fill-mask", R"({"inputs": ["a <mask>", "no mask"]})"),
              422, "validation", "`inputs`[1]: no mask token");
}

TEST(ServerHttpTest, PredictOnAClassifier) {
  TestServer s(kClsModel);
  Response info = s.Get("/info");
  ASSERT_EQ(info.j["model_type"]["classifier"]["id2label"].size(), 2u);
  Response one = s.Post("/predict", R"({"inputs": "a fine movie"})");
  ASSERT_EQ(one.status, 200) << one.body;
  ASSERT_EQ(one.j.size(), 2u);
  const double p0 = one.j[0]["score"], p1 = one.j[1]["score"];
  EXPECT_GE(p0, p1);
  EXPECT_NEAR(p0 + p1, 1.0, 1e-6);
  EXPECT_TRUE(one.j[0]["label"] == "LABEL_0" || one.j[0]["label"] == "LABEL_1");
  Response raw =
      s.Post("/predict", R"({"inputs": "a fine movie", "raw_scores": true})");
  ASSERT_EQ(raw.status, 200);
  EXPECT_EQ(raw.j[0]["label"], one.j[0]["label"]);
  Response batch = s.Post(
      "/predict", R"({"inputs": [["a fine movie"], ["first", "second"]]})");
  ASSERT_EQ(batch.status, 200) << batch.body;
  ASSERT_EQ(batch.j.size(), 2u);
  EXPECT_EQ(batch.j[0], one.j);
  Response pair = s.Post("/predict", R"({"inputs": ["first", "second"]})");
  EXPECT_EQ(pair.j, batch.j[1]);
  // The classifier has no MLM head.
  ExpectError(s.Post("/fill-mask", R"({"inputs": "a <mask>"})"), 424,
              "unsupported", "no MLM head");
}

TEST(ServerHttpTest, LabelsComeFromConfigId2Label) {
  TestServer s(FFF_DEFAULT_MODEL_DIR);  // the shipped SST-2 model
  Response info = s.Get("/info");
  EXPECT_EQ(info.j["model_type"]["classifier"]["id2label"],
            json({{"0", "negative"}, {"1", "positive"}}));
  Response good =
      s.Post("/predict", R"({"inputs": "a gorgeous, witty movie"})");
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(good.j[0]["label"], "positive");
  Response bad = s.Post("/predict", R"({"inputs": "a dull, boring mess"})");
  EXPECT_EQ(bad.j[0]["label"], "negative");
}

TEST(ServerHttpTest, EveryErrorPath) {
  ServerOptions o;
  o.max_client_batch_size = 3;
  o.max_body_bytes = 4096;
  TestServer s(kMlmModel, o);
  ExpectError(s.Post("/embed", "{not json"), 422, "validation",
              "not valid JSON");
  ExpectError(s.Post("/embed", R"({"inputs": 3})"), 422, "validation",
              "`inputs`");
  ExpectError(s.Post("/embed", R"({"inputs": "a", "normalize": 1})"), 422,
              "validation", "`normalize`");
  ExpectError(s.Post("/embed", R"({"inputs": []})"), 400, "empty",
              "cannot be empty");
  ExpectError(s.Post("/embed", R"({"inputs": ["a","b","c","d"]})"), 413,
              "payload_too_large",
              "batch size 4 > maximum allowed batch size 3");
  ExpectError(
      s.Post("/embed", "{\"inputs\": \"" + std::string(5000, 'a') + "\"}"), 413,
      "payload_too_large", "larger than 4096 bytes");
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  ExpectError(s.Post("/embed", json({{"inputs", long_text}}).dump()), 422,
              "validation", "truncate");
  Response cut = s.Post(
      "/embed", json({{"inputs", long_text}, {"truncate", true}}).dump());
  EXPECT_EQ(cut.status, 200) << cut.body;
  ExpectError(s.Post("/embed", R"({"inputs": [1, 2, 99999]})"), 422,
              "validation",
              "token id 99999 is outside the vocabulary [0, 1536)");
  ExpectError(s.Post("/embed", R"({"inputs": "a", "dimensions": 7})"), 422,
              "validation", "`dimensions`");
  ExpectError(
      s.Post("/embed", R"({"inputs": "a", "truncation_direction": "Left"})"),
      422, "validation", "Left");
  ExpectError(s.Post("/predict", R"({"inputs": "a"})"), 424, "unsupported",
              "no classification head");
  ExpectError(s.Post("/fill-mask", R"({"inputs": "no mask"})"), 422,
              "validation", "no mask token");
  ExpectError(s.Get("/nope"), 404, "not_found", "no route GET /nope");
  ExpectError(s.Get("/embed"), 405, "method_not_allowed", "takes POST");
  ExpectError(s.Post("/health", "{}"), 405, "method_not_allowed", "takes GET");
  std::string deep(64, '[');
  ExpectError(s.Post("/embed", "{\"inputs\": " + deep + "}"), 422, "validation",
              "nested");
  // Errors are counted by type.
  EXPECT_EQ(s.Metric("fff_request_errors_total{error_type=\"payload_too_"
                     "large\",status=\"413\"}"),
            2);
  EXPECT_EQ(
      s.Metric(
          "fff_request_errors_total{error_type=\"not_found\",status=\"404\"}"),
      1);
  EXPECT_EQ(s.Metric("fff_request_errors_total{error_type=\"method_not_"
                     "allowed\",status=\"405\"}"),
            2);
  // The server still serves after all that.
  EXPECT_EQ(s.Post("/embed", R"({"inputs": "fine"})").status, 200);
}

// Texts of different lengths, so batches mix sequence lengths.
std::vector<std::string> Texts(int n) {
  std::vector<std::string> t;
  const char* words[] = {"the",   "man", "went", "to",
                         "store", "a",   "big",  "red"};
  for (int i = 0; i < n; ++i) {
    std::string s;
    for (int k = 0; k <= (i * 7) % 23; ++k)
      s += std::string(words[(i + k) % 8]) + " ";
    t.push_back(s);
  }
  return t;
}

// Requests answered alone, then the same requests held and released
// together so that they share batches: identical response bytes.
//
// The held phase waits on exact state, not on timing: request 0 is posted
// first and held in the worker (its batch is then exactly its own
// sequences), then the others are posted together and the test waits until
// the worker's queue holds every one of their sequences (counted from the
// alone phase, where each request ran as its own batch). A request counted
// as active may still be parsing or tokenizing on its HTTP thread, so
// waiting for active_requests alone let a slow request miss the second
// batch under CPU contention (a third batch, seen under ASan).
void ExpectBatchingInvisible(const std::string& dir, const std::string& path,
                             const std::vector<std::string>& bodies) {
  ASSERT_GE(bodies.size(), 2u);
  TestServer s(dir);
  std::vector<std::string> alone;
  std::vector<double> sequences;  // per request, from its own batch
  for (const std::string& b : bodies) {
    const double before = s.Metric("fff_batch_size_sum");
    Response r = s.Post(path, b);
    ASSERT_EQ(r.status, 200) << r.body;
    alone.push_back(r.body);
    sequences.push_back(s.Metric("fff_batch_size_sum") - before);
    ASSERT_GE(sequences.back(), 1) << "request " << alone.size() - 1;
  }
  double rest = 0;  // sequences of requests 1..n-1
  for (size_t i = 1; i < sequences.size(); ++i) rest += sequences[i];
  const double batches_before = s.Metric("fff_batches_total");
  s.gate.Close();
  std::vector<std::future<Response>> futures;
  auto post = [&](size_t i) {
    futures.push_back(std::async(std::launch::async, [&s, path, &bodies, i] {
      return s.Post(path, bodies[i]);
    }));
  };
  post(0);
  ASSERT_TRUE(Eventually([&] { return s.gate.waiting() == 1; }));
  for (size_t i = 1; i < bodies.size(); ++i) post(i);
  // Every other request's sequences queued behind the held batch.
  ASSERT_TRUE(Eventually([&] { return s.Metric("fff_queue_size") == rest; }))
      << "queued " << s.Metric("fff_queue_size") << " of " << rest;
  EXPECT_EQ(s.server->active_requests(), static_cast<int>(bodies.size()));
  s.gate.Open();
  for (size_t i = 0; i < bodies.size(); ++i) {
    Response r = futures[i].get();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, alone[i]) << path << " request " << i;
  }
  // They did share a batch: the held one, then all the others together.
  const double batches = s.Metric("fff_batches_total") - batches_before;
  EXPECT_EQ(batches, 2) << "the held request, then one batch of the rest";
}

TEST(ServerHttpTest, BatchingIsInvisibleForEmbed) {
  std::vector<std::string> bodies;
  const auto texts = Texts(12);
  for (size_t i = 0; i < texts.size(); ++i) {
    bodies.push_back(
        json({{"inputs",
               i % 3 ? json(texts[i]) : json({texts[i], texts[(i + 5) % 12]})},
              {"normalize", true}})
            .dump());
  }
  ExpectBatchingInvisible(kMlmModel, "/embed", bodies);
}

TEST(ServerHttpTest, BatchingIsInvisibleForFillMask) {
  std::vector<std::string> bodies;
  for (const std::string& t : Texts(10)) {
    bodies.push_back(
        json({{"inputs", t + " <mask> ."}, {"parameters", {{"top_k", 4}}}})
            .dump());
  }
  ExpectBatchingInvisible(kMlmModel, "/fill-mask", bodies);
}

TEST(ServerHttpTest, BatchingIsInvisibleForPredict) {
  std::vector<std::string> bodies;
  const auto texts = Texts(10);
  for (size_t i = 0; i < texts.size(); ++i) {
    bodies.push_back(json({{"inputs", i % 2 ? json(texts[i])
                                            : json({texts[i], texts[9 - i]})}})
                         .dump());
  }
  ExpectBatchingInvisible(kClsModel, "/predict", bodies);
}

// HF BERT with token types: pairs carry type ids 1 through the server.
TEST(ServerHttpTest, BatchingIsInvisibleForHfBertPairs) {
  const fs::path dir = fs::temp_directory_path() /
                       ("fff_server_hf_bert_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::copy_file(kData + "/golden/hf-bert-cls/config.json", dir / "config.json",
                fs::copy_options::overwrite_existing);
  fs::copy_file(kData + "/golden/hf-bert-cls/model.safetensors",
                dir / "model.safetensors",
                fs::copy_options::overwrite_existing);
  std::ifstream in(kData + "/tiny/tokenizer.json");
  json tok = json::parse(in);
  for (json& piece : tok["post_processor"]["pair"]) {
    if (piece.contains("Sequence") && piece["Sequence"]["id"] == "B") {
      piece["Sequence"]["type_id"] = 1;
    }
  }
  std::ofstream(dir / "tokenizer.json") << tok.dump();
  std::vector<std::string> bodies;
  const auto texts = Texts(8);
  for (size_t i = 0; i < texts.size(); ++i) {
    bodies.push_back(json({{"inputs", {texts[i], texts[7 - i]}}}).dump());
  }
  ExpectBatchingInvisible(dir.string(), "/predict", bodies);
  fs::remove_all(dir);
}

TEST(ServerHttpTest, BurstAboveTheLimitGets429AndNothingIsLost) {
  ServerOptions o;
  o.max_concurrent_requests = 3;
  TestServer s(kMlmModel, o);
  s.gate.Close();
  // Fill the server: 3 admitted requests, held in the worker or its queue.
  std::vector<std::future<Response>> admitted;
  for (int i = 0; i < 3; ++i) {
    admitted.push_back(std::async(std::launch::async, [&s, i] {
      return s.Post("/embed",
                    json({{"inputs", "text " + std::to_string(i)}}).dump());
    }));
  }
  // Admitted (counted in flight), not merely arrived (active_requests counts
  // a request before admission).
  ASSERT_TRUE(
      Eventually([&] { return s.Metric("fff_in_flight_requests") == 3; }));
  // A burst of 20 more, in parallel: each answered 429 at once (the worker
  // is still held, so nothing else could answer them).
  std::vector<std::future<Response>> burst;
  for (int i = 0; i < 20; ++i) {
    burst.push_back(std::async(std::launch::async, [&s] {
      return s.Post("/embed", R"({"inputs": "burst"})");
    }));
  }
  for (auto& f : burst) {
    Response r = f.get();
    ExpectError(r, 429, "overloaded", "--max-concurrent-requests");
    EXPECT_EQ(r.header("Retry-After"), "1");
  }
  // Routes without the model are not limited.
  EXPECT_EQ(s.Post("/tokenize", R"({"inputs": "x"})").status, 200);
  EXPECT_EQ(s.Get("/health").status, 200);
  s.gate.Open();
  for (auto& f : admitted) EXPECT_EQ(f.get().status, 200);
  // Exactly one answer per request: 3 successes, 20 rejections.
  EXPECT_EQ(s.Metric("fff_requests_total{route=\"embed\"}"), 23);
  EXPECT_EQ(s.Metric("fff_requests_success_total{route=\"embed\"}"), 3);
  EXPECT_EQ(
      s.Metric(
          "fff_request_errors_total{error_type=\"overloaded\",status=\"429\"}"),
      20);
  EXPECT_EQ(s.Metric("fff_in_flight_requests"), 0);
  // After the burst the server admits again.
  EXPECT_EQ(s.Post("/embed", R"({"inputs": "after"})").status, 200);
}

TEST(ServerHttpTest, AConnectionIgnoringRetryAfterIsPaused) {
  ServerOptions o;
  o.max_concurrent_requests = 1;
  o.retry_pause_ms = 200;
  TestServer s(kMlmModel, o);
  s.gate.Close();
  auto held = std::async(std::launch::async, [&] {
    return s.Post("/embed", R"({"inputs": "held"})");
  });
  ASSERT_TRUE(
      Eventually([&] { return s.Metric("fff_in_flight_requests") == 1; }));
  // One keep-alive connection retrying at once: its first 429 is not
  // paused, the second (sooner than Retry-After: 1) is.
  httplib::Client c("127.0.0.1", s.port);
  c.set_keep_alive(true);
  c.set_read_timeout(20);
  auto first = c.Post("/embed", R"({"inputs": "x"})", "application/json");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 429);
  EXPECT_EQ(s.Metric("fff_retry_pauses_total"), 0);
  const auto t0 = std::chrono::steady_clock::now();
  auto second = c.Post("/embed", R"({"inputs": "x"})", "application/json");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 429);
  EXPECT_GE(std::chrono::steady_clock::now() - t0,
            std::chrono::milliseconds(200));
  EXPECT_EQ(s.Metric("fff_retry_pauses_total"), 1);
  // Other connections' first 429s are not paused.
  for (int i = 0; i < 3; ++i)
    ExpectError(s.Post("/embed", R"({"inputs": "y"})"), 429, "overloaded", "");
  EXPECT_EQ(s.Metric("fff_retry_pauses_total"), 1);
  s.gate.Open();
  EXPECT_EQ(held.get().status, 200);
}

TEST(ServerHttpTest, ManyClientsRandomRequestsAllServedCorrectly) {
  ServerOptions o;
  o.max_batch_tokens = 256;
  o.max_batch_requests = 8;
  TestServer s(kMlmModel, o);
  const auto texts = Texts(16);
  std::vector<std::string> want;
  for (const std::string& t : texts) {
    want.push_back(s.Post("/embed", json({{"inputs", t}}).dump()).body);
  }
  std::atomic<int> wrong{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 6; ++c) {
    clients.emplace_back([&, c] {
      for (int r = 0; r < 15; ++r) {
        // 1..4 inputs per request; response i must equal input i alone.
        const int n = 1 + (c + r) % 4;
        std::vector<int> which;
        json inputs = json::array();
        for (int k = 0; k < n; ++k) {
          which.push_back((c * 5 + r * 3 + k) % 16);
          inputs.push_back(texts[which.back()]);
        }
        Response resp = s.Post("/embed", json({{"inputs", inputs}}).dump());
        if (resp.status != 200 || resp.j.size() != which.size()) {
          ++wrong;
          continue;
        }
        for (int k = 0; k < n; ++k) {
          if (json::array({resp.j[k]}) != json::parse(want[which[k]])) ++wrong;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(s.Metric("fff_requests_success_total{route=\"embed\"}"),
            16 + 6 * 15);
}

TEST(ServerHttpTest, RequestTimeoutAnswers504AndTheServerRecovers) {
  ServerOptions o;
  o.request_timeout_ms = 100;
  TestServer s(kMlmModel, o);
  s.gate.Close();
  // The first request reaches the (held) worker; the second stays queued.
  auto first = std::async(std::launch::async, [&] {
    return s.Post("/embed", R"({"inputs": "one"})");
  });
  ASSERT_TRUE(Eventually([&] { return s.gate.waiting() == 1; }));
  auto second = std::async(std::launch::async, [&] {
    return s.Post("/embed", R"({"inputs": "two"})");
  });
  ExpectError(first.get(), 504, "timeout", "100 ms");
  ExpectError(second.get(), 504, "timeout", "--request-timeout-ms");
  s.gate.Open();
  Response ok = s.Post("/embed", R"({"inputs": "three"})");
  EXPECT_EQ(ok.status, 200) << ok.body;
  // The queued one was dropped unrun: only the held batch and the last ran.
  ASSERT_TRUE(Eventually([&] { return s.Metric("fff_batches_total") == 2; }));
  EXPECT_EQ(
      s.Metric(
          "fff_request_errors_total{error_type=\"timeout\",status=\"504\"}"),
      2);
}

TEST(ServerHttpTest, ShutdownFinishesAcceptedRequestsAndRefusesNewOnes) {
  TestServer s(kMlmModel);
  s.gate.Close();
  std::vector<std::future<Response>> accepted;
  auto post = [&](int i) {
    accepted.push_back(std::async(std::launch::async, [&s, i] {
      return s.Post("/embed",
                    json({{"inputs", "accepted " + std::to_string(i)}}).dump());
    }));
  };
  // Accepted means past admission and in the batcher: the first request
  // held in the worker, then the other three queued (active_requests alone
  // also counts a request that has not yet passed the draining check).
  post(0);
  ASSERT_TRUE(Eventually([&] { return s.gate.waiting() == 1; }));
  for (int i = 1; i < 4; ++i) post(i);
  ASSERT_TRUE(Eventually([&] { return s.Metric("fff_queue_size") == 3; }));
  auto stopping = std::async(std::launch::async, [&] { s.server->Shutdown(); });
  ASSERT_TRUE(Eventually([&] { return s.server->draining(); }));
  // New requests are refused while the accepted ones are still held.
  ExpectError(s.Post("/embed", R"({"inputs": "late"})"), 503, "unhealthy",
              "shutting down");
  ExpectError(s.Get("/health"), 503, "unhealthy", "shutting down");
  EXPECT_EQ(stopping.wait_for(std::chrono::milliseconds(50)),
            std::future_status::timeout)
      << "Shutdown returned while requests were in flight";
  s.gate.Open();
  for (auto& f : accepted) {
    Response r = f.get();
    EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.j.size(), 1u);
  }
  ASSERT_EQ(stopping.wait_for(std::chrono::seconds(15)),
            std::future_status::ready);
  // Stopped: nothing listens any more.
  EXPECT_EQ(s.Get("/health").status, -1);
}

TEST(ServerHttpTest, CreateRejectsBadOptions) {
  Result<Model> m = Model::Load(kMlmModel);
  ASSERT_TRUE(m.ok());
  ServerOptions o;
  o.max_batch_tokens = 10;  // < max_seq_length 64
  Result<std::unique_ptr<Server>> s =
      Server::Create(std::move(*m), kMlmModel, o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("--max-batch-tokens"), std::string::npos);
  EXPECT_NE(s.status().message().find("64"), std::string::npos);

  ModelOptions no_tok;
  no_tok.load_tokenizer = false;
  Result<Model> m2 = Model::Load(kMlmModel, no_tok);
  ASSERT_TRUE(m2.ok());
  s = Server::Create(std::move(*m2), kMlmModel, ServerOptions{});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("tokenizer"), std::string::npos);
}

TEST(ServerHttpTest, PortInUseIsAnError) {
  TestServer a(kMlmModel);
  Result<Model> m = Model::Load(kMlmModel);
  ASSERT_TRUE(m.ok());
  ServerOptions o;
  o.port = a.port;
  auto b = Server::Create(std::move(*m), kMlmModel, o);
  ASSERT_TRUE(b.ok());
  Result<int> p = (*b)->Start();
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find(std::to_string(a.port)),
            std::string::npos);
}

}  // namespace
}  // namespace fff::server
