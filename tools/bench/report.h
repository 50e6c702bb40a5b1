// The header every fff-bench JSON report starts with: benchmark name, the
// command, the commit it was built from, and the machine.
#ifndef FFF_TOOLS_BENCH_REPORT_H_
#define FFF_TOOLS_BENCH_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "build_info.h"
#include "tools/bench/machine.h"

namespace fff::bench {

inline nlohmann::json ReportHeader(const char* benchmark,
                                   const std::string& command,
                                   const MachineInfo& m) {
  return {{"benchmark", benchmark},
          {"command", command},
          {"commit", FFF_GIT_COMMIT},
          {"machine", {{"cpu", m.cpu_model}, {"cpus", m.n_cpus}, {"env", m.env}}}};
}

}  // namespace fff::bench

#endif  // FFF_TOOLS_BENCH_REPORT_H_
