// The core's best GEMM rate as oneDNN reaches it: a 2048 x 3072 x 768
// dnnl_sgemm (the shape of a batch of 16 sequences through a dense FF's
// first product), median of 7 calls, at OpenMP's thread count (set
// OMP_NUM_THREADS). Used by batch8.sh (docs/benchmarks.md, issue 3).
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main() {
  const long m = 2048, n = 3072, k = 768;
  std::vector<float> a(m * k), b(n * k), c(m * n);
  for (size_t i = 0; i < a.size(); ++i) a[i] = (i % 17) * 0.01f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = (i % 13) * 0.01f;
  std::vector<double> ts;
  for (int r = 0; r < 8; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    dnnl_sgemm('N', 'T', m, n, k, 1.0f, a.data(), k, b.data(), k, 0.0f,
               c.data(), n);
    const double s = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - t0)
                         .count();
    if (r > 0) ts.push_back(s);  // the first call is a warm-up
  }
  std::sort(ts.begin(), ts.end());
  std::printf("{\"sgemm_threads\": %d, \"gflops\": %.1f}\n",
              omp_get_max_threads(), 2.0 * m * n * k / ts[3] / 1e9);
  return 0;
}
