// `fff-bench tokenizer`: single-thread encoding throughput of the WordPiece
// tokenizer over a plain-text file, line by line.
#ifndef FFF_TOOLS_BENCH_TOKENIZER_BENCH_H_
#define FFF_TOOLS_BENCH_TOKENIZER_BENCH_H_

#include <string>
#include <vector>

#include "fff/status.h"
#include "tools/bench/machine.h"

namespace fff::bench {

struct TokenizerBenchOptions {
  std::string tokenizer_path = "tests/data/tiny/tokenizer.json";
  // Plain UTF-8 text, one input per line, e.g. 20 MB of Wikipedia:
  //   xz -dc ../shared/data/corpus/wikipedia-en-2015/train.txt.xz |
  //     head -c 20000000 > /tmp/en.txt
  std::string text_path;
  int reps = 5;  // timed passes over the whole file (median reported)
};

struct TokenizerBenchReport {
  TokenizerBenchOptions options;
  MachineInfo machine;
  double load_ms = 0;          // Tokenizer::FromTokenizerJson / FromVocabTxt
  size_t lines = 0;            // Encode calls per pass
  size_t bytes = 0;            // text bytes per pass (newlines excluded)
  size_t tokens = 0;           // tokens per pass, special tokens included
  size_t failed_lines = 0;     // lines Encode rejected (invalid UTF-8)
  std::vector<double> pass_s;  // seconds per pass, sorted
  double median_mb_s = 0;      // 10^6 bytes per second, median pass
  double median_tokens_s = 0;
};

Result<TokenizerBenchReport> RunTokenizerBench(
    const TokenizerBenchOptions& options);
std::string TokenizerReportJson(const TokenizerBenchReport& report,
                                const std::string& command);
std::string TokenizerReportMarkdown(const TokenizerBenchReport& report,
                                    const std::string& command);

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_TOKENIZER_BENCH_H_
