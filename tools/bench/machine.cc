#include "tools/bench/machine.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "src/base/aligned_buffer.h"
#include "tools/bench/timing.h"

namespace fff::bench {
double SgemmGflops(int n_threads, int reps) {
  const int64_t m = 2048, n = 3072, k = 768;
  std::vector<float> a(m * k, 0.5f), b(n * k, 0.25f), c(m * n);
  omp_set_num_threads(n_threads);
  const Timing t = TimeCalls(
      [&] {
        dnnl_sgemm('N', 'T', m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f,
                   c.data(), n);
      },
      reps, 0.05);
  return 2.0 * m * n * k / t.median_s / 1e9;
}

namespace {

double TriadGbs(int n_threads, size_t bytes_per_array, int reps) {
  const size_t n = bytes_per_array / sizeof(float);
  AlignedBuffer<float> a, b, c;
  if (!a.Allocate(n, "triad").ok() || !b.Allocate(n, "triad").ok() ||
      !c.Allocate(n, "triad").ok()) {
    return 0;
  }
  float* pa = a.data();
  const float* pb = b.data();
  const float* pc = c.data();
  const int64_t count = static_cast<int64_t>(n);
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (int64_t i = 0; i < count; ++i) {  // first touch by the owning thread
    pa[i] = 0.0f;
    b[i] = 1.0f;
    c[i] = 2.0f;
  }
  const Timing t = TimeCalls(
      [&] {
#pragma omp parallel for num_threads(n_threads) schedule(static)
        for (int64_t i = 0; i < count; ++i) pa[i] = pb[i] + 3.0f * pc[i];
      },
      reps, 0.05);
  // Counted as 3 arrays moved (2 reads, 1 write; write-allocate not counted,
  // as STREAM does).
  return 3.0 * static_cast<double>(bytes_per_array) / t.median_s / 1e9;
}

double RoundTripNs(int reps) {
  std::vector<double> samples;
  for (int r = 0; r < reps; ++r) {
    std::atomic<int> flag{0};
    constexpr int kTrips = 20000;
    double seconds = 0;
#pragma omp parallel num_threads(2)
    {
      if (omp_get_num_threads() == 2) {
        if (omp_get_thread_num() == 0) {
          const double t0 = Now();
          for (int i = 0; i < kTrips; ++i) {
            flag.store(1, std::memory_order_release);
            while (flag.load(std::memory_order_acquire) != 0) {
            }
          }
          seconds = Now() - t0;
        } else {
          for (int i = 0; i < kTrips; ++i) {
            while (flag.load(std::memory_order_acquire) != 1) {
            }
            flag.store(0, std::memory_order_release);
          }
        }
      }
    }
    samples.push_back(seconds / kTrips * 1e9);
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

MachinePeaks MeasurePeaks(int n_threads, int reps) {
  MachinePeaks p;
  p.n_threads = n_threads;
  p.sgemm_gflops = SgemmGflops(n_threads, reps);
  p.triad_dram_gbs = TriadGbs(n_threads, size_t{128} << 20, reps);
  p.triad_cache_gbs = TriadGbs(n_threads, size_t{4} << 20, reps);
  p.triad_l2_gbs = TriadGbs(n_threads, size_t{256} << 10, reps);
  if (n_threads >= 2) p.core_round_trip_ns = RoundTripNs(reps);
  std::ifstream l2("/sys/devices/system/cpu/cpu0/cache/index2/size");
  std::string size;
  if (l2 >> size && !size.empty()) {
    int64_t v = std::atoll(size.c_str());
    if (size.back() == 'K') v <<= 10;
    if (size.back() == 'M') v <<= 20;
    p.l2_bytes = v;
  }
  return p;
}

MachineInfo ReadMachineInfo() {
  MachineInfo info;
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) info.cpu_model = line.substr(colon + 2);
      break;
    }
  }
  info.n_cpus = static_cast<int>(std::thread::hardware_concurrency());
  for (const char* name :
       {"OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_PROC_BIND",
        "OPENBLAS_CORETYPE", "FFF_CPU_TARGET"}) {
    const char* v = std::getenv(name);
    if (v != nullptr) {
      if (!info.env.empty()) info.env += " ";
      info.env += std::string(name) + "=" + v;
    }
  }
  return info;
}

}  // namespace fff::bench
