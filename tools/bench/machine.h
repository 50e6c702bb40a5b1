// What fff-bench measures about the machine itself, in the same run as the
// kernels it compares: the sgemm rate (the FLOP/s peak a dense layer can
// reach) and triad bandwidth out of DRAM and out of the last-level cache.
#ifndef FFF_TOOLS_BENCH_MACHINE_H_
#define FFF_TOOLS_BENCH_MACHINE_H_

#include <string>

namespace fff::bench {

struct MachinePeaks {
  int n_threads = 1;
  double sgemm_gflops = 0;     // oneDNN sgemm 2048 x 3072 x 768, median
  double triad_dram_gbs = 0;   // a = b + s*c over 3 x 128 MiB, median
  double triad_cache_gbs = 0;  // same over 3 x 4 MiB (beyond L2, in L3)
};

// Medians over `reps` repetitions after a warm-up, with `n_threads` threads.
MachinePeaks MeasurePeaks(int n_threads, int reps);

struct MachineInfo {
  std::string cpu_model;
  int n_cpus = 0;
  std::string env;  // threading-relevant environment variables
};
MachineInfo ReadMachineInfo();

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_MACHINE_H_
