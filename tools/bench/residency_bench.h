// `fff-bench residency`: what a zero-copy checkpoint (fff convert) keeps in
// memory. After evicting the file from the page cache
// (posix_fadvise(DONTNEED)), it loads the model (load time, RSS), then embeds
// real sentences and, after 1, 10, 100, ... of them, compares the resident
// bytes of the FFF weights (mincore over the mapped records and biases) with
// the bytes of the rows the routing actually visited (docs/routing.md).
// With --load-only: the load and a first sentence (any checkpoint).
#ifndef FFF_TOOLS_BENCH_RESIDENCY_BENCH_H_
#define FFF_TOOLS_BENCH_RESIDENCY_BENCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fff/status.h"

namespace fff::bench {

struct ResidencyBenchOptions {
  std::string model_dir;   // a converted checkpoint (fff convert)
  std::string texts_path;  // one sentence per line
  std::vector<int64_t> points = {1, 10, 100, 1000, 10000, 100000};
  int batch = 32;  // sentences per Encode call (after the first)
  // The first sentence is the file's first line with this many tokens (+-2;
  // special tokens included), skipping the lines before it; 0: line 1.
  int64_t first_tokens = 20;
  int n_threads = 0;
  // Stop after the load measurement and one fixed sentence embedded right
  // after it (time to the first output, RSS after it).
  bool load_only = false;
  bool warm = false;  // leave the file in the page cache (no eviction)
};

// Prints one JSON line per point (and one for the load) on stdout and a
// table on stderr.
Status RunResidencyBench(const ResidencyBenchOptions& options,
                         const std::string& command);

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_RESIDENCY_BENCH_H_
