#include "tools/train/glue/glue_tasks.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <system_error>
#include <utility>

namespace fff::glue {
namespace {

constexpr std::array<GlueTask, 7> kAllTasks = {
    GlueTask::kCoLA, GlueTask::kSST2, GlueTask::kMRPC, GlueTask::kSTSB,
    GlueTask::kRTE,  GlueTask::kWNLI, GlueTask::kQNLI};

constexpr std::array<std::string_view, 1> kMatthews = {"matthews"};
constexpr std::array<std::string_view, 2> kPearsonSpearman = {"pearson",
                                                              "spearman"};
constexpr std::array<std::string_view, 2> kF1Accuracy = {"f1", "accuracy"};
constexpr std::array<std::string_view, 1> kAccuracy = {"accuracy"};

// Indexed by the enumerator's value.
const std::array<GlueTaskInfo, 7> kInfos = {{
    {GlueTask::kCoLA, "cola", "CoLA", 2, false, true, kMatthews},
    {GlueTask::kSST2, "sst2", "SST-2", 2, false, true, kAccuracy},
    {GlueTask::kMRPC, "mrpc", "MRPC", 2, true, true, kF1Accuracy},
    {GlueTask::kSTSB, "stsb", "STS-B", 1, true, true, kPearsonSpearman},
    {GlueTask::kRTE, "rte", "RTE", 2, true, true, kAccuracy},
    {GlueTask::kWNLI, "wnli", "WNLI", 2, true, true, kAccuracy},
    {GlueTask::kQNLI, "qnli", "QNLI", 2, true, false, kAccuracy},
}};

enum class LabelKind {
  kBinary,      // "0" / "1"
  kEntailment,  // "entailment" -> 0 / "not_entailment" -> 1
  kScore,       // a number in [0, 5]
};

// The TSV layout of a task's train/dev files (checked against every staged
// file; see shared/data/README.md "Format notes").
struct Layout {
  // Column names joined by '\t'; also the exact header line when has_header.
  std::string_view columns;
  bool has_header;  // CoLA's files have none
  int col_a;        // 0-based column of text_a
  int col_b;        // of text_b, -1 for single-sentence tasks
  int col_label;
  LabelKind label_kind;
};

const Layout& GetLayout(GlueTask task) {
  static const std::array<Layout, 7> kLayouts = {{
      {"source\tlabel\toriginal_label\tsentence", false, 3, -1, 1,
       LabelKind::kBinary},
      {"sentence\tlabel", true, 0, -1, 1, LabelKind::kBinary},
      {"Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", true, 3, 4, 0,
       LabelKind::kBinary},
      {"index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1"
       "\tsentence2\tscore",
       true, 7, 8, 9, LabelKind::kScore},
      {"index\tsentence1\tsentence2\tlabel", true, 1, 2, 3,
       LabelKind::kEntailment},
      {"index\tsentence1\tsentence2\tlabel", true, 1, 2, 3, LabelKind::kBinary},
      {"index\tquestion\tsentence\tlabel", true, 1, 2, 3,
       LabelKind::kEntailment},
  }};
  return kLayouts[static_cast<int>(task)];
}

struct ExpectedRows {
  int64_t train;  // -1: not staged
  int64_t dev;
};

constexpr std::array<ExpectedRows, 7> kExpectedRows = {{
    {8551, 1043},  // CoLA
    {67349, 872},  // SST-2
    {3668, 408},   // MRPC
    {5749, 1500},  // STS-B
    {2490, 277},   // RTE
    {635, 71},     // WNLI
    {-1, 5463},    // QNLI
}};

std::vector<std::string_view> SplitTabs(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (true) {
    const size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return fields;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

// `s` in double quotes for an error message: control characters, quotes
// and backslashes escaped, cut after ~60 bytes (at a character boundary;
// `s` is valid UTF-8 here).
std::string Quoted(std::string_view s) {
  constexpr size_t kMaxBytes = 60;
  std::string out = "\"";
  size_t i = 0;
  for (; i < s.size() && i < kMaxBytes; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  // Finish a multi-byte character cut by the limit.
  while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) {
    out += s[i++];
  }
  out += '"';
  if (i < s.size()) out += "...";
  return out;
}

// The offset of the first byte of `s` that is not part of well-formed UTF-8
// (Unicode Table 3-7: no overlongs, surrogates or code points > U+10FFFF),
// or npos.
size_t FindInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    unsigned char lo = 0x80, hi = 0xBF;  // range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return i;
    }
    if (i + 1 >= n || p[i + 1] < lo || p[i + 1] > hi) return i;
    for (int k = 2; k < len; ++k) {
      if (i + k >= n || (p[i + k] & 0xC0) != 0x80) return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

Status DataLoss(std::string message) {
  return Status(StatusCode::kDataLoss, std::move(message));
}

// The whole file, or NotFound / an errno error naming it.
Result<std::string> ReadFile(const std::string& path, GlueTask task,
                             const std::string& split) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    const int err = errno;
    const GlueTaskInfo& info = GetGlueTaskInfo(task);
    if (err == ENOENT) {
      if (split == "train" && !info.has_train_data) {
        return NotFoundError(
            path + ": no such file: the " + std::string(info.folder) +
            " train split is not staged (shared/data/README.md lists " +
            std::string(info.folder) +
            " train as missing; only its dev split is available)");
      }
      return NotFoundError(path + ": no such file (GLUE " +
                           std::string(info.folder) + " " + split + " split)");
    }
    return InvalidArgumentError(
        path + ": cannot open: " + std::generic_category().message(err));
  }
  std::string content;
  char buf[1 << 16];
  size_t got = 0;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0) {
    content.append(buf, got);
  }
  const bool failed = std::ferror(f) != 0;
  const int err = errno;
  std::fclose(f);
  if (failed) {
    return DataLoss(path +
                    ": read failed: " + std::generic_category().message(err));
  }
  return content;
}

// "label (column 2)"
std::string FieldName(const std::vector<std::string_view>& names, int col) {
  return std::string(names[col]) + " (column " + std::to_string(col + 1) + ")";
}

std::string JoinNames(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  return out;
}

}  // namespace

std::span<const GlueTask> AllGlueTasks() { return kAllTasks; }

const GlueTaskInfo& GetGlueTaskInfo(GlueTask task) {
  return kInfos[static_cast<int>(task)];
}

Result<GlueTask> ParseGlueTask(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (const GlueTaskInfo& info : kInfos) {
    if (lower == info.name) return info.task;
  }
  if (lower == "sst-2") return GlueTask::kSST2;
  if (lower == "sts-b") return GlueTask::kSTSB;
  const std::string accepted =
      "cola, sst2 (sst-2), mrpc, stsb (sts-b), rte, wnli, qnli";
  if (lower == "mnli" || lower == "qqp") {
    return NotFoundError("glue task: " + Quoted(name) +
                         " is not staged (shared/data/README.md lists it as "
                         "missing); available: " +
                         accepted);
  }
  return InvalidArgumentError("glue task: expected one of " + accepted +
                              ", got " + Quoted(name));
}

std::optional<int64_t> GlueExpectedRows(GlueTask task, std::string_view split) {
  const ExpectedRows& rows = kExpectedRows[static_cast<int>(task)];
  int64_t n = -1;
  if (split == "train") n = rows.train;
  if (split == "dev") n = rows.dev;
  if (n < 0) return std::nullopt;
  return n;
}

GlueHyperParams DefaultGlueHyperParams(GlueTask task) {
  (void)task;  // one recipe for every task (see the header on CoLA)
  return GlueHyperParams{};
}

Result<std::vector<GlueExample>> LoadGlueSplit(const std::string& glue_dir,
                                               GlueTask task,
                                               const std::string& split) {
  if (split != "train" && split != "dev") {
    return InvalidArgumentError("glue split: expected train or dev, got " +
                                Quoted(split));
  }
  const GlueTaskInfo& info = GetGlueTaskInfo(task);
  const Layout& layout = GetLayout(task);
  const std::string path =
      glue_dir + "/" + std::string(info.folder) + "/" + split + ".tsv";
  FFF_ASSIGN_OR_RETURN(std::string content, ReadFile(path, task, split));

  const std::vector<std::string_view> names = SplitTabs(layout.columns);
  const int n_columns = static_cast<int>(names.size());
  std::string_view text(content);
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (text.empty()) {
    return DataLoss(
        path + ":1: empty file: expected " +
        (layout.has_header
             ? "the header " + Quoted(layout.columns)
             : std::string("a data row with ") + std::to_string(n_columns) +
                   " tab-separated columns (" + JoinNames(names) + ")"));
  }

  std::vector<GlueExample> examples;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    ++line_no;
    const size_t nl = text.find('\n', pos);
    std::string_view line = nl == std::string_view::npos
                                ? text.substr(pos)
                                : text.substr(pos, nl - pos);
    pos = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string where = path + ":" + std::to_string(line_no);

    // Encoding first, so that every later message quotes valid UTF-8.
    const size_t bad = FindInvalidUtf8(line);
    const size_t nul = line.find('\0');
    if (bad != std::string_view::npos || nul != std::string_view::npos) {
      const bool is_nul = nul != std::string_view::npos &&
                          (bad == std::string_view::npos || nul < bad);
      const size_t at = is_nul ? nul : bad;
      const int col =
          static_cast<int>(std::count(line.begin(), line.begin() + at, '\t'));
      char byte[8];
      std::snprintf(byte, sizeof(byte), "0x%02x",
                    static_cast<unsigned char>(line[at]));
      std::string field = col < n_columns ? FieldName(names, col)
                                          : "column " + std::to_string(col + 1);
      return DataLoss(
          where + ":" + std::to_string(at + 1) + ": " + field +
          (is_nul ? ": expected text, got a NUL byte"
                  : ": expected UTF-8, got invalid byte " + std::string(byte)));
    }

    if (line_no == 1 && layout.has_header) {
      if (line != layout.columns) {
        return DataLoss(where + ": header: expected " + Quoted(layout.columns) +
                        ", got " + Quoted(line));
      }
      continue;
    }

    const std::vector<std::string_view> fields = SplitTabs(line);
    if (static_cast<int>(fields.size()) != n_columns) {
      return DataLoss(where + ": expected " + std::to_string(n_columns) +
                      " tab-separated columns (" + JoinNames(names) +
                      "), got " +
                      (line.empty() ? std::string("an empty line")
                                    : std::to_string(fields.size())));
    }

    GlueExample ex;
    const std::string_view label = fields[layout.col_label];
    switch (layout.label_kind) {
      case LabelKind::kBinary:
        if (label == "0") {
          ex.label = 0.0f;
        } else if (label == "1") {
          ex.label = 1.0f;
        } else {
          return DataLoss(where + ": " + FieldName(names, layout.col_label) +
                          ": expected 0 or 1, got " + Quoted(label));
        }
        break;
      case LabelKind::kEntailment:
        if (label == "entailment") {
          ex.label = 0.0f;
        } else if (label == "not_entailment") {
          ex.label = 1.0f;
        } else {
          return DataLoss(where + ": " + FieldName(names, layout.col_label) +
                          ": expected entailment or not_entailment, got " +
                          Quoted(label));
        }
        break;
      case LabelKind::kScore: {
        float score = 0.0f;
        const char* end = label.data() + label.size();
        const auto [ptr, ec] = std::from_chars(label.data(), end, score);
        if (label.empty() || ec != std::errc() || ptr != end ||
            !std::isfinite(score) || score < 0.0f || score > 5.0f) {
          return DataLoss(where + ": " + FieldName(names, layout.col_label) +
                          ": expected a number in [0, 5], got " +
                          Quoted(label));
        }
        ex.label = score;
        break;
      }
    }

    for (const int col : {layout.col_a, layout.col_b}) {
      if (col >= 0 && fields[col].empty()) {
        return DataLoss(where + ": " + FieldName(names, col) +
                        ": expected a non-empty sentence, got \"\"");
      }
    }
    ex.text_a = std::string(fields[layout.col_a]);
    if (layout.col_b >= 0) ex.text_b = std::string(fields[layout.col_b]);
    examples.push_back(std::move(ex));
  }

  if (examples.empty()) {
    return DataLoss(path + ":" + std::to_string(line_no + 1) +
                    ": expected at least one data row after the header, got "
                    "end of file");
  }
  return examples;
}

}  // namespace fff::glue
