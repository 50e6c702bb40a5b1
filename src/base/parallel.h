// Parallel-for over OpenMP, the process's one threading runtime (Debian's
// oneDNN runs on libgomp, so fff uses the same pool rather than a second one
// that would fight it for the two cores).
//
// Determinism contract: work is split into fixed blocks whose boundaries do
// not depend on the thread count; callers make each output owned by one
// block, so results are bitwise independent of how many threads run.
#ifndef FFF_SRC_BASE_PARALLEL_H_
#define FFF_SRC_BASE_PARALLEL_H_

#include <omp.h>

#include <cstdint>

namespace fff {

// The number of threads a call with `requested` threads uses: `requested`
// when > 0, else OpenMP's current maximum (OMP_NUM_THREADS or the core count).
int ResolveThreadCount(int requested);

// The id (0..n_threads-1) of the calling thread inside ParallelFor.
int CurrentThreadIndex();

// Calls body(block) for block in [0, n_blocks) on up to `n_threads` threads
// (static round-robin schedule). Runs inline when n_threads <= 1 or
// n_blocks <= 1. `body` must not throw.
template <class Body>
void ParallelFor(int64_t n_blocks, int n_threads, const Body& body) {
  if (n_threads <= 1 || n_blocks <= 1) {
    for (int64_t b = 0; b < n_blocks; ++b) body(b);
    return;
  }
  const int threads =
      static_cast<int>(n_blocks < n_threads ? n_blocks : n_threads);
#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int64_t b = 0; b < n_blocks; ++b) body(b);
}

// Sets OpenMP's thread count for the calling thread (its nthreads ICV) for
// the scope's lifetime, then restores it: for oneDNN calls made outside a
// parallel region, which otherwise spread over OpenMP's whole pool even
// when the caller asked for one thread.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int n) : saved_(omp_get_max_threads()) {
    if (n != saved_) omp_set_num_threads(n);
  }
  ~OmpThreadsScope() {
    if (omp_get_max_threads() != saved_) omp_set_num_threads(saved_);
  }
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int saved_;
};

}  // namespace fff

#endif  // FFF_SRC_BASE_PARALLEL_H_
