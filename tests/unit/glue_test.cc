// GLUE data and metrics (tools/train/glue): the task table, the TSV reader on
// every staged split of shared/data/glue and on hostile files, and each
// metric against hand-computed values.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "tools/train/glue/glue_metrics.h"
#include "tools/train/glue/glue_tasks.h"

namespace fff::glue {
namespace {

namespace fs = std::filesystem;

// shared/data/glue, next to the checkout (tests/data/../../../shared).
const std::string kGlueDir = FFF_TEST_DATA_DIR "/../../../shared/data/glue";

// ---- Task table ------------------------------------------------------------

TEST(GlueTaskTest, ParsesNamesCaseInsensitively) {
  const std::map<std::string, GlueTask> cases = {
      {"cola", GlueTask::kCoLA},  {"CoLA", GlueTask::kCoLA},
      {"sst2", GlueTask::kSST2},  {"SST-2", GlueTask::kSST2},
      {"mrpc", GlueTask::kMRPC},  {"stsb", GlueTask::kSTSB},
      {"STS-B", GlueTask::kSTSB}, {"rte", GlueTask::kRTE},
      {"WNLI", GlueTask::kWNLI},  {"Qnli", GlueTask::kQNLI},
  };
  for (const auto& [name, task] : cases) {
    Result<GlueTask> got = ParseGlueTask(name);
    ASSERT_TRUE(got.ok()) << name << ": " << got.status().ToString();
    EXPECT_EQ(*got, task) << name;
  }
  for (GlueTask task : AllGlueTasks()) {
    const GlueTaskInfo& info = GetGlueTaskInfo(task);
    EXPECT_EQ(info.task, task);
    EXPECT_EQ(*ParseGlueTask(info.name), task) << info.name;
    EXPECT_EQ(*ParseGlueTask(info.folder), task) << info.folder;
  }
}

TEST(GlueTaskTest, RejectsUnknownNames) {
  Result<GlueTask> bad = ParseGlueTask("sst");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("got \"sst\""), std::string::npos)
      << bad.status().message();
  Result<GlueTask> mnli = ParseGlueTask("MNLI");
  ASSERT_FALSE(mnli.ok());
  EXPECT_EQ(mnli.status().code(), StatusCode::kNotFound);
  EXPECT_NE(mnli.status().message().find("missing"), std::string::npos);
  EXPECT_FALSE(ParseGlueTask("").ok());
}

TEST(GlueTaskTest, Table) {
  EXPECT_EQ(AllGlueTasks().size(), 7u);
  const GlueTaskInfo& cola = GetGlueTaskInfo(GlueTask::kCoLA);
  EXPECT_EQ(cola.folder, "CoLA");
  EXPECT_EQ(cola.n_labels, 2);
  EXPECT_FALSE(cola.is_pair);
  ASSERT_EQ(cola.metric_names.size(), 1u);
  EXPECT_EQ(cola.metric_names[0], "matthews");

  const GlueTaskInfo& stsb = GetGlueTaskInfo(GlueTask::kSTSB);
  EXPECT_EQ(stsb.folder, "STS-B");
  EXPECT_EQ(stsb.n_labels, 1);
  EXPECT_TRUE(stsb.is_pair);
  ASSERT_EQ(stsb.metric_names.size(), 2u);
  EXPECT_EQ(stsb.metric_names[0], "pearson");
  EXPECT_EQ(stsb.metric_names[1], "spearman");

  EXPECT_EQ(GetGlueTaskInfo(GlueTask::kSST2).folder, "SST-2");
  EXPECT_FALSE(GetGlueTaskInfo(GlueTask::kSST2).is_pair);
  ASSERT_EQ(GetGlueTaskInfo(GlueTask::kMRPC).metric_names.size(), 2u);
  EXPECT_EQ(GetGlueTaskInfo(GlueTask::kMRPC).metric_names[0], "f1");
  for (GlueTask task : AllGlueTasks()) {
    EXPECT_EQ(GetGlueTaskInfo(task).has_train_data, task != GlueTask::kQNLI);
  }
}

TEST(GlueTaskTest, HyperParamsFollowTheSpec) {
  for (GlueTask task : AllGlueTasks()) {
    const GlueHyperParams hp = DefaultGlueHyperParams(task);
    EXPECT_EQ(hp.n_epochs, 5);
    EXPECT_EQ(hp.batch_size, 16);
    EXPECT_DOUBLE_EQ(hp.lr, 4e-5);
    EXPECT_DOUBLE_EQ(hp.beta1, 0.9);
    EXPECT_DOUBLE_EQ(hp.beta2, 0.98);
    EXPECT_DOUBLE_EQ(hp.eps, 1e-6);
    EXPECT_DOUBLE_EQ(hp.weight_decay, 0.0);
    EXPECT_DOUBLE_EQ(hp.warmup_fraction, 0.1);
    EXPECT_EQ(hp.max_length, 128);
    EXPECT_DOUBLE_EQ(hp.grad_clip_norm, 0.0);
  }
}

// ---- The staged data
// ---------------------------------------------------------

struct SplitExpectation {
  GlueTask task;
  const char* split;
  int64_t n_rows;       // observed, = the official size
  int64_t n_label_1;    // rows with label 1 (-1: regression)
  const char* first_a;  // first example
  const char* first_b;
  float first_label;
};

// Observed with `awk -F'\t'` on the staged files and matching
// shared/data/README.md "Verification".
const SplitExpectation kSplits[] = {
    {GlueTask::kCoLA, "dev", 1043, 721,
     "The sailors rode the breeze clear of the rocks.", "", 1.0f},
    {GlueTask::kCoLA, "train", 8551, 6023,
     "Our friends won't buy this analysis, let alone the next one we "
     "propose.",
     "", 1.0f},
    {GlueTask::kSST2, "dev", 872, 444,
     "it 's a charming and often affecting journey . ", "", 1.0f},
    {GlueTask::kSST2, "train", 67349, 37569,
     "hide new secretions from the parental units ", "", 0.0f},
    {GlueTask::kMRPC, "dev", 408, 279,
     "He said the foodservice pie business doesn 't fit the company 's "
     "long-term growth strategy .",
     "\" The foodservice pie business does not fit our long-term growth "
     "strategy .",
     1.0f},
    {GlueTask::kMRPC, "train", 3668, 2474,
     "Amrozi accused his brother , whom he called \" the witness \" , of "
     "deliberately distorting his evidence .",
     "Referring to him as only \" the witness \" , Amrozi accused his "
     "brother of deliberately distorting his evidence .",
     1.0f},
    {GlueTask::kSTSB, "dev", 1500, -1, "A man with a hard hat is dancing.",
     "A man wearing a hard hat is dancing.", 5.0f},
    {GlueTask::kSTSB, "train", 5749, -1, "A plane is taking off.",
     "An air plane is taking off.", 5.0f},
    {GlueTask::kRTE, "dev", 277, 131,
     "Dana Reeve, the widow of the actor Christopher Reeve, has died of lung "
     "cancer at age 44, according to the Christopher Reeve Foundation.",
     "Christopher Reeve had an accident.", 1.0f},
    {GlueTask::kRTE, "train", 2490, 1241,
     "No Weapons of Mass Destruction Found in Iraq Yet.",
     "Weapons of Mass Destruction Found in Iraq.", 1.0f},
    {GlueTask::kWNLI, "dev", 71, 31,
     "The drain is clogged with hair. It has to be cleaned.",
     "The hair has to be cleaned.", 0.0f},
    {GlueTask::kWNLI, "train", 635, 312,
     "I stuck a pin through a carrot. When I pulled the pin out, it had a "
     "hole.",
     "The carrot had a hole.", 1.0f},
    {GlueTask::kQNLI, "dev", 5463, 2761,
     "What came into force after the new constitution was herald?",
     "As of that day, the new constitution heralding the Second Republic "
     "came into force.",
     0.0f},
};

TEST(GlueDataTest, SharedDataIsThere) {
  ASSERT_TRUE(fs::is_directory(kGlueDir))
      << kGlueDir << " is missing: the tests expect shared/data next to the "
      << "checkout";
}

TEST(GlueDataTest, LoadsEveryStagedSplit) {
  for (const SplitExpectation& e : kSplits) {
    const std::string name =
        std::string(GetGlueTaskInfo(e.task).folder) + " " + e.split;
    SCOPED_TRACE(name);
    Result<std::vector<GlueExample>> got =
        LoadGlueSplit(kGlueDir, e.task, e.split);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    const std::vector<GlueExample>& ex = *got;
    EXPECT_EQ(static_cast<int64_t>(ex.size()), e.n_rows);
    EXPECT_EQ(GlueExpectedRows(e.task, e.split), e.n_rows);
    ASSERT_FALSE(ex.empty());
    EXPECT_EQ(ex[0].text_a, e.first_a);
    EXPECT_EQ(ex[0].text_b, e.first_b);
    EXPECT_EQ(ex[0].label, e.first_label);

    const bool pair = GetGlueTaskInfo(e.task).is_pair;
    int64_t n_label_1 = 0;
    for (const GlueExample& x : ex) {
      EXPECT_FALSE(x.text_a.empty());
      EXPECT_EQ(x.text_b.empty(), !pair);
      if (e.n_label_1 >= 0) {
        EXPECT_TRUE(x.label == 0.0f || x.label == 1.0f) << x.label;
        n_label_1 += x.label == 1.0f;
      } else {
        EXPECT_GE(x.label, 0.0f);
        EXPECT_LE(x.label, 5.0f);
      }
    }
    if (e.n_label_1 >= 0) {
      EXPECT_EQ(n_label_1, e.n_label_1);
    }
  }
}

TEST(GlueDataTest, StsbScoresAreParsedExactly) {
  Result<std::vector<GlueExample>> train =
      LoadGlueSplit(kGlueDir, GlueTask::kSTSB, "train");
  ASSERT_TRUE(train.ok()) << train.status().ToString();
  double sum = 0.0;
  float lo = 5.0f, hi = 0.0f;
  for (const GlueExample& x : *train) {
    sum += x.label;
    lo = std::min(lo, x.label);
    hi = std::max(hi, x.label);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 5.0f);
  // README: train mean 2.701.
  EXPECT_NEAR(sum / static_cast<double>(train->size()), 2.701, 5e-4);
}

TEST(GlueDataTest, QnliTrainIsMissing) {
  EXPECT_FALSE(GlueExpectedRows(GlueTask::kQNLI, "train").has_value());
  Result<std::vector<GlueExample>> got =
      LoadGlueSplit(kGlueDir, GlueTask::kQNLI, "train");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  const std::string m = got.status().message();
  EXPECT_NE(m.find("QNLI/train.tsv"), std::string::npos) << m;
  EXPECT_NE(m.find("README"), std::string::npos) << m;
  EXPECT_NE(m.find("missing"), std::string::npos) << m;
}

TEST(GlueDataTest, RejectsOtherSplits) {
  Result<std::vector<GlueExample>> got =
      LoadGlueSplit(kGlueDir, GlueTask::kSST2, "test");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("expected train or dev, got \"test\""),
            std::string::npos)
      << got.status().message();
  EXPECT_FALSE(GlueExpectedRows(GlueTask::kSST2, "test").has_value());
}

// ---- Hostile files
// -----------------------------------------------------------

class GlueHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("fff_glue_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  // Writes <dir>/<folder of task>/dev.tsv and loads it.
  Result<std::vector<GlueExample>> Load(GlueTask task,
                                        const std::string& content) {
    const fs::path folder = dir_ / std::string(GetGlueTaskInfo(task).folder);
    fs::create_directories(folder);
    std::ofstream(folder / "dev.tsv", std::ios::binary) << content;
    return LoadGlueSplit(dir_.string(), task, "dev");
  }
  // Expects a DataLoss error whose message holds every one of `parts`.
  void ExpectError(GlueTask task, const std::string& content,
                   const std::vector<std::string>& parts) {
    Result<std::vector<GlueExample>> got = Load(task, content);
    ASSERT_FALSE(got.ok()) << "accepted: " << content;
    EXPECT_EQ(got.status().code(), StatusCode::kDataLoss)
        << got.status().ToString();
    for (const std::string& part : parts) {
      EXPECT_NE(got.status().message().find(part), std::string::npos)
          << "missing \"" << part << "\" in: " << got.status().message();
    }
  }

  fs::path dir_;
};

constexpr char kRteHeader[] = "index\tsentence1\tsentence2\tlabel\n";
constexpr char kWnliHeader[] = "index\tsentence1\tsentence2\tlabel\n";
constexpr char kStsbHeader[] =
    "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\t"
    "sentence2\tscore\n";
std::string StsbRow(const std::string& score) {
  return "0\tg\tf\t2012\t0001\tnone\tnone\tA b.\tC d.\t" + score + "\n";
}

TEST_F(GlueHostileTest, BadEntailmentLabel) {
  ExpectError(GlueTask::kRTE,
              std::string(kRteHeader) + "0\ta\tb\tentailment\n1\ta\tb\tmaybe\n",
              {"RTE/dev.tsv:3: label (column 4): expected entailment or "
               "not_entailment, got \"maybe\""});
}

TEST_F(GlueHostileTest, BadBinaryLabels) {
  ExpectError(GlueTask::kCoLA, "gj04\t1\t\tFine.\ngj04\t2\t*\tBad.\n",
              {"CoLA/dev.tsv:2: label (column 2): expected 0 or 1, got "
               "\"2\""});
  ExpectError(GlueTask::kWNLI, std::string(kWnliHeader) + "0\ta\tb\t1.0\n",
              {"WNLI/dev.tsv:2: label (column 4): expected 0 or 1, got "
               "\"1.0\""});
  ExpectError(GlueTask::kMRPC,
              "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
              "yes\t1\t2\ta\tb\n",
              {"MRPC/dev.tsv:2: Quality (column 1): expected 0 or 1, got "
               "\"yes\""});
  ExpectError(GlueTask::kSST2, "sentence\tlabel\ngood \t 1\n",
              {"SST-2/dev.tsv:2: label (column 2)", "got \" 1\""});
}

TEST_F(GlueHostileTest, WrongColumnCount) {
  ExpectError(GlueTask::kWNLI,
              std::string(kWnliHeader) + "0\ta\tb\t1\n1\ta b\t0\n",
              {"WNLI/dev.tsv:3: expected 4 tab-separated columns", "got 3"});
  ExpectError(GlueTask::kSST2, "sentence\tlabel\na\tb\t1\n",
              {"SST-2/dev.tsv:2: expected 2 tab-separated columns", "got 3"});
  ExpectError(GlueTask::kCoLA, "gj04\t1\tFine.\n",
              {"CoLA/dev.tsv:1: expected 4 tab-separated columns (source, "
               "label, original_label, sentence), got 3"});
  ExpectError(GlueTask::kSST2, "sentence\tlabel\na\t1\n\nb\t0\n",
              {"SST-2/dev.tsv:3:", "got an empty line"});
  // A file ending in a blank line has an empty last row, too.
  ExpectError(GlueTask::kSST2, "sentence\tlabel\na\t1\n\n",
              {"SST-2/dev.tsv:3:", "got an empty line"});
}

TEST_F(GlueHostileTest, QuotesAreNotSpecial) {
  // A CSV reader would join the two lines into one quoted field.
  Result<std::vector<GlueExample>> got =
      Load(GlueTask::kSST2, "sentence\tlabel\n\" open quote\t1\nclose \"\t0\n");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].text_a, "\" open quote");
  EXPECT_EQ((*got)[1].text_a, "close \"");
  // And a quoted tab still separates columns.
  ExpectError(GlueTask::kSST2, "sentence\tlabel\n\"a\tb\"\t1\n",
              {"SST-2/dev.tsv:2: expected 2 tab-separated columns", "got 3"});
}

TEST_F(GlueHostileTest, BadScores) {
  for (const std::string bad :
       {"abc", "", "5.5", "-0.5", "nan", "inf", "1.0x", " 1", "1e9"}) {
    SCOPED_TRACE(bad);
    ExpectError(GlueTask::kSTSB,
                std::string(kStsbHeader) + StsbRow("1.5") + StsbRow(bad),
                {"STS-B/dev.tsv:3: score (column 10): expected a number in "
                 "[0, 5], got \"" +
                 bad + "\""});
  }
  Result<std::vector<GlueExample>> ok =
      Load(GlueTask::kSTSB, std::string(kStsbHeader) + StsbRow("0") +
                                StsbRow("3.800") + StsbRow("5.000"));
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  ASSERT_EQ(ok->size(), 3u);
  EXPECT_EQ((*ok)[1].label, 3.8f);
  EXPECT_EQ((*ok)[1].text_a, "A b.");
  EXPECT_EQ((*ok)[1].text_b, "C d.");
}

TEST_F(GlueHostileTest, InvalidUtf8) {
  // Byte 0xff at byte column 5 of line 3, inside the sentence.
  ExpectError(GlueTask::kSST2, "sentence\tlabel\nok\t1\nabcd\xff\t0\n",
              {"SST-2/dev.tsv:3:5: sentence (column 1): expected UTF-8, got "
               "invalid byte 0xff"});
  // Overlong '/', a UTF-16 surrogate, a code point past U+10FFFF, a cut
  // sequence at the end of a field: all rejected.
  for (const std::string bad :
       {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\x80"}) {
    ExpectError(GlueTask::kRTE,
                std::string(kRteHeader) + "0\ta\tb" + bad + "\tentailment\n",
                {"RTE/dev.tsv:2:", "sentence2 (column 3): expected UTF-8"});
  }
  ExpectError(GlueTask::kRTE,
              std::string(kRteHeader) + "0\ta\tb\tentail" +
                  std::string(1, '\0') + "ment\n",
              {"RTE/dev.tsv:2:13: label (column 4): expected text, got a NUL "
               "byte"});
  // Well-formed multi-byte text passes untouched.
  Result<std::vector<GlueExample>> ok =
      Load(GlueTask::kSST2,
           "sentence\tlabel\nna\xC3\xAFve \xE2\x82\xAC "
           "\xF0\x9F\x98\x80\t1\n");
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)[0].text_a, "na\xC3\xAFve \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST_F(GlueHostileTest, EmptyAndHeaderOnlyFiles) {
  ExpectError(GlueTask::kSST2, "",
              {"SST-2/dev.tsv:1: empty file: expected the header "
               "\"sentence\\tlabel\""});
  ExpectError(GlueTask::kCoLA, "", {"CoLA/dev.tsv:1: empty file"});
  ExpectError(GlueTask::kMRPC, "\xEF\xBB\xBF", {"MRPC/dev.tsv:1: empty file"});
  ExpectError(GlueTask::kSST2, "sentence\tlabel\n",
              {"SST-2/dev.tsv:2: expected at least one data row"});
}

TEST_F(GlueHostileTest, WrongHeader) {
  // SST-2's test.tsv put where dev.tsv belongs.
  ExpectError(GlueTask::kSST2, "index\tsentence\n0\tgood\n",
              {"SST-2/dev.tsv:1: header: expected \"sentence\\tlabel\", got "
               "\"index\\tsentence\""});
  ExpectError(GlueTask::kQNLI, std::string(kRteHeader) + "0\ta\tb\t0\n",
              {"QNLI/dev.tsv:1: header: expected "
               "\"index\\tquestion\\tsentence\\tlabel\""});
}

TEST_F(GlueHostileTest, EmptySentence) {
  ExpectError(GlueTask::kRTE, std::string(kRteHeader) + "0\ta\t\tentailment\n",
              {"RTE/dev.tsv:2: sentence2 (column 3): expected a non-empty "
               "sentence"});
  ExpectError(GlueTask::kCoLA, "gj04\t1\t\t\n",
              {"CoLA/dev.tsv:1: sentence (column 4)"});
}

TEST_F(GlueHostileTest, AcceptsBomCrlfAndNoFinalNewline) {
  Result<std::vector<GlueExample>> got =
      Load(GlueTask::kRTE,
           "\xEF\xBB\xBF" + std::string("index\tsentence1\tsentence2\tlabel\r\n"
                                        "0\ta\tb\tnot_entailment\r\n"
                                        "1\tc\td\tentailment"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].text_a, "a");
  EXPECT_EQ((*got)[0].label, 1.0f);
  EXPECT_EQ((*got)[1].text_b, "d");
  EXPECT_EQ((*got)[1].label, 0.0f);
}

TEST_F(GlueHostileTest, MissingFile) {
  Result<std::vector<GlueExample>> got =
      LoadGlueSplit(dir_.string(), GlueTask::kRTE, "train");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("RTE/train.tsv: no such file"),
            std::string::npos)
      << got.status().message();
}

// ---- Metrics
// -----------------------------------------------------------------

TEST(GlueMetricsTest, Accuracy) {
  const std::vector<float> pred = {1, 0, 1, 1};
  const std::vector<float> label = {1, 0, 0, 1};
  EXPECT_DOUBLE_EQ(Accuracy(pred, label), 0.75);
  EXPECT_DOUBLE_EQ(Accuracy(label, label), 1.0);
  EXPECT_DOUBLE_EQ(Accuracy({}, {}), 0.0);
  const std::vector<float> nan = {std::nanf(""), 0, 0, 1};
  EXPECT_DOUBLE_EQ(Accuracy(nan, label), 0.75);
  EXPECT_DOUBLE_EQ(Accuracy(nan, nan), 0.75);  // NaN matches nothing
}

TEST(GlueMetricsTest, BinaryF1) {
  // tp 2, fp 1, fn 0: 4 / 5.
  EXPECT_DOUBLE_EQ(
      BinaryF1(std::vector<float>{1, 0, 1, 1}, std::vector<float>{1, 0, 0, 1}),
      0.8);
  // tp 2, fp 1, fn 2: 4 / 7.
  EXPECT_DOUBLE_EQ(BinaryF1(std::vector<float>{0, 0, 1, 0, 1, 1},
                            std::vector<float>{1, 0, 1, 1, 0, 1}),
                   4.0 / 7.0);
  const std::vector<float> zeros = {0, 0, 0};
  const std::vector<float> ones = {1, 1, 1};
  EXPECT_DOUBLE_EQ(BinaryF1(ones, ones), 1.0);
  EXPECT_DOUBLE_EQ(BinaryF1(zeros, ones), 0.0);   // nothing predicted
  EXPECT_DOUBLE_EQ(BinaryF1(ones, zeros), 0.0);   // nothing to find
  EXPECT_DOUBLE_EQ(BinaryF1(zeros, zeros), 0.0);  // 2tp+fp+fn = 0
  EXPECT_DOUBLE_EQ(BinaryF1({}, {}), 0.0);
  // Predicting positive everywhere: precision = base rate, recall 1.
  EXPECT_DOUBLE_EQ(
      BinaryF1(std::vector<float>{1, 1, 1, 1}, std::vector<float>{1, 0, 0, 0}),
      2.0 / 5.0);
}

TEST(GlueMetricsTest, MatthewsCorrelation) {
  // scikit-learn's docstring example, -1 mapped to 0: -1/3.
  EXPECT_NEAR(MatthewsCorrelation(std::vector<float>{1, 0, 1, 1},
                                  std::vector<float>{1, 1, 1, 0}),
              -1.0 / 3.0, 1e-15);
  // tp 3, tn 4, fp 1, fn 2: (12 - 2) / sqrt(4·5·5·6) = 10 / sqrt(600).
  const std::vector<float> pred = {1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
  const std::vector<float> label = {1, 1, 1, 0, 1, 1, 0, 0, 0, 0};
  EXPECT_NEAR(MatthewsCorrelation(pred, label), 10.0 / std::sqrt(600.0), 1e-15);
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(label, label), 1.0);
  std::vector<float> inverted;
  for (float v : label) inverted.push_back(1.0f - v);
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(inverted, label), -1.0);
  // A constant predictor has an empty marginal: 0.
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(std::vector<float>(10, 1.0f), label),
                   0.0);
  EXPECT_DOUBLE_EQ(MatthewsCorrelation(std::vector<float>(10, 0.0f), label),
                   0.0);
  EXPECT_DOUBLE_EQ(MatthewsCorrelation({}, {}), 0.0);
}

TEST(GlueMetricsTest, Pearson) {
  const std::vector<float> x = {1, 2, 3, 4, 5};
  const std::vector<float> y = {2, 4, 5, 4, 5};
  // sxy 6, sxx 10, syy 6.
  EXPECT_NEAR(PearsonCorrelation(x, y), 6.0 / std::sqrt(60.0), 1e-15);
  EXPECT_DOUBLE_EQ(PearsonCorrelation(x, x), 1.0);
  const std::vector<float> neg = {10, 8, 6, 4, 2};
  EXPECT_DOUBLE_EQ(PearsonCorrelation(x, neg), -1.0);
  // Degenerate: constant vector, fewer than 2 values.
  EXPECT_DOUBLE_EQ(PearsonCorrelation(x, std::vector<float>(5, 3.0f)), 0.0);
  EXPECT_DOUBLE_EQ(
      PearsonCorrelation(std::vector<float>{1}, std::vector<float>{2}), 0.0);
  EXPECT_DOUBLE_EQ(PearsonCorrelation({}, {}), 0.0);
  // A diverged model is not a score.
  const std::vector<float> nan = {1, 2, std::nanf(""), 4, 5};
  EXPECT_TRUE(std::isnan(PearsonCorrelation(nan, y)));
  const std::vector<float> inf = {1, 2, INFINITY, 4, 5};
  EXPECT_TRUE(std::isnan(PearsonCorrelation(y, inf)));
}

TEST(GlueMetricsTest, AverageRanks) {
  const std::vector<double> ranks =
      AverageRanks(std::vector<float>{10, 20, 10, 30, 20, 10});
  const std::vector<double> want = {2, 4.5, 2, 6, 4.5, 2};
  EXPECT_EQ(ranks, want);
  EXPECT_TRUE(AverageRanks({}).empty());
}

TEST(GlueMetricsTest, Spearman) {
  // y's ranks with ties: {1, 2.5, 4.5, 2.5, 4.5}; sxy 7, sxx 10, syy 9
  // (scipy.stats.spearmanr gives 0.7378647873726218).
  const std::vector<float> x = {1, 2, 3, 4, 5};
  const std::vector<float> y = {2, 4, 5, 4, 5};
  EXPECT_NEAR(SpearmanCorrelation(x, y), 7.0 / std::sqrt(90.0), 1e-15);
  // Monotone but not linear: rho 1, r < 1.
  const std::vector<float> cubes = {1, 8, 27, 64, 125};
  EXPECT_DOUBLE_EQ(SpearmanCorrelation(x, cubes), 1.0);
  EXPECT_LT(PearsonCorrelation(x, cubes), 0.99);
  const std::vector<float> down = {5, 3, 2, 1, -7};
  EXPECT_DOUBLE_EQ(SpearmanCorrelation(x, down), -1.0);
  EXPECT_DOUBLE_EQ(SpearmanCorrelation(x, std::vector<float>(5, 2.0f)), 0.0);
  const std::vector<float> nan = {1, std::nanf(""), 3, 4, 5};
  EXPECT_TRUE(std::isnan(SpearmanCorrelation(nan, y)));
}

TEST(GlueMetricsTest, ScoreGlueUsesGlueNamesInPercent) {
  const std::vector<float> pred = {1, 0, 1, 1};
  const std::vector<float> label = {1, 0, 0, 1};

  const GlueScores mrpc = ScoreGlue(GlueTask::kMRPC, pred, label);
  ASSERT_EQ(mrpc.metrics.size(), 2u);
  EXPECT_DOUBLE_EQ(mrpc.metrics.at("f1"), 80.0);
  EXPECT_DOUBLE_EQ(mrpc.metrics.at("accuracy"), 75.0);
  EXPECT_DOUBLE_EQ(mrpc.main, 77.5);

  const GlueScores rte = ScoreGlue(GlueTask::kRTE, pred, label);
  ASSERT_EQ(rte.metrics.size(), 1u);
  EXPECT_DOUBLE_EQ(rte.metrics.at("accuracy"), 75.0);
  EXPECT_DOUBLE_EQ(rte.main, 75.0);

  const GlueScores cola =
      ScoreGlue(GlueTask::kCoLA, std::vector<float>{1, 0, 1, 1},
                std::vector<float>{1, 1, 1, 0});
  ASSERT_EQ(cola.metrics.size(), 1u);
  EXPECT_NEAR(cola.metrics.at("matthews"), -100.0 / 3.0, 1e-12);
  EXPECT_DOUBLE_EQ(cola.main, cola.metrics.at("matthews"));

  const std::vector<float> x = {1, 2, 3, 4, 5};
  const std::vector<float> y = {2, 4, 5, 4, 5};
  const GlueScores stsb = ScoreGlue(GlueTask::kSTSB, x, y);
  ASSERT_EQ(stsb.metrics.size(), 2u);
  EXPECT_NEAR(stsb.metrics.at("pearson"), 100.0 * 6.0 / std::sqrt(60.0), 1e-12);
  EXPECT_NEAR(stsb.metrics.at("spearman"), 100.0 * 7.0 / std::sqrt(90.0),
              1e-12);
  EXPECT_NEAR(stsb.main,
              0.5 * (stsb.metrics.at("pearson") + stsb.metrics.at("spearman")),
              1e-12);

  // Every task reports exactly the names its table entry lists.
  for (GlueTask task : AllGlueTasks()) {
    const GlueScores s = ScoreGlue(task, pred, label);
    const GlueTaskInfo& info = GetGlueTaskInfo(task);
    ASSERT_EQ(s.metrics.size(), info.metric_names.size()) << info.name;
    for (std::string_view name : info.metric_names) {
      EXPECT_EQ(s.metrics.count(std::string(name)), 1u) << name;
    }
  }
}

TEST(GlueMetricsTest, ScoresTheRealLabelsPerfectly) {
  for (GlueTask task : AllGlueTasks()) {
    Result<std::vector<GlueExample>> dev = LoadGlueSplit(kGlueDir, task, "dev");
    ASSERT_TRUE(dev.ok()) << dev.status().ToString();
    std::vector<float> labels;
    for (const GlueExample& x : *dev) labels.push_back(x.label);
    const GlueScores s = ScoreGlue(task, labels, labels);
    EXPECT_NEAR(s.main, 100.0, 1e-9) << GetGlueTaskInfo(task).name;
  }
}

TEST(GlueMetricsTest, GlueAverageExcludesWnli) {
  std::map<GlueTask, GlueScores> scores;
  scores[GlueTask::kCoLA].main = 40.0;
  scores[GlueTask::kSST2].main = 90.0;
  scores[GlueTask::kWNLI].main = 0.0;
  EXPECT_DOUBLE_EQ(GlueAverage(scores), 65.0);
  scores[GlueTask::kRTE].main = 50.0;
  EXPECT_DOUBLE_EQ(GlueAverage(scores), 60.0);
  EXPECT_TRUE(std::isnan(GlueAverage({})));
  EXPECT_TRUE(std::isnan(GlueAverage({{GlueTask::kWNLI, GlueScores{}}})));
}

}  // namespace
}  // namespace fff::glue
