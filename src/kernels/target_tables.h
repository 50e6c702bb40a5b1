// Per-target kernel tables: every op family compiles one table per Highway
// target (foreach_target) and exports a getter with HWY_EXPORT; these helpers
// list the compiled tables, the ones this CPU supports, and find one by name.
// Table must have `int64_t target` and `const char* name` members.
#ifndef FFF_SRC_KERNELS_TARGET_TABLES_H_
#define FFF_SRC_KERNELS_TARGET_TABLES_H_

#include <fmt/format.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fff/status.h"
#include "hwy/targets.h"
#include "src/base/check.h"

namespace fff::kernels {

// `entries` is an HWY_DISPATCH_TABLE: entry 0 is the dispatch initialiser,
// the others one getter per target (nullptr where not compiled). Best first.
template <class Table>
std::vector<const Table*> CompiledTables(const Table* (*const* entries)(),
                                         size_t n_entries) {
  std::vector<const Table*> tables;
  for (size_t i = 1; i < n_entries; ++i) {
    if (entries[i] == nullptr) continue;
    const Table* t = entries[i]();
    if (std::find(tables.begin(), tables.end(), t) == tables.end()) {
      tables.push_back(t);
    }
  }
  std::sort(tables.begin(), tables.end(), [](const Table* a, const Table* b) {
    return a->target < b->target;  // lower bit = better target
  });
  return tables;
}

// Those of `compiled` this CPU supports, best first. Never empty.
template <class Table>
std::vector<const Table*> SupportedTables(
    const std::vector<const Table*>& compiled) {
  const int64_t supported = hwy::SupportedTargets();
  std::vector<const Table*> out;
  for (const Table* t : compiled) {
    if ((t->target & supported) != 0) out.push_back(t);
  }
  FFF_CHECK(!out.empty());  // the scalar fallback runs everywhere
  return out;
}

// The table named `name` (case-insensitive) among `tables`, or nullptr.
template <class Table>
const Table* FindTable(const std::vector<const Table*>& tables,
                       std::string_view name) {
  for (const Table* t : tables) {
    std::string_view tn(t->name);
    if (tn.size() == name.size() &&
        std::equal(tn.begin(), tn.end(), name.begin(),
                   [](char a, char b) { return (a | 0x20) == (b | 0x20); })) {
      return t;
    }
  }
  return nullptr;
}

// The table a layer runs: `requested` (a Highway target name) when not
// empty, else the FFF_CPU_TARGET environment variable when set, else the best
// of `supported`. A name not among `supported` is a NotFound error listing
// them, e.g. "fff: target: 'AVX9' is not compiled in or not supported by
// this CPU; available: AVX3, AVX2, SSE4, SCALAR".
template <class Table>
Result<const Table*> ChooseTable(const std::vector<const Table*>& supported,
                                 const std::string& requested) {
  std::string target = requested;
  const char* env = std::getenv("FFF_CPU_TARGET");
  if (target.empty() && env != nullptr) target = env;
  if (target.empty()) return supported.front();
  if (const Table* t = FindTable(supported, target)) return t;
  std::string have;
  for (const Table* t : supported) {
    if (!have.empty()) have += ", ";
    have += t->name;
  }
  return NotFoundError(fmt::format(
      "fff: target{}: '{}' is not compiled in or not supported by this CPU; "
      "available: {}",
      requested.empty() ? " (FFF_CPU_TARGET)" : "", target, have));
}

}  // namespace fff::kernels

#endif  // FFF_SRC_KERNELS_TARGET_TABLES_H_
