// FFF_CHECK: for broken internal invariants only (a bug in fff), never for
// user input, which gets a Status. Prints the condition and location to
// stderr and aborts; it is the one place the library may print directly,
// because the process is about to die.
#ifndef FFF_SRC_BASE_CHECK_H_
#define FFF_SRC_BASE_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FFF_CHECK(cond)                                                     \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "fff: internal invariant failed: %s at %s:%d\n", \
                   #cond, __FILE__, __LINE__);                              \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

#endif  // FFF_SRC_BASE_CHECK_H_
