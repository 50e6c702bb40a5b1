// What fff-bench measures about the machine itself, in the same run as the
// kernels it compares: the sgemm rate (the FLOP/s peak a dense layer can
// reach) and triad bandwidth out of DRAM and out of the last-level cache.
#ifndef FFF_TOOLS_BENCH_MACHINE_H_
#define FFF_TOOLS_BENCH_MACHINE_H_

#include <cstdint>
#include <string>

namespace fff::bench {

struct MachinePeaks {
  int n_threads = 1;
  double sgemm_gflops = 0;     // oneDNN sgemm 2048 x 3072 x 768, median
  double triad_dram_gbs = 0;   // a = b + s*c over 3 x 128 MiB, median
  double triad_cache_gbs = 0;  // same over 3 x 4 MiB (beyond L2, in L3)
  double triad_l2_gbs = 0;     // same over 3 x 256 KiB (in L2)
  int64_t l2_bytes = 0;        // per-core L2 size (sysfs), 0 if unknown
  // Round trip of a flag between two threads of the OpenMP pool (spinning
  // on an atomic), ns; 0 with one thread. The cost of any per-step handoff
  // between cores.
  double core_round_trip_ns = 0;

  // Bandwidth for a working set of `bytes`: L2 if it fits, else the
  // last-level cache up to 64 MiB (measured here: reads drop to DRAM speed
  // between 64 and 128 MiB), else DRAM.
  double BandwidthFor(double bytes) const {
    if (l2_bytes > 0 && bytes <= static_cast<double>(l2_bytes)) {
      return triad_l2_gbs;
    }
    return bytes <= 64.0 * (1 << 20) ? triad_cache_gbs : triad_dram_gbs;
  }
};

// Medians over `reps` repetitions after a warm-up, with `n_threads` threads.
MachinePeaks MeasurePeaks(int n_threads, int reps);

// GFLOP/s of oneDNN's sgemm for the first product of a dense FF (2048 rows x
// 3072 x 768), median of `reps`: the peak a dense layer is held against.
double SgemmGflops(int n_threads, int reps);

struct MachineInfo {
  std::string cpu_model;
  int n_cpus = 0;
  std::string env;  // threading-relevant environment variables
};
MachineInfo ReadMachineInfo();

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_MACHINE_H_
