// `fff convert` (tools/cli/commands.h): the zero-copy FFF layout.
#include <fmt/format.h>

#include "fff/checkpoint_convert.h"
#include "tools/cli/cli_util.h"
#include "tools/cli/commands.h"

namespace fff::cli {

Status RunConvert(const CommonOptions& o, const std::string& out_dir) {
  FFF_ASSIGN_OR_RETURN(std::string dir, ResolveModelDir(o, /*bench=*/false));
  FFF_ASSIGN_OR_RETURN(ConvertReport r, ConvertToNodeRecords(dir, out_dir));
  PrintLine({{"model", dir},
             {"out", out_dir},
             {"layout", kFffNodeRecordsLayout},
             {"record_bytes", r.record_bytes},
             {"source_fff_bytes", r.source_fff_bytes},
             {"fff_bytes", r.fff_bytes},
             {"source_file_bytes", r.source_file_bytes},
             {"file_bytes", r.file_bytes}});
  std::fprintf(stderr,
               "fff: wrote %s (layout %s, %lld-byte node records; FFF %lld -> "
               "%lld bytes)\n",
               out_dir.c_str(), kFffNodeRecordsLayout,
               static_cast<long long>(r.record_bytes),
               static_cast<long long>(r.source_fff_bytes),
               static_cast<long long>(r.fff_bytes));
  return Status::Ok();
}

}  // namespace fff::cli
