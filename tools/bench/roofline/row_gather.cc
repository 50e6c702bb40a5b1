// How fast can one core consume FFF weight rows? The deep levels of an
// FFF-1x11 batch each read a 768-float row (3 KB) chosen by the routing,
// i.e. at random, from a working set that may sit in L1, L2, L3 or DRAM.
// This measures, per working-set size, the time of a 768-float dot product
// whose weight row is taken in random order (x stays in L1), with 1 or 4
// rows in flight and with or without software prefetch of the next rows.
// A second table takes x from a pool of rows too (both operands random, 4
// rows in flight), as the grouped router does once a block's inputs outgrow
// L1: it shows what one dot costs when x and w stream from L1, L2 or L3.
// docs/benchmarks.md (issue 2, the Zen 4 run) quotes it. AVX-512, the
// kernels' target on the machines measured here:
//   g++ -O3 -mavx512f -mavx512dq -mfma -o /tmp/rg
//       tools/bench/roofline/row_gather.cc && /tmp/rg
// (not -march=native: GCC 12 turns on no AVX-512 for the "AMD EPYC" guest.)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>
#include <vector>

namespace {

constexpr int kD = 768;                              // floats per row
typedef float V16 __attribute__((vector_size(64)));  // 16 floats

// Sum over r of dot(x row, w[wrows[r]]), S rows at a time, 4 accumulators
// per row (the kernels' DotRows shape), the row pointers taken before the
// loop. The x row is x[xrows[r]], or x[s] for slot s when xrows is null (x
// stays in L1). prefetch: the next S weight rows, whole, before each step.
template <int S>
float DotRows(const float* x, const int* xrows, const float* w,
              const int* wrows, int n, bool prefetch) {
  float sink = 0;
  for (int r = 0; r + S <= n; r += S) {
    if (prefetch && r + 2 * S <= n) {
      for (int s = 0; s < S; ++s) {
        const char* p = reinterpret_cast<const char*>(
            w + static_cast<int64_t>(wrows[r + S + s]) * kD);
        for (int l = 0; l < kD * 4; l += 64) _mm_prefetch(p + l, _MM_HINT_T0);
      }
    }
    const float* xs[S];
    const float* ws[S];
    for (int s = 0; s < S; ++s) {
      xs[s] = x + static_cast<int64_t>(xrows ? xrows[r + s] : s) * kD;
      ws[s] = w + static_cast<int64_t>(wrows[r + s]) * kD;
    }
    __m512 acc[S][4];
    for (int s = 0; s < S; ++s) {
      for (int j = 0; j < 4; ++j) acc[s][j] = _mm512_setzero_ps();
    }
    for (int i = 0; i < kD; i += 64) {
#pragma GCC unroll 4
      for (int s = 0; s < S; ++s) {
#pragma GCC unroll 4
        for (int j = 0; j < 4; ++j) {
          acc[s][j] =
              _mm512_fmadd_ps(_mm512_loadu_ps(xs[s] + i + 16 * j),
                              _mm512_loadu_ps(ws[s] + i + 16 * j), acc[s][j]);
        }
      }
    }
    for (int s = 0; s < S; ++s) {
      sink += _mm512_reduce_add_ps(
          _mm512_add_ps(_mm512_add_ps(acc[s][0], acc[s][1]),
                        _mm512_add_ps(acc[s][2], acc[s][3])));
    }
  }
  return sink;
}

// Best of 7 repetitions, ns per dot: each repetition runs DotRows<S> over
// the n (wrows, xrows) pairs enough times to take a measurable while.
template <int S>
double NsPerDot(const float* x, const int* xrows, const float* w,
                const int* wrows, int n, bool prefetch) {
  double best = 1e30;
  volatile float keep = 0;
  const int passes = std::max(1, 200000 / n);
  for (int rep = 0; rep < 7; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int p = 0; p < passes; ++p) {
      keep = keep + DotRows<S>(x, xrows, w, wrows, n, prefetch);
    }
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    best = std::min(best, s * 1e9 / (double(passes) * (n / S * S)));
  }
  return best;
}

}  // namespace

// Working sets in KiB: the arguments, or a sweep through L1, L2, L3 and DRAM
// (the steps between 4 and 32 MiB locate the L3 capacity one core really
// gets on a shared machine).
int main(int argc, char** argv) {
  std::vector<size_t> sizes_kb = {24,    384,   1024,  2048,  4096,  8192,
                                  12288, 16384, 24576, 32768, 65536, 262144};
  if (argc > 1) {
    sizes_kb.clear();
    for (int i = 1; i < argc; ++i) {
      sizes_kb.push_back(
          static_cast<size_t>(std::strtoull(argv[i], nullptr, 10)));
    }
  }
  // 64-byte aligned like the kernels' rows (a std::vector's 16-byte
  // alignment would split every 64-byte load across two cache lines).
  auto aligned = [](size_t n) {
    return std::unique_ptr<float[], decltype(&std::free)>(
        static_cast<float*>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64)),
        &std::free);
  };
  auto xb = aligned(4 * kD);
  float* x = xb.get();
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int i = 0; i < 4 * kD; ++i) x[i] = nd(rng);
  std::printf(
      "| working set | ns/row 1 in flight | 4 in flight | 1 + prefetch | 4 + "
      "prefetch | GB/s (best) |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|\n");
  for (size_t kb : sizes_kb) {
    const int n_rows = static_cast<int>(kb * 1024 / (kD * 4));
    const size_t n = static_cast<size_t>(n_rows) * kD;
    auto wb = aligned(n);
    float* w = wb.get();
    for (size_t i = 0; i < n; ++i) w[i] = nd(rng) * 0.02f;
    std::vector<int> rows(n_rows);
    std::iota(rows.begin(), rows.end(), 0);
    std::shuffle(rows.begin(), rows.end(), rng);
    const double a = NsPerDot<1>(x, nullptr, w, rows.data(), n_rows, false);
    const double b = NsPerDot<4>(x, nullptr, w, rows.data(), n_rows, false);
    const double c = NsPerDot<1>(x, nullptr, w, rows.data(), n_rows, true);
    const double d = NsPerDot<4>(x, nullptr, w, rows.data(), n_rows, true);
    const double best = std::min(std::min(a, b), std::min(c, d));
    std::printf("| %zu KiB | %.1f | %.1f | %.1f | %.1f | %.1f |\n", kb, a, b, c,
                d, kD * 4 / best);
    std::printf(
        "{\"working_set_kib\": %zu, \"ns_per_row\": {\"s1\": %.2f, \"s4\": "
        "%.2f, \"s1_prefetch\": %.2f, \"s4_prefetch\": %.2f}}\n",
        kb, a, b, c, d);
  }
  // Both operands random: x from a pool of x_kib, w from a set of w_kib.
  const size_t x_kib[] = {12, 48, 384, 4096};
  const size_t w_kib[] = {24, 384, 4096, 16384};
  std::printf(
      "\n| ns per dot, x pool \\ w set (4 in flight) | 24 KiB | 384 KiB | "
      "4096 KiB | 16384 KiB |\n|---:|---:|---:|---:|---:|\n");
  for (size_t xk : x_kib) {
    std::printf("| %zu KiB |", xk);
    for (size_t wk : w_kib) {
      const int nx = static_cast<int>(xk * 1024 / (kD * 4));
      const int nw = static_cast<int>(wk * 1024 / (kD * 4));
      auto xp = aligned(static_cast<size_t>(nx) * kD);
      auto wp = aligned(static_cast<size_t>(nw) * kD);
      for (size_t i = 0; i < static_cast<size_t>(nx) * kD; ++i) xp[i] = nd(rng);
      for (size_t i = 0; i < static_cast<size_t>(nw) * kD; ++i) {
        wp[i] = nd(rng) * 0.02f;
      }
      const int n = std::max(4096, 4 * std::max(nx, nw));
      std::vector<int> xr(n), wr(n);
      for (int i = 0; i < n; ++i) {
        xr[i] = static_cast<int>(rng() % nx);
        wr[i] = static_cast<int>(rng() % nw);
      }
      std::printf(" %.1f |", NsPerDot<4>(xp.get(), xr.data(), wp.get(),
                                         wr.data(), n, false));
    }
    std::printf("\n");
  }
  return 0;
}
