#include "tools/cli/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <random>

#include "fff/model.h"
#include "fff/routing.h"
#include "fff/tokenizer.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/synth.h"

namespace fff::cli {
namespace {

std::vector<float> Softmax(const float* x, int64_t n) {
  std::vector<float> p(static_cast<size_t>(n));
  const float m = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += p[i] = std::exp(x[i] - m);
  for (float& v : p) v = static_cast<float>(v / sum);
  return p;
}

}  // namespace

Status RunFillMask(const CommonOptions& o, int top_k) {
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, nullptr));
  if (!m.has_mlm_head()) {
    return Status(StatusCode::kFailedPrecondition,
                  "this checkpoint has no MLM head (a classification "
                  "checkpoint): use `fff classify`");
  }
  const Tokenizer& tok = *m.tokenizer();
  const int32_t mask = tok.special_ids().mask;
  if (mask < 0) {
    return NotFoundError("the tokenizer has no mask token");
  }
  const std::vector<std::string> texts = ReadTexts(o);
  Progress progress(texts.size());
  const int64_t d = m.config().d_model;
  const int64_t v = m.config().vocab_size;
  for (size_t start = 0; start < texts.size(); start += o.batch_size) {
    const size_t end = std::min(texts.size(), start + o.batch_size);
    std::vector<Encoding> enc;
    std::vector<std::span<const int32_t>> seqs;
    for (size_t i = start; i < end; ++i) {
      FFF_ASSIGN_OR_RETURN(Encoding e, EncodeText(tok, m, o, i, texts[i], nullptr));
      if (std::find(e.ids.begin(), e.ids.end(), mask) == e.ids.end()) {
        return InvalidArgumentError(fmt::format(
            "text {}: no mask token \"{}\" in the input", i + 1,
            tok.IdToToken(mask)));
      }
      enc.push_back(std::move(e));
    }
    for (const Encoding& e : enc) seqs.emplace_back(e.ids);
    std::vector<float> hidden;
    const auto types = TypeIds(m, enc);
    FFF_RETURN_IF_ERROR(m.Encode(seqs, &hidden, nullptr, types));
    // Gather the rows at mask positions, one MLM call for the batch.
    std::vector<float> rows;
    std::vector<std::pair<size_t, size_t>> where;  // (text, position)
    size_t base = 0;
    for (size_t k = 0; k < enc.size(); ++k) {
      for (size_t p = 0; p < enc[k].ids.size(); ++p) {
        if (enc[k].ids[p] != mask) continue;
        const float* r = hidden.data() + (base + p) * d;
        rows.insert(rows.end(), r, r + d);
        where.emplace_back(k, p);
      }
      base += enc[k].ids.size();
    }
    std::vector<float> logits;
    FFF_RETURN_IF_ERROR(m.MlmLogits(
        MatrixView<const float>(std::span<const float>(rows),
                                static_cast<int64_t>(where.size()), d),
        &logits));
    std::vector<json> out(enc.size());
    for (size_t k = 0; k < enc.size(); ++k) {
      out[k] = {{"text", texts[start + k]}, {"masks", json::array()}};
    }
    for (size_t q = 0; q < where.size(); ++q) {
      const std::vector<float> p = Softmax(logits.data() + q * v, v);
      std::vector<int32_t> ids(static_cast<size_t>(v));
      std::iota(ids.begin(), ids.end(), 0);
      const int k = std::min<int>(top_k, static_cast<int>(v));
      std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                        [&](int32_t a, int32_t b) {
                          return p[a] > p[b] || (p[a] == p[b] && a < b);
                        });
      json preds = json::array();
      for (int i = 0; i < k; ++i) {
        const std::string token = tok.IdToToken(ids[i]);
        preds.push_back({{"id", ids[i]},
                         {"token", token.empty() ? json() : json(token)},
                         {"score", p[ids[i]]}});
      }
      const auto [text, pos] = where[q];
      out[text]["masks"].push_back(
          {{"position", pos}, {"predictions", std::move(preds)}});
    }
    for (const json& j : out) PrintLine(j);
    progress.Update(end);
  }
  return Status::Ok();
}

Status RunClassify(const CommonOptions& o, const std::string& pair_separator) {
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, nullptr));
  if (m.n_labels() == 0) {
    return Status(StatusCode::kFailedPrecondition,
                  "this checkpoint has no classification head (no head.weight "
                  "tensor): use `fff fill-mask` or `fff embed`");
  }
  const Tokenizer& tok = *m.tokenizer();
  const std::vector<std::string> texts = ReadTexts(o);
  Progress progress(texts.size());
  const int64_t n_labels = m.n_labels();
  for (size_t start = 0; start < texts.size(); start += o.batch_size) {
    const size_t end = std::min(texts.size(), start + o.batch_size);
    std::vector<Encoding> enc;
    for (size_t i = start; i < end; ++i) {
      std::optional<std::string> a, b;
      const size_t cut =
          pair_separator.empty() ? std::string::npos : texts[i].find(pair_separator);
      if (cut != std::string::npos) {
        a = texts[i].substr(0, cut);
        b = texts[i].substr(cut + pair_separator.size());
      } else {
        a = texts[i];
      }
      FFF_ASSIGN_OR_RETURN(Encoding e,
                           EncodeText(tok, m, o, i, *a, b ? &*b : nullptr));
      enc.push_back(std::move(e));
    }
    std::vector<std::span<const int32_t>> seqs;
    for (const Encoding& e : enc) seqs.emplace_back(e.ids);
    std::vector<float> logits;
    FFF_RETURN_IF_ERROR(m.Classify(seqs, &logits, TypeIds(m, enc)));
    for (size_t k = 0; k < enc.size(); ++k) {
      const float* l = logits.data() + k * n_labels;
      json j = {{"text", texts[start + k]},
                {"logits", std::vector<float>(l, l + n_labels)}};
      if (n_labels == 1) {
        j["score"] = l[0];
      } else {
        const std::vector<float> p = Softmax(l, n_labels);
        j["probs"] = p;
        j["label"] = std::max_element(p.begin(), p.end()) - p.begin();
      }
      PrintLine(j);
    }
    progress.Update(end);
  }
  return Status::Ok();
}

Status RunEmbed(const CommonOptions& o, bool mean, bool normalize) {
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, nullptr));
  const Tokenizer& tok = *m.tokenizer();
  const std::vector<std::string> texts = ReadTexts(o);
  Progress progress(texts.size());
  const int64_t d = m.config().d_model;
  for (size_t start = 0; start < texts.size(); start += o.batch_size) {
    const size_t end = std::min(texts.size(), start + o.batch_size);
    std::vector<Encoding> enc;
    for (size_t i = start; i < end; ++i) {
      FFF_ASSIGN_OR_RETURN(Encoding e, EncodeText(tok, m, o, i, texts[i], nullptr));
      enc.push_back(std::move(e));
    }
    std::vector<std::span<const int32_t>> seqs;
    for (const Encoding& e : enc) seqs.emplace_back(e.ids);
    std::vector<float> emb;
    FFF_RETURN_IF_ERROR(m.Embed(seqs, mean, normalize, &emb, TypeIds(m, enc)));
    for (size_t k = 0; k < enc.size(); ++k) {
      const float* e = emb.data() + k * d;
      PrintLine({{"text", texts[start + k]},
                 {"embedding", std::vector<float>(e, e + d)}});
    }
    progress.Update(end);
  }
  return Status::Ok();
}

Status RunTokenize(const CommonOptions& o) {
  FFF_ASSIGN_OR_RETURN(std::string dir, ResolveModelDir(o, false));
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path tj = fs::path(dir) / "tokenizer.json";
  Result<Tokenizer> tr =
      fs::exists(tj, ec) ? Tokenizer::FromTokenizerJson(tj.string())
                         : Tokenizer::FromVocabTxt((fs::path(dir) / "vocab.txt").string());
  if (!tr.ok()) return tr.status();
  const Tokenizer& tok = *tr;
  const std::vector<std::string> texts = ReadTexts(o);
  for (size_t i = 0; i < texts.size(); ++i) {
    EncodeOptions eo;
    Result<Encoding> r = tok.Encode(texts[i], eo);
    if (!r.ok()) {
      return Status(r.status().code(),
                    fmt::format("text {}: {}", i + 1, r.status().message()));
    }
    json tokens = json::array(), offsets = json::array();
    for (size_t k = 0; k < r->ids.size(); ++k) {
      tokens.push_back(tok.IdToToken(r->ids[k]));
      offsets.push_back({r->offsets[k].first, r->offsets[k].second});
    }
    PrintLine({{"text", texts[i]},
               {"ids", r->ids},
               {"tokens", tokens},
               {"type_ids", r->type_ids},
               {"offsets", offsets}});
  }
  return Status::Ok();
}

Status RunInfo(const CommonOptions& o) {
  std::string dir;
  // Loads the tokenizer when the folder has one, but does not require it.
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, &dir, /*need_tokenizer=*/false));
  const ModelConfig& c = m.config();
  json j = {
      {"model", dir},
      {"synthetic", IsSynthetic(dir)},
      {"family", ModelFamilyName(c.family)},
      {"layers", c.n_layers},
      {"d_model", c.d_model},
      {"heads", c.n_heads},
      {"vocab_size", c.vocab_size},
      {"max_seq_length", c.max_seq_length},
      {"parameters", m.n_parameters()},
      {"threads", m.n_threads()},
      {"load_ms", std::round(m.load_ms())},
      {"mlm_head", m.has_mlm_head()},
      {"n_labels", m.n_labels()},
  };
  if (c.ff_kind == FfKind::kFff) {
    const int64_t nodes = (int64_t{2} << c.fff_depth) - 1;
    j["ff"] = {{"type", "fff"},
               {"trees", c.fff_trees},
               {"depth", c.fff_depth},
               {"nodes_per_tree", nodes},
               {"visited_per_token", c.fff_trees * (c.fff_depth + 1)},
               {"cpu_target", m.cpu_target()}};
  } else if (c.ff_kind == FfKind::kLeafFff) {
    j["ff"] = {{"type", "leaf_fff"},
               {"depth", c.leaf_depth},
               {"leaves", int64_t{1} << c.leaf_depth},
               {"leaf_width", c.leaf_width},
               {"nonlin", LeafActivationName(c.leaf_activation)},
               {"neurons_per_token", c.leaf_depth + c.leaf_width},
               {"cpu_target", m.cpu_target()}};
  } else {
    j["ff"] = {{"type", "dense"},
               {"width", c.d_ff},
               {"nonlin", c.ff_nonlin == FfNonlin::kGelu ? "GELU" : "GELUglu"}};
  }
  if (m.n_labels() > 0) {
    j["pooler"] = PoolerName(c.pooler);
  }
  if (const Tokenizer* tok = m.tokenizer()) {
    const SpecialTokenIds& s = tok->special_ids();
    j["tokenizer"] = {{"vocab_size", tok->vocab_size()},
                      {"pad", s.pad}, {"unk", s.unk}, {"cls", s.cls},
                      {"sep", s.sep}, {"mask", s.mask}};
  } else {
    j["tokenizer"] = nullptr;
  }
  std::puts(j.dump(2).c_str());
  return Status::Ok();
}

namespace {

// `fff bench --texts FILE`: embeddings (mean pooling, normalised, as the
// server's /embed) of the file's lines, in batches of each size; each
// repetition embeds every line once. Reports sequences/s and tokens/s.
Status RunBenchTexts(const CommonOptions& o, const BenchOptions& b) {
  std::string dir;
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, &dir, /*need_tokenizer=*/true,
                                          b.linear_block_rows, /*bench=*/true));
  std::ifstream in(b.texts_path);
  if (!in) return NotFoundError(fmt::format("--texts {}: cannot open", b.texts_path));
  const Tokenizer& tok = *m.tokenizer();
  EncodeOptions eo;
  eo.max_length = static_cast<size_t>(m.config().max_seq_length);
  std::vector<std::vector<int32_t>> ids;
  std::string line;
  int64_t n_tokens = 0;
  while (std::getline(in, line)) {
    Result<Encoding> e = tok.Encode(line, eo);
    if (!e.ok()) {
      return Status(e.status().code(), fmt::format("--texts {}: line {}: {}",
                                                   b.texts_path, ids.size() + 1,
                                                   e.status().message()));
    }
    n_tokens += static_cast<int64_t>(e->ids.size());
    ids.push_back(std::move(e->ids));
  }
  if (ids.empty()) return InvalidArgumentError(fmt::format("--texts {}: no lines", b.texts_path));
  const ModelConfig& c = m.config();
  const std::string model_name = FfName(c);
  std::string table =
      "| model | threads | batch | texts | tokens | s/pass | sequences/s | tokens/s |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  std::vector<float> emb;
  for (const int batch : b.batches) {
    auto pass = [&]() -> Status {
      for (size_t start = 0; start < ids.size(); start += batch) {
        const size_t end = std::min(ids.size(), start + batch);
        std::vector<std::span<const int32_t>> seqs(ids.begin() + start, ids.begin() + end);
        FFF_RETURN_IF_ERROR(m.Embed(seqs, true, true, &emb));
      }
      return Status::Ok();
    };
    FFF_RETURN_IF_ERROR(pass());  // warm-up
    std::vector<double> secs;
    for (int r = 0; r < b.reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      FFF_RETURN_IF_ERROR(pass());
      secs.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(secs.begin(), secs.end());
    const double median = secs[secs.size() / 2];
    json r = {{"model", model_name},
              {"dir", dir},
              {"threads", m.n_threads()},
              {"batch", batch},
              {"texts", ids.size()},
              {"tokens", n_tokens},
              {"reps", b.reps},
              {"s_per_pass", median},
              {"sequences_per_s", double(ids.size()) / median},
              {"tokens_per_s", double(n_tokens) / median},
              {"cpu_target", m.cpu_target()}};
    PrintLine(r);
    table += fmt::format("| {} | {} | {} | {} | {} | {:.3f} | {:.1f} | {:.0f} |\n",
                         model_name, m.n_threads(), batch, ids.size(), n_tokens, median,
                         double(ids.size()) / median, double(n_tokens) / median);
  }
  std::fputs(table.c_str(), stderr);
  return Status::Ok();
}

}  // namespace

Status RunBench(const CommonOptions& o, const BenchOptions& b) {
  if (!b.texts_path.empty()) return RunBenchTexts(o, b);
  std::string dir;
  FFF_ASSIGN_OR_RETURN(Model m, LoadModel(o, &dir, /*need_tokenizer=*/false,
                                          b.linear_block_rows, /*bench=*/true));
  const ModelConfig& c = m.config();
  if (b.seq_len > c.max_seq_length) {
    return InvalidArgumentError(fmt::format(
        "usage: --seq {} exceeds the model's max_seq_length {}", b.seq_len,
        c.max_seq_length));
  }
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(c.vocab_size) - 1);
  json results = json::array();
  std::string table =
      b.count_routes
          ? "| model | threads | batch | seq | ms/call | tokens/s | ms/call "
            "counting routes | ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n"
          : "| model | threads | batch | seq | ms/call | tokens/s |\n"
            "|---|---:|---:|---:|---:|---:|\n";
  const std::string model_name = FfName(c);
  for (int batch : b.batches) {
    std::vector<std::vector<int32_t>> ids(static_cast<size_t>(batch));
    for (auto& s : ids) {
      s.resize(static_cast<size_t>(b.seq_len));
      for (auto& x : s) x = id(rng);
    }
    std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
    std::vector<float> hidden;
    FFF_RETURN_IF_ERROR(m.Encode(seqs, &hidden));  // warm-up
    std::vector<double> per_call;
    m.ResetProfile();
    m.SetProfiling(b.breakdown);
    int64_t calls_total = 0;
    // One repetition: calls until min_time_ms has passed; with `stats`, every
    // call records its routing and counts it.
    auto repetition = [&](RoutingStats* stats, double* ms_per_call) -> Status {
      EncoderTrace trace;
      trace.routing_only = true;
      const std::vector<int64_t> lengths(static_cast<size_t>(batch), b.seq_len);
      const auto t0 = std::chrono::steady_clock::now();
      int calls = 0;
      double elapsed = 0;
      do {
        if (stats != nullptr) {
          FFF_RETURN_IF_ERROR(m.Encode(seqs, &hidden, &trace));
          FFF_RETURN_IF_ERROR(stats->Add(trace, lengths));
        } else {
          FFF_RETURN_IF_ERROR(m.Encode(seqs, &hidden));
        }
        ++calls;
        elapsed = std::chrono::duration<double, std::milli>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
      } while (elapsed < b.min_time_ms);
      *ms_per_call = elapsed / calls;
      if (stats == nullptr) calls_total += calls;
      return Status::Ok();
    };
    std::optional<RoutingStats> stats;
    if (b.count_routes) {
      FFF_ASSIGN_OR_RETURN(RoutingStats s, RoutingStats::Create(c));
      stats = std::move(s);
    }
    std::vector<double> per_call_routes;
    for (int r = 0; r < b.reps; ++r) {
      double ms = 0;
      FFF_RETURN_IF_ERROR(repetition(nullptr, &ms));
      per_call.push_back(ms);
      if (stats) {  // alternating, so that drift hits both alike
        m.SetProfiling(false);
        FFF_RETURN_IF_ERROR(repetition(&*stats, &ms));
        per_call_routes.push_back(ms);
        m.SetProfiling(b.breakdown);
      }
    }
    m.SetProfiling(false);
    std::sort(per_call.begin(), per_call.end());
    const double median = per_call[per_call.size() / 2];
    const double tps = batch * b.seq_len / (median / 1000.0);
    json r = {{"model", model_name},        {"dir", dir},
              {"threads", m.n_threads()},   {"batch", batch},
              {"seq", b.seq_len},           {"reps", b.reps},
              {"ms_per_call", median},      {"tokens_per_s", tps},
              {"ms_min", per_call.front()}, {"ms_max", per_call.back()},
              {"cpu_target", m.cpu_target()}};
    if (b.breakdown) {
      const ComponentTimes& t = m.profile();
      const double total = t.Total();
      auto share = [&](double x) { return total > 0 ? x / total : 0.0; };
      r["breakdown_share"] = {{"embedding", share(t.embedding)},
                              {"norms", share(t.norms)},
                              {"qkv", share(t.qkv)},
                              {"attention_core", share(t.attention_core)},
                              {"attention_out", share(t.attention_out)},
                              {"ff", share(t.ff)},
                              {"residual", share(t.residual)}};
      r["breakdown_calls"] = calls_total;
    }
    std::string routes_cell;
    if (stats) {
      std::sort(per_call_routes.begin(), per_call_routes.end());
      const double with = per_call_routes[per_call_routes.size() / 2];
      r["ms_per_call_counting_routes"] = with;
      r["routes_overhead_ratio"] = with / median;
      routes_cell = fmt::format(" {:.2f} | {:.3f} |", with, with / median);
    }
    PrintLine(r);
    results.push_back(r);
    table += fmt::format("| {} | {} | {} | {} | {:.2f} | {:.0f} |{}\n", model_name,
                         m.n_threads(), batch, b.seq_len, median, tps,
                         routes_cell);
  }
  std::fputs(table.c_str(), stderr);
  if (!b.json_path.empty()) {
    std::ofstream f(b.json_path);
    f << results.dump(2) << "\n";
    if (!f) return NotFoundError(fmt::format("{}: write failed", b.json_path));
  }
  return Status::Ok();
}

}  // namespace fff::cli
