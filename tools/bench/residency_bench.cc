// fff-bench residency (tools/bench/residency_bench.h).
#include "tools/bench/residency_bench.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fff/model.h"
#include "fff/routing.h"
#include "fff/tokenizer.h"

namespace fff::bench {
namespace {

// Drops the file's pages from the page cache (clean, unmapped pages only).
Status EvictFromPageCache(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return NotFoundError(fmt::format("{}: cannot open", path));
  const int rc = ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  ::close(fd);
  if (rc != 0) {
    return InternalError(fmt::format("{}: posix_fadvise: error {}", path, rc));
  }
  return Status::Ok();
}

// Resident bytes of the pages `bytes` spans (mincore).
Result<int64_t> ResidentBytes(std::span<const uint8_t> bytes) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin =
      reinterpret_cast<uintptr_t>(bytes.data()) / page * page;
  const uintptr_t end =
      reinterpret_cast<uintptr_t>(bytes.data()) + bytes.size();
  const size_t n_pages = (end - begin + page - 1) / page;
  std::vector<unsigned char> vec(n_pages);
  if (::mincore(reinterpret_cast<void*>(begin), end - begin, vec.data()) != 0) {
    return InternalError("mincore failed");
  }
  int64_t resident = 0;
  for (unsigned char v : vec) resident += (v & 1) != 0;
  return resident * static_cast<int64_t>(page);
}

// Resident set size now (/proc/self/statm), bytes.
int64_t RssBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * static_cast<int64_t>(::sysconf(_SC_PAGESIZE));
}

int64_t PeakRssBytes() {
  struct rusage ru;
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<int64_t>(ru.ru_maxrss) * 1024;
}

}  // namespace

Status RunResidencyBench(const ResidencyBenchOptions& o,
                         const std::string& command) {
  namespace fs = std::filesystem;
  const std::string weights =
      (fs::path(o.model_dir) / "model.safetensors").string();
  if (!o.warm) FFF_RETURN_IF_ERROR(EvictFromPageCache(weights));
  const int64_t rss_before = PeakRssBytes();
  ModelOptions mo;
  mo.n_threads = o.n_threads;
  const auto t0 = std::chrono::steady_clock::now();
  FFF_ASSIGN_OR_RETURN(Model m, Model::Load(o.model_dir, mo));
  const double load_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  const std::vector<std::span<const uint8_t>> regions = m.mapped_fff_bytes();
  int64_t fff_bytes = 0, resident = 0;
  std::vector<int64_t> per_region;
  for (const auto& r : regions) {
    fff_bytes += static_cast<int64_t>(r.size());
    FFF_ASSIGN_OR_RETURN(const int64_t b, ResidentBytes(r));
    resident += b;
    per_region.push_back(b);
  }
  const int64_t rss_after_load = RssBytes();
  const int64_t peak_rss_after_load = PeakRssBytes();
  // Time to the first output: one fixed sentence right after the load (it
  // reads what the first forward needs: attention weights, visited records).
  double first_s = 0;
  if (o.load_only) {
    std::vector<int32_t> ids;
    if (m.tokenizer() != nullptr) {
      FFF_ASSIGN_OR_RETURN(
          Encoding e,
          m.tokenizer()->Encode(
              "The quick brown fox jumps over the lazy dog near the old "
              "river bank.",
              EncodeOptions{}));
      ids = std::move(e.ids);
    } else {
      for (int32_t i = 0; i < 20; ++i) {
        ids.push_back(static_cast<int32_t>((i * 7919) % m.config().vocab_size));
      }
    }
    std::vector<std::span<const int32_t>> seqs = {ids};
    std::vector<float> h;
    const auto t1 = std::chrono::steady_clock::now();
    FFF_RETURN_IF_ERROR(m.Encode(seqs, &h));
    first_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
            .count();
  }
  nlohmann::ordered_json load = {
      {"command", command},
      {"model", o.model_dir},
      {"ff", FfName(m.config())},
      {"page_cache", o.warm ? "warm" : "cold"},
      {"load_s", load_s},
      {"load_ms_reported", m.load_ms()},
      {"peak_rss_bytes", peak_rss_after_load},
      {"rss_after_load_bytes", rss_after_load},
      {"peak_rss_before_load_bytes", rss_before},
      {"zero_copy", !regions.empty()},
      {"fff_bytes", fff_bytes},
      {"fff_resident_after_load_bytes", resident},
      {"fff_resident_after_load_by_region", per_region}};
  if (o.load_only) {
    load["first_sentence_s"] = first_s;
    load["load_plus_first_sentence_s"] = load_s + first_s;
    load["rss_after_first_sentence_bytes"] = RssBytes();
    load["peak_rss_after_first_sentence_bytes"] = PeakRssBytes();
  }
  std::puts(load.dump().c_str());
  std::fprintf(stderr,
               "load %.3f s (%s page cache), peak RSS %.1f MB, RSS %.1f MB, "
               "FFF %s\n",
               load_s, o.warm ? "warm" : "cold", peak_rss_after_load / 1e6,
               rss_after_load / 1e6,
               regions.empty()
                   ? "copied (not a converted checkpoint)"
                   : fmt::format("mapped: {:.1f} of {:.1f} MB resident",
                                 resident / 1e6, fff_bytes / 1e6)
                         .c_str());
  if (o.load_only) {
    std::fprintf(stderr,
                 "first sentence %.3f s (load + first %.3f s), RSS after it "
                 "%.1f MB\n",
                 first_s, load_s + first_s, RssBytes() / 1e6);
    return Status::Ok();
  }
  if (regions.empty()) {
    return InvalidArgumentError(fmt::format(
        "{}: the FFF weights are not mapped (convert the checkpoint with `fff "
        "convert` first)",
        o.model_dir));
  }
  if (m.tokenizer() == nullptr) {
    return NotFoundError(fmt::format("{}: no tokenizer", o.model_dir));
  }
  std::ifstream in(o.texts_path);
  if (!in)
    return NotFoundError(fmt::format("--texts {}: cannot open", o.texts_path));
  FFF_ASSIGN_OR_RETURN(RoutingStats stats, RoutingStats::Create(m.config()));
  const ModelConfig& c = m.config();
  const int64_t row_bytes =
      (2 * c.d_model + 1) * 4;  // w_in + w_out rows + b_in
  EncodeOptions eo;
  eo.max_length = static_cast<size_t>(c.max_seq_length);
  EncoderTrace trace;
  trace.routing_only = true;
  std::vector<float> hidden;
  std::string table =
      "| sentences | tokens | visited nodes | visited row bytes | resident FFF "
      "bytes | resident share of FFF | resident / visited |\n"
      "|---:|---:|---:|---:|---:|---:|---:|\n";
  int64_t done = 0, tokens = 0;
  std::string line;
  bool eof = false;
  for (const int64_t point : o.points) {
    while (done < point && !eof) {
      const int64_t want =
          std::min<int64_t>(done == 0 ? 1 : o.batch, point - done);
      std::vector<std::vector<int32_t>> ids;
      while (static_cast<int64_t>(ids.size()) < want) {
        if (!std::getline(in, line)) {
          eof = true;
          break;
        }
        if (line.empty()) continue;
        FFF_ASSIGN_OR_RETURN(Encoding e, m.tokenizer()->Encode(line, eo));
        const int64_t n = static_cast<int64_t>(e.ids.size());
        if (done == 0 && o.first_tokens > 0 &&
            (n < o.first_tokens - 2 || n > o.first_tokens + 2)) {
          continue;  // looking for the first sentence's length
        }
        ids.push_back(std::move(e.ids));
      }
      if (ids.empty()) break;
      std::vector<std::span<const int32_t>> seqs(ids.begin(), ids.end());
      std::vector<int64_t> lengths;
      for (const auto& s : ids)
        lengths.push_back(static_cast<int64_t>(s.size()));
      FFF_RETURN_IF_ERROR(m.Encode(seqs, &hidden, &trace));
      FFF_RETURN_IF_ERROR(stats.Add(trace, lengths));
      done += static_cast<int64_t>(ids.size());
      for (int64_t l : lengths) tokens += l;
    }
    int64_t visited = 0;
    for (int64_t li = 0; li < stats.n_layers(); ++li) {
      for (int64_t t = 0; t < stats.n_trees(); ++t) {
        for (int64_t v : stats.visits(li, t)) visited += v > 0;
      }
    }
    resident = 0;
    for (const auto& r : regions) {
      FFF_ASSIGN_OR_RETURN(const int64_t b, ResidentBytes(r));
      resident += b;
    }
    const int64_t visited_bytes = visited * row_bytes;
    nlohmann::ordered_json j = {
        {"sentences", done},
        {"tokens", tokens},
        {"visited_nodes", visited},
        {"visited_row_bytes", visited_bytes},
        {"resident_fff_bytes", resident},
        {"fff_bytes", fff_bytes},
        {"resident_share", double(resident) / double(fff_bytes)},
        {"resident_over_visited", double(resident) / double(visited_bytes)},
        {"rss_bytes", RssBytes()},
        {"peak_rss_bytes", PeakRssBytes()}};
    std::puts(j.dump().c_str());
    std::fflush(stdout);
    table += fmt::format("| {} | {} | {} | {} | {} | {:.4f} | {:.3f} |\n", done,
                         tokens, visited, visited_bytes, resident,
                         double(resident) / double(fff_bytes),
                         double(resident) / double(visited_bytes));
    if (eof) break;
  }
  std::fputs(table.c_str(), stderr);
  return Status::Ok();
}

}  // namespace fff::bench
