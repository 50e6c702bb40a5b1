#include "tools/bench/tokenizer_bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "build_info.h"
#include "fff/tokenizer.h"
#include "tools/bench/timing.h"

namespace fff::bench {

Result<TokenizerBenchReport> RunTokenizerBench(const TokenizerBenchOptions& o) {
  if (o.text_path.empty()) {
    return InvalidArgumentError(
        "--text is required: a plain UTF-8 text file, e.g. `xz -dc "
        "../shared/data/corpus/wikipedia-en-2015/train.txt.xz | head -c "
        "20000000 > /tmp/en.txt`");
  }
  if (o.reps < 1) return InvalidArgumentError("--reps must be >= 1");
  TokenizerBenchReport report;
  report.options = o;
  report.machine = ReadMachineInfo();

  std::ifstream in(o.text_path, std::ios::binary);
  if (!in) return NotFoundError(o.text_path + ": cannot open");
  const std::string text{std::istreambuf_iterator<char>(in), {}};
  std::vector<std::string_view> lines;
  for (size_t pos = 0; pos < text.size();) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    lines.emplace_back(text.data() + pos, end - pos);
    report.bytes += end - pos;
    pos = end + 1;
  }
  report.lines = lines.size();

  const double t0 = Now();
  const bool is_vocab_txt =
      o.tokenizer_path.size() >= 4 && o.tokenizer_path.ends_with(".txt");
  auto tok = is_vocab_txt ? Tokenizer::FromVocabTxt(o.tokenizer_path)
                          : Tokenizer::FromTokenizerJson(o.tokenizer_path);
  if (!tok.ok()) return tok.status();
  report.load_ms = (Now() - t0) * 1e3;

  const auto pass = [&](size_t* tokens, size_t* failed) {
    for (std::string_view line : lines) {
      const Result<Encoding> e = tok->Encode(line);
      if (e.ok()) {
        *tokens += e->ids.size();
      } else {
        ++*failed;
      }
    }
  };
  pass(&report.tokens, &report.failed_lines);  // warm-up: grows the buffers
  for (int r = 0; r < o.reps; ++r) {
    size_t tokens = 0, failed = 0;
    const double start = Now();
    pass(&tokens, &failed);
    report.pass_s.push_back(Now() - start);
  }
  std::sort(report.pass_s.begin(), report.pass_s.end());
  const double median = report.pass_s[report.pass_s.size() / 2];
  report.median_mb_s = static_cast<double>(report.bytes) / 1e6 / median;
  report.median_tokens_s = static_cast<double>(report.tokens) / median;
  return report;
}

std::string TokenizerReportJson(const TokenizerBenchReport& rep,
                                const std::string& command) {
  nlohmann::json j;
  j["command"] = command;
  j["commit"] = FFF_GIT_COMMIT;
  j["cpu_model"] = rep.machine.cpu_model;
  j["threads"] = 1;
  j["tokenizer"] = rep.options.tokenizer_path;
  j["text"] = rep.options.text_path;
  j["load_ms"] = rep.load_ms;
  j["lines"] = rep.lines;
  j["bytes"] = rep.bytes;
  j["tokens"] = rep.tokens;
  j["failed_lines"] = rep.failed_lines;
  j["pass_s"] = rep.pass_s;
  j["median_mb_s"] = rep.median_mb_s;
  j["median_tokens_s"] = rep.median_tokens_s;
  return j.dump(2);
}

std::string TokenizerReportMarkdown(const TokenizerBenchReport& rep,
                                    const std::string& command) {
  std::string out = fmt::format("`{}` — commit {}, {}, 1 thread\n\n", command,
                                FFF_GIT_COMMIT, rep.machine.cpu_model);
  out +=
      "| tokenizer | lines | MB | tokens | MB/s (median) | min..max MB/s "
      "| Mtokens/s | load ms |\n";
  out += "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  const double mb = static_cast<double>(rep.bytes) / 1e6;
  out += fmt::format(
      "| {} | {} | {:.2f} | {} | {:.2f} | {:.2f}..{:.2f} | {:.3f} | {:.1f} |\n",
      rep.options.tokenizer_path, rep.lines, mb, rep.tokens, rep.median_mb_s,
      mb / rep.pass_s.back(), mb / rep.pass_s.front(),
      rep.median_tokens_s / 1e6, rep.load_ms);
  if (rep.failed_lines > 0) {
    out += fmt::format("\n{} lines were rejected (invalid UTF-8).\n",
                       rep.failed_lines);
  }
  return out;
}

}  // namespace fff::bench
