// `mmtrain bench-real perov5` and `sem`: option checks, the presets, and quick runs on the
// real data (skipped without it) with a tiny model, in both modes (split / cross-validation
// of the training data, and a separate test file or folder).
#include "train/bench_real.h"

#include <cmath>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "corpus/manifest.h"
#include "materials/perov5.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"
#include "train/config.h"

namespace matalign::train {
namespace {

using Json = nlohmann::json;
using ::matalign::testing::TempDir;

// A model small enough that the quick runs train in seconds.
constexpr char kTinyModel[] = R"(
model:
  embed_dim: 16
  graph: {layers: 1, hidden: 16, num_rbf: 8}
  text: {layers: 1, heads: 2, hidden: 16, ffn: 16, max_length: 48}
  image: {depth: 18, base_width: 4, input_size: 32}
  property: {properties: [heat_all], hidden: 16}
  heads: {properties: [heat_all], hidden: 16}
tokenizer: {vocab_size: 200}
train:
  batch_size: 32
  warmup_steps: 2
  image_kinds: [sem, xrd]
  loss_weights: {graph_text: 0, graph_image: 0, text_image: 0, property_graph: 0,
                 property_text: 0, property_head: 1, defect_head: 1}
)";

BenchRealOptions QuickOptions(const TempDir& tmp, const std::string& train) {
  BenchRealOptions o;
  o.train = train;
  o.out = tmp.Join("report");
  o.config = tmp.Join("tiny.yaml");
  EXPECT_OK(WriteFileAtomic(o.config, kTinyModel));
  o.epochs = 2;
  o.max_items = 150;
  o.folds = 2;
  o.device = "cpu";
  // One intra-op thread: OpenMP workers of a second thread pool (the batch loader's) would
  // spin against each other in this process, which does not set OMP_WAIT_POLICY as mmtrain
  // does.
  o.threads = 1;
  return o;
}

Json ReadReport(const std::string& out) {
  absl::StatusOr<std::string> text = ReadFile(out + "/report.json");
  EXPECT_OK(text);
  EXPECT_TRUE(std::filesystem::exists(out + "/report.md"));
  return text.ok() ? Json::parse(*text) : Json();
}

bool Finite(const Json& j) { return j.is_number() && std::isfinite(j.get<double>()); }

// Writes rows [begin, end) of the real perov5 CSV as a CSV of the same format.
std::string WritePerov5Subset(const std::string& csv, size_t begin, size_t end,
                              const std::string& path) {
  absl::StatusOr<std::vector<materials::Perov5Row>> rows = materials::ReadPerov5Csv(csv);
  EXPECT_OK(rows);
  std::string out = ",material_id,cif,formula,heat_all,heat_ref,dir_gap,ind_gap\n";
  for (size_t i = begin; rows.ok() && i < end && i < rows->size(); ++i) {
    const materials::Perov5Row& r = (*rows)[i];
    absl::StrAppend(&out, i, ",", r.material_id, ",\"",
                    absl::StrReplaceAll(r.cif, {{"\"", "\"\""}}), "\",", r.formula, ",", r.heat_all,
                    ",", r.heat_ref, ",", r.dir_gap, ",", r.ind_gap, "\n");
  }
  EXPECT_OK(WriteFileAtomic(path, out));
  return path;
}

TEST(BenchRealOptionsTest, Validate) {
  BenchRealOptions ok;
  ok.train = "data.csv";
  ok.out = "out";
  EXPECT_OK(ok.Validate());
  auto expect_invalid = [&](const BenchRealOptions& o, const std::string& flag) {
    absl::Status s = o.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << flag;
    EXPECT_NE(s.message().find(flag), std::string::npos) << s;
  };
  BenchRealOptions o = ok;
  o.train = "";
  expect_invalid(o, "--train");
  o = ok;
  o.out = "";
  expect_invalid(o, "--out");
  o = ok;
  o.epochs = -1;
  expect_invalid(o, "--epochs");
  o = ok;
  o.max_items = -5;
  expect_invalid(o, "--max-items");
  o = ok;
  o.folds = 1;
  expect_invalid(o, "--folds");
  for (double f : {0.0, -0.1, 0.6, std::nan("")}) {
    o = ok;
    o.val_fraction = f;
    expect_invalid(o, "--val-fraction");
  }
  o = ok;
  o.device = "tpu";
  expect_invalid(o, "--device");
  o = ok;
  o.threads = -1;
  expect_invalid(o, "--threads");
}

TEST(BenchRealOptionsTest, ErrorsBeforeTraining) {
  TempDir tmp;
  BenchRealOptions o;
  o.train = tmp.Join("missing.csv");
  o.out = tmp.Join("out");
  o.folds = 0;
  EXPECT_EQ(BenchRealPerov5(o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BenchRealSem(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.folds = 5;
  o.config = tmp.Join("no-such-config.yaml");
  EXPECT_EQ(BenchRealPerov5(o).status().code(), absl::StatusCode::kNotFound);
  o.config = "";
  // The presets are found; the missing input is named.
  absl::Status missing = BenchRealPerov5(o).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("missing.csv"), std::string::npos) << missing;
  missing = BenchRealSem(o).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("labels.csv"), std::string::npos) << missing;
  // A perov5 config without the heat_all head is refused.
  ASSERT_OK(WriteFileAtomic(tmp.Join("nohead.yaml"), "model: {heads: {properties: [x]}}\n"));
  o.config = tmp.Join("nohead.yaml");
  absl::Status s = BenchRealPerov5(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("heat_all"), std::string::npos) << s;
  // An SEM config that does not train the classifier on SEM images is refused.
  ASSERT_OK(WriteFileAtomic(tmp.Join("xrd.yaml"), "train: {image_kinds: [xrd]}\n"));
  o.config = tmp.Join("xrd.yaml");
  s = BenchRealSem(o).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("image_kinds"), std::string::npos) << s;
}

TEST(BenchRealPresetsTest, Parse) {
  const std::string dir = std::string(MATALIGN_SOURCE_DIR) + "/configs/";
  ASSERT_OK_AND_ASSIGN(TrainConfig perov5, LoadTrainConfig(dir + "bench-perov5.yaml"));
  EXPECT_EQ(perov5.model.heads.properties, std::vector<std::string>{"heat_all"});
  EXPECT_EQ(perov5.train.loss_weights.graph_text, 0);
  EXPECT_EQ(perov5.train.loss_weights.property_head, 1);
  ASSERT_OK_AND_ASSIGN(TrainConfig sem, LoadTrainConfig(dir + "bench-sem.yaml"));
  EXPECT_EQ(sem.train.image_kinds, std::vector<std::string>{"sem"});
  EXPECT_EQ(sem.train.loss_weights.text_image, 0);
  EXPECT_GT(sem.train.loss_weights.defect_head, 0);
  EXPECT_TRUE(sem.model.heads.defect_classes.empty());  // set from the data
}

void ExpectRegression(const Json& run, int test_items) {
  EXPECT_TRUE(Finite(run["mae"])) << run.dump();
  EXPECT_GT(run["mae"].get<double>(), 0);
  EXPECT_GE(run["rmse"].get<double>(), run["mae"].get<double>());
  EXPECT_EQ(run["n"], test_items);
  EXPECT_TRUE(Finite(run["training"]["seconds"]));
  EXPECT_FALSE(run["training"]["bundle"].get<std::string>().empty());
}

TEST(BenchRealPerov5Test, QuickRunSplitsTheTrainingFile) {
  MATALIGN_REAL_DATA_OR_SKIP(csv, "perov5/perov5_train.csv");
  TempDir tmp;
  BenchRealOptions o = QuickOptions(tmp, csv);
  ASSERT_OK_AND_ASSIGN(Json returned, BenchRealPerov5(o));
  Json r = ReadReport(o.out);
  EXPECT_EQ(r, returned);
  const Json& d = r["data"];
  EXPECT_TRUE(d["test_file"].is_null());
  EXPECT_EQ(d["train"].get<int>() + d["val"].get<int>() + d["test"].get<int>(), 150);
  EXPECT_EQ(d["test"], 15);  // 10% held out
  EXPECT_EQ(d["val"], 14);   // 10% of the rest
  ExpectRegression(r["plain"], 15);
  ExpectRegression(r["pretrained"], 15);
  EXPECT_TRUE(Finite(r["pretrained"]["pretraining"]["seconds"]));
  EXPECT_EQ(r["pretrained"]["pretraining"]["corpus"]["records"], 135);
  EXPECT_EQ(r["pretrained"]["pretraining"]["corpus"]["problems"], 0);
  // Pre-training is contrastive: it reports structure->text recall, not the head's MAE.
  EXPECT_TRUE(r["pretrained"]["pretraining"]["val"].contains("recall@5_g2t"))
      << r["pretrained"]["pretraining"].dump();
  EXPECT_EQ(r["plain"]["training"]["selection_metric"], "mae_heat_all");
  EXPECT_TRUE(Finite(r["dummy"]["mae"]));
  EXPECT_GT(r["dummy"]["mae"].get<double>(), 0);
  EXPECT_TRUE(r["pretraining_lowers_mae"].is_boolean());
  EXPECT_NEAR(r["pretraining_mae_change"].get<double>(),
              r["pretrained"]["mae"].get<double>() - r["plain"]["mae"].get<double>(), 1e-12);
  ASSERT_EQ(r["reference"].size(), 4u);
  EXPECT_EQ(r["reference"][3]["model"], "ALIGNN");
  // The pre-training corpus holds the train + val structures only, without labels, each
  // with a synthetic text and an XRD image.
  const std::string work = o.out + "/work/perov5";
  ASSERT_OK_AND_ASSIGN(std::vector<corpus::Record> pretrain,
                       corpus::ReadManifest(work + "/pretrain-corpus/manifest.jsonl"));
  ASSERT_OK_AND_ASSIGN(std::vector<corpus::Record> test,
                       corpus::ReadManifest(work + "/data/test.jsonl"));
  ASSERT_EQ(test.size(), 15u);
  std::set<std::string> test_ids;
  for (const corpus::Record& t : test) test_ids.insert(t.id);
  ASSERT_EQ(pretrain.size(), 135u);
  for (const corpus::Record& p : pretrain) {
    EXPECT_EQ(test_ids.count(p.id), 0u) << p.id;
    EXPECT_TRUE(p.properties.empty()) << p.id;
    ASSERT_TRUE(p.synthesis.has_value()) << p.id;
    EXPECT_FALSE(p.synthesis->text.empty()) << p.id;
    ASSERT_EQ(p.images.size(), 1u) << p.id;
    EXPECT_EQ(p.images[0].kind, "xrd");
  }
  EXPECT_EQ(r["config"]["train"]["epochs"], 2);
  EXPECT_EQ(r["pretrain_config"]["model"]["heads"]["properties"].size(), 0u);
  EXPECT_TRUE(Finite(r["seconds"]));
}

TEST(BenchRealPerov5Test, UsesTheTestFile) {
  MATALIGN_REAL_DATA_OR_SKIP(csv, "perov5/perov5_train.csv");
  TempDir tmp;
  BenchRealOptions o = QuickOptions(tmp, WritePerov5Subset(csv, 0, 80, tmp.Join("train.csv")));
  o.test = WritePerov5Subset(csv, 1000, 1023, tmp.Join("test.csv"));
  o.epochs = 1;
  ASSERT_OK(BenchRealPerov5(o));
  Json r = ReadReport(o.out);
  const Json& d = r["data"];
  EXPECT_EQ(d["test_file"], o.test);
  EXPECT_EQ(d["test"], 23);
  EXPECT_EQ(d["train"].get<int>() + d["val"].get<int>(), 80);  // nothing held out as test
  ExpectRegression(r["plain"], 23);
  ExpectRegression(r["pretrained"], 23);
  EXPECT_EQ(r["dummy"]["n"], 23);
}

void ExpectClassification(const Json& task, size_t classes, int items, int runs) {
  ASSERT_EQ(task["classes"].size(), classes) << task.dump();
  ASSERT_EQ(task["runs"].size(), static_cast<size_t>(runs));
  for (const char* key : {"accuracy", "f1_macro"}) {
    const Json& m = task[key];
    ASSERT_TRUE(Finite(m["mean"])) << key;
    EXPECT_GE(m["mean"].get<double>(), 0) << key;
    EXPECT_LE(m["mean"].get<double>(), 1) << key;
    EXPECT_GE(m["std"].get<double>(), 0) << key;
  }
  if (Finite(task["roc_auc_ovr"]["mean"])) {
    EXPECT_GE(task["roc_auc_ovr"]["mean"].get<double>(), 0);
    EXPECT_LE(task["roc_auc_ovr"]["mean"].get<double>(), 1);
  }
  // The summed confusion matrix counts every test item once; so does each run's.
  const Json& c = task["confusion"];
  ASSERT_EQ(c.size(), classes);
  int64_t sum = 0;
  for (const Json& row : c) {
    ASSERT_EQ(row.size(), classes);
    for (const Json& v : row) sum += v.get<int64_t>();
  }
  EXPECT_EQ(sum, items);
  EXPECT_EQ(task["test_items"], items);
  int run_items = 0;
  for (const Json& run : task["runs"]) {
    int64_t run_sum = 0;
    for (const Json& row : run["confusion"]) {
      for (const Json& v : row) run_sum += v.get<int64_t>();
    }
    EXPECT_EQ(run_sum, run["test"].get<int64_t>());
    EXPECT_EQ(run["n"], run["test"]);
    run_items += run["test"].get<int>();
    EXPECT_GT(run["train"].get<int>(), 0);
    EXPECT_GT(run["val"].get<int>(), 0);
  }
  EXPECT_EQ(run_items, items);
  EXPECT_TRUE(Finite(task["majority_class_accuracy"]));
}

TEST(BenchRealSemTest, QuickCrossValidation) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "sem_ncm/labels.csv");
  dir = std::filesystem::path(dir).parent_path().string();
  TempDir tmp;
  BenchRealOptions o = QuickOptions(tmp, dir);
  ASSERT_OK_AND_ASSIGN(Json returned, BenchRealSem(o));
  Json r = ReadReport(o.out);
  EXPECT_EQ(r, returned);
  EXPECT_EQ(r["data"]["train_images"], 150);
  EXPECT_EQ(r["data"]["folds"], 2);
  const Json& cs = r["tasks"]["composition_state"];
  EXPECT_EQ(cs["label_column"], "class");
  ExpectClassification(cs, 11, 150, 2);
  const Json& state = r["tasks"]["state"];
  EXPECT_EQ(state["classes"], (std::vector<std::string>{"cycled", "formation", "pristine"}));
  ExpectClassification(state, 3, 150, 2);
  // Stratified folds: every fold holds about half of each class.
  for (const Json& run : state["runs"]) EXPECT_NEAR(run["test"].get<int>(), 75, 2);
  EXPECT_EQ(cs["runs"][0]["training"]["selection_metric"], "defect_accuracy");
}

TEST(BenchRealSemTest, UsesTheTestFolder) {
  MATALIGN_REAL_DATA_OR_SKIP(labels, "sem_ncm/labels.csv");
  const std::string real = std::filesystem::path(labels).parent_path().string();
  TempDir tmp;
  // labels.csv is sorted by class: every 12th row goes to the test folder and every other
  // 3rd row to the training folder, so both hold every class. Image paths are made absolute
  // (the importer resolves them against the folder, which keeps absolute ones).
  const std::string train_dir = tmp.Join("train");
  const std::string test_dir = tmp.Join("test");
  {
    absl::StatusOr<std::string> text = ReadFile(labels);
    ASSERT_OK(text);
    std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
    std::string train_csv = lines[0] + "\n", test_csv = lines[0] + "\n";
    int test_rows = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      const std::string row = absl::StrCat(real, "/images/", lines[i], "\n");
      if (i % 12 == 0) {
        test_csv += row;
        ++test_rows;
      } else if (i % 3 == 0) {
        train_csv += row;
      }
    }
    ASSERT_OK(WriteFileAtomic(train_dir + "/labels.csv", train_csv));
    ASSERT_OK(WriteFileAtomic(test_dir + "/labels.csv", test_csv));
    ASSERT_EQ(test_rows, 31);
  }
  BenchRealOptions o = QuickOptions(tmp, train_dir);
  o.test = test_dir;
  o.epochs = 1;
  ASSERT_OK(BenchRealSem(o));
  Json r = ReadReport(o.out);
  EXPECT_EQ(r["data"]["test_file"], test_dir);
  EXPECT_EQ(r["data"]["test_images"], 31);
  EXPECT_TRUE(r["data"]["folds"].is_null());
  const Json& state = r["tasks"]["state"];
  ExpectClassification(state, 3, 31, 1);
  EXPECT_EQ(state["runs"][0]["test"], 31);
  EXPECT_TRUE(state["runs"][0]["fold"].is_null());
  EXPECT_EQ(state["test_items_without_known_class"], 0);
}

}  // namespace
}  // namespace matalign::train
