#include "src/base/parallel.h"

#include <omp.h>

namespace fff {

int ResolveThreadCount(int requested) {
  if (requested > 0) return requested;
  int n = omp_get_max_threads();
  return n > 0 ? n : 1;
}

int CurrentThreadIndex() { return omp_get_thread_num(); }

}  // namespace fff
