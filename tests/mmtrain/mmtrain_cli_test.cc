// Runs the real `mmtrain` and `mmdata synth`: on a fresh 1000-material corpus (about 100
// validation materials, chance Recall@5 0.05) the tiny preset learns a structure -> text
// retrieval far above chance; on a 400-material corpus a micro model shows that --resume
// continues the same run, two data-parallel ranks follow one process's loss curve, and
// damaged or mismatched bundles are refused.
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "common/file.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;
using ::matalign::testing::TempDir;

using ::matalign::testing::RunCommand;

std::string Bin(const std::string& name) { return ::matalign::testing::BinaryPath(name); }

std::string LastLine(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.find_last_of('\n') + 1);
}

// The "step" lines of a metrics.jsonl.
std::vector<nlohmann::json> Steps(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "step") out.push_back(j);
  }
  return out;
}

// A small model for the tests that compare runs (a few seconds per run).
constexpr char kMicroConfig[] = R"(
model:
  embed_dim: 32
  graph: {layers: 2, hidden: 32, num_rbf: 16}
  text: {layers: 1, heads: 2, hidden: 32, ffn: 64, max_length: 64, dropout: 0.0}
  image: {depth: 18, base_width: 8, input_size: 32, norm: group}
  property: {properties: [band_gap_ev, density_g_cm3], hidden: 32}
  heads: {properties: [band_gap_ev], defect_classes: [none, crack, pore_cluster, inclusion, abnormal_grain_growth, agglomeration], hidden: 16}
tokenizer: {vocab_size: 300}
train: {epochs: 4, batch_size: 16, lr: 2.0e-3, warmup_steps: 4, seed: 3, early_stopping_patience: 0}
)";

class MmtrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    corpus_ = dir_->path() + "/corpus";
    auto r = RunCommand(Bin("mmdata") + " synth --n 400 --seed 11 --quiet --out " + corpus_);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    micro_ = dir_->path() + "/micro.yaml";
    ASSERT_OK(WriteFileAtomic(micro_, kMicroConfig));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  static TempDir* dir_;
  static std::string corpus_;
  static std::string micro_;
};
TempDir* MmtrainTest::dir_ = nullptr;
std::string MmtrainTest::corpus_;
std::string MmtrainTest::micro_;

TEST_F(MmtrainTest, TinyPresetRetrievesTextFromStructureFarAboveChance) {
  // Text learns formulas from the materials it sees: with ~300 training materials the
  // validation formulas are mostly unseen and Recall@5 stays near 3x chance, with ~800 it
  // reaches ~9x (0.47 against 0.05 measured).
  const std::string corpus = dir_->path() + "/corpus-1000";
  auto synth = RunCommand(Bin("mmdata") + " synth --n 1000 --seed 12 --quiet --out " + corpus);
  ASSERT_EQ(synth.exit_code, 0) << synth.out;
  const std::string out = dir_->path() + "/models-tiny";
  auto r = RunCommand(Bin("mmtrain") + " train --config " + MATALIGN_SOURCE_DIR +
                      "/configs/tiny.yaml --log-every 0 --data " + corpus + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string bundle = LastLine(r.out);
  EXPECT_EQ(bundle, out + "/1");
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(bundle + "/manifest.json"));
  auto manifest = nlohmann::json::parse(text);
  const auto& metrics = manifest["metrics"];
  const double recall = metrics["val"]["recall@5_g2t"].get<double>();
  const double chance = metrics["chance_recall"].get<double>();
  std::printf("tiny: validation Recall@5 structure->text %.3f (chance %.3f, %d materials)\n",
              recall, chance, metrics["val"]["n_g2t"].get<int>());
  EXPECT_GE(recall, 5 * chance) << metrics.dump();
  for (const char* key : {"version", "created", "config", "normalization", "tokenizer",
                          "dimensions", "data_hash", "metrics", "libraries", "files"}) {
    EXPECT_TRUE(manifest.contains(key)) << key;
  }
  EXPECT_EQ(manifest["tokenizer"]["vocab_size"], manifest["config"]["model"]["text"]["vocab_size"]);

  auto check = RunCommand(Bin("mmtrain") + " check " + bundle);
  EXPECT_EQ(check.exit_code, 0) << check.out;

  // One flipped byte in a weight file: refused, naming the file.
  const std::string damaged = out + "/2";
  fs::copy(bundle, damaged);
  {
    std::string manifest_text = text;
    auto m = nlohmann::json::parse(manifest_text);
    m["version"] = "2";
    ASSERT_OK(WriteFileAtomic(damaged + "/manifest.json", m.dump(2)));
    ASSERT_OK_AND_ASSIGN(std::string w, ReadFile(damaged + "/text_encoder.pt"));
    w[w.size() / 2] ^= 0x01;
    ASSERT_OK(WriteFileAtomic(damaged + "/text_encoder.pt", w));
  }
  auto refused = RunCommand(Bin("mmtrain") + " check " + damaged);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("text_encoder.pt"), std::string::npos) << refused.out;
}

// The validation figures the trainer recorded in the bundle, recomputed by `mmtrain eval`
// on the same split, must agree: two independent paths through the model and the data.
TEST_F(MmtrainTest, EvalAgreesWithTheTrainerAndWritesEverySection) {
  const std::string out = dir_->path() + "/models-eval";
  auto r = RunCommand(Bin("mmtrain") + " train --log-every 0 --config " + micro_ + " --data " +
                      corpus_ + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string bundle = LastLine(r.out);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(bundle + "/manifest.json"));
  const auto val = nlohmann::json::parse(text)["metrics"]["val"];

  const std::string val_report = dir_->path() + "/eval-val";
  auto e = RunCommand(Bin("mmtrain") + " eval --split val --model " + bundle + " --data " +
                      corpus_ + " --out " + val_report);
  ASSERT_EQ(e.exit_code, 0) << e.out;
  ASSERT_OK_AND_ASSIGN(std::string json, ReadFile(val_report + "/report.json"));
  auto report = nlohmann::json::parse(json);
  EXPECT_NEAR(report["regression"]["band_gap_ev"]["mae"].get<double>(),
              val["mae_band_gap_ev"].get<double>(), 1e-4);
  EXPECT_EQ(report["retrieval"]["g2t"]["n"], val["n_g2t"]);
  EXPECT_NEAR(report["retrieval"]["g2t"]["recall@5"].get<double>(),
              val["recall@5_g2t"].get<double>(), 0.03);  // padding differs: a tie may flip

  const std::string test_report = dir_->path() + "/eval-test";
  e = RunCommand(Bin("mmtrain") + " eval --model " + bundle + " --data " + corpus_ + " --out " +
                 test_report);
  ASSERT_EQ(e.exit_code, 0) << e.out;
  EXPECT_EQ(LastLine(e.out), test_report + "/report.md");
  ASSERT_OK_AND_ASSIGN(json, ReadFile(test_report + "/report.json"));
  report = nlohmann::json::parse(json);
  EXPECT_EQ(report["data"]["split"], "test");
  const auto& defect = report["defect"];
  int64_t confusion_total = 0;
  for (const auto& row : defect["confusion"]) {
    for (const auto& c : row) confusion_total += c.get<int64_t>();
  }
  EXPECT_GT(defect["n"].get<int64_t>(), 0);
  EXPECT_EQ(confusion_total, defect["n"].get<int64_t>());
  const auto& rec = report["recommendation"];
  EXPECT_LE(rec["recall@1"].get<double>(), rec["recall@5"].get<double>());
  EXPECT_LE(rec["recall@5"].get<double>(), rec["recall@10"].get<double>());
  EXPECT_GE(rec["ndcg@10"].get<double>(), 0.0);
  EXPECT_LE(rec["ndcg@10"].get<double>(), 1.0);
  for (const char* pair : {"g2t", "t2g", "g2v", "v2g", "t2v", "v2t", "p2g", "p2t"}) {
    EXPECT_TRUE(report["retrieval"].contains(pair)) << pair;
  }
  for (const char* space : {"structure", "text", "image", "joint"}) {
    const double s = report["embedding"][space]["silhouette"].get<double>();
    EXPECT_TRUE(s >= -1 && s <= 1) << space << " " << s;
  }
  EXPECT_GT(report["cost"]["peak_rss_mb"].get<double>(), 0);
  for (const char* plot :
       {"embedding_by_class", "embedding_by_route", "recall_at_k", "loss_curves"}) {
    EXPECT_TRUE(fs::exists(test_report + "/" + plot + ".svg")) << plot;
    EXPECT_TRUE(fs::exists(test_report + "/" + plot + ".png")) << plot;
  }
  ASSERT_OK_AND_ASSIGN(std::string md, ReadFile(test_report + "/report.md"));
  for (const char* section :
       {"## Property regression", "## Defect classification", "## Synthesis recommendation",
        "## Cross-modal retrieval", "## Embedding quality", "](loss_curves.svg)"}) {
    EXPECT_NE(md.find(section), std::string::npos) << section;
  }

  auto bad = RunCommand(Bin("mmtrain") + " eval --split nope --model " + bundle + " --data " +
                        corpus_ + " --out " + test_report);
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("split 'nope'"), std::string::npos) << bad.out;
}

// Fine-tuning from a bundle with a vanishing learning rate keeps its structure encoder and
// property head exactly: --init-from copies the weights.
TEST_F(MmtrainTest, InitFromStartsFromTheBundlesWeights) {
  const std::string source = dir_->path() + "/models-source";
  auto a = RunCommand(Bin("mmtrain") + " train --log-every 0 --config " + micro_ + " --data " +
                      corpus_ + " --out " + source);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  const std::string still = dir_->path() + "/still.yaml";
  std::string config(kMicroConfig);  // the same model, a learning rate of ~0
  config.replace(config.find("train: {"), std::string::npos,
                 "train: {epochs: 1, batch_size: 16, lr: 1.0e-12, min_lr: 1.0e-12, "
                 "warmup_steps: 1, seed: 3, early_stopping_patience: 0}\n");
  ASSERT_OK(WriteFileAtomic(still, config));
  const std::string tuned = dir_->path() + "/models-tuned";
  auto b = RunCommand(Bin("mmtrain") + " train --log-every 0 --config " + still + " --data " +
                      corpus_ + " --out " + tuned + " --init-from " + LastLine(a.out));
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("tensors copied from"), std::string::npos) << b.out;
  auto val_of = [](const std::string& bundle) {
    auto text = ReadFile(bundle + "/manifest.json");
    return nlohmann::json::parse(*text)["metrics"]["val"];
  };
  EXPECT_NEAR(val_of(LastLine(b.out))["mae_band_gap_ev"].get<double>(),
              val_of(LastLine(a.out))["mae_band_gap_ev"].get<double>(), 1e-4);
  auto c = RunCommand(Bin("mmtrain") + " train --log-every 0 --config " + still + " --data " +
                      corpus_ + " --out " + dir_->path() + "/models-fresh");
  ASSERT_EQ(c.exit_code, 0) << c.out;
  EXPECT_GT(std::fabs(val_of(LastLine(c.out))["mae_band_gap_ev"].get<double>() -
                      val_of(LastLine(a.out))["mae_band_gap_ev"].get<double>()),
            1e-3);
}

// Every variant trains on its own modalities and is tabulated; one epoch each.
TEST_F(MmtrainTest, AblateTrainsEveryVariantAndTabulatesThem) {
  const std::string out = dir_->path() + "/ablate";
  auto r = RunCommand(Bin("mmtrain") + " ablate --epochs 1 --config " + micro_ + " --data " +
                      corpus_ + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  ASSERT_OK_AND_ASSIGN(std::string json, ReadFile(out + "/report.json"));
  auto report = nlohmann::json::parse(json);
  for (const char* v : {"structure", "text", "image", "structure+text", "structure+image",
                        "text+image", "tri-modal", "generalization"}) {
    EXPECT_TRUE(report["variants"].contains(v)) << v;
    EXPECT_TRUE(fs::exists(out + "/" + v + "/eval/report.md")) << v;
  }
  std::map<std::string, nlohmann::json> rows;
  for (const auto& row : report["table"]) rows[row["figure"]] = row["values"];
  ASSERT_TRUE(rows.count("MAE band_gap_ev"));
  EXPECT_TRUE(rows["MAE band_gap_ev"]["structure"].is_number());
  EXPECT_TRUE(rows["MAE band_gap_ev"]["text"].is_null());  // no structure encoder trained
  EXPECT_TRUE(rows["recommend Recall@5"]["text"].is_number());
  EXPECT_TRUE(rows["recommend Recall@5"]["image"].is_null());
  EXPECT_TRUE(rows["defect accuracy"]["image"].is_number());

  // The generalization run is tested on exactly the non-crystalline materials.
  int64_t held_out = 0;
  std::ifstream manifest(corpus_ + "/manifest.jsonl");
  std::string line;
  while (std::getline(manifest, line)) {
    if (nlohmann::json::parse(line)["class"] != "crystalline") ++held_out;
  }
  EXPECT_GT(held_out, 0);
  EXPECT_EQ(report["variants"]["generalization"]["eval"]["data"]["materials"], held_out);
  ASSERT_OK_AND_ASSIGN(std::string md, ReadFile(out + "/report.md"));
  EXPECT_NE(md.find("tri vs best single"), std::string::npos);

  // --reuse keeps the evaluated variants instead of retraining them.
  r = RunCommand(Bin("mmtrain") + " ablate --reuse --epochs 1 --config " + micro_ + " --data " +
                 corpus_ + " --out " + out + " --variants structure,text");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("structure: reusing"), std::string::npos) << r.out;
  auto bad = RunCommand(Bin("mmtrain") + " ablate --config " + micro_ + " --data " + corpus_ +
                        " --out " + out + " --variants sound");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("unknown variant 'sound'"), std::string::npos) << bad.out;
}

TEST_F(MmtrainTest, MismatchedManifestIsRefused) {
  const std::string out = dir_->path() + "/models-mismatch";
  auto r = RunCommand(Bin("mmtrain") + " train --config " + micro_ +
                      " --log-every 0 --threads 1 --data " + corpus_ + " --out " + out);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string bundle = LastLine(r.out);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(bundle + "/manifest.json"));
  auto m = nlohmann::json::parse(text);
  m["config"]["model"]["graph"]["hidden"] = 48;  // the weights are for 32
  ASSERT_OK(WriteFileAtomic(bundle + "/manifest.json", m.dump(2)));
  auto refused = RunCommand(Bin("mmtrain") + " check " + bundle);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.out.find("graph_encoder.pt"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find("shape"), std::string::npos) << refused.out;
}

TEST_F(MmtrainTest, ResumeContinuesTheSameRun) {
  const std::string straight = dir_->path() + "/straight";
  const std::string split = dir_->path() + "/split";
  const std::string common = " --log-every 0 --threads 1 --config " + micro_ + " --data " + corpus_;
  auto a = RunCommand(Bin("mmtrain") + " train" + common + " --out " + straight);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto b1 =
      RunCommand(Bin("mmtrain") + " train" + common + " --out " + split + " --stop-after-epochs 2");
  ASSERT_EQ(b1.exit_code, 0) << b1.out;
  EXPECT_FALSE(fs::exists(split + "/1")) << "an interrupted run writes no bundle";
  auto b2 = RunCommand(Bin("mmtrain") + " train" + common + " --out " + split + " --resume");
  ASSERT_EQ(b2.exit_code, 0) << b2.out;
  EXPECT_NE(b2.out.find("resuming after epoch 2"), std::string::npos) << b2.out;

  auto sa = Steps(straight + "/runs/latest/metrics.jsonl");
  auto sb = Steps(split + "/runs/latest/metrics.jsonl");
  ASSERT_EQ(sa.size(), sb.size());
  ASSERT_GT(sa.size(), 4u);
  for (size_t i = 0; i < sa.size(); ++i) {
    EXPECT_EQ(sa[i]["step"], sb[i]["step"]);
    EXPECT_NEAR(sa[i]["loss"].get<double>(), sb[i]["loss"].get<double>(), 1e-4) << "step " << i + 1;
  }
  // Resuming a finished run's checkpoint with another config is refused.
  const std::string other = dir_->path() + "/other.yaml";
  std::string changed = kMicroConfig;
  changed.replace(changed.find("seed: 3"), 7, "seed: 4");
  ASSERT_OK(WriteFileAtomic(other, changed));
  auto bad = RunCommand(Bin("mmtrain") + " train --log-every 0 --config " + other + " --data " +
                        corpus_ + " --out " + split + " --resume");
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("different configuration"), std::string::npos) << bad.out;
}

TEST_F(MmtrainTest, TwoRanksFollowOneProcessLossCurve) {
  const std::string one = dir_->path() + "/one";
  const std::string two = dir_->path() + "/two";
  const std::string common = " --log-every 0 --threads 1 --config " + micro_ + " --data " + corpus_;
  auto a = RunCommand(Bin("mmtrain") + " train" + common + " --out " + one);
  ASSERT_EQ(a.exit_code, 0) << a.out;
  auto b = RunCommand(Bin("mmtrain") + " train" + common + " --out " + two + " --world-size 2");
  ASSERT_EQ(b.exit_code, 0) << b.out;
  EXPECT_NE(b.out.find("(8 per rank x 2)"), std::string::npos) << b.out;
  auto sa = Steps(one + "/runs/latest/metrics.jsonl");
  auto sb = Steps(two + "/runs/latest/metrics.jsonl");
  ASSERT_EQ(sa.size(), sb.size());
  ASSERT_GT(sa.size(), 4u);
  double worst = 0;
  for (size_t i = 0; i < sa.size(); ++i) {
    const double x = sa[i]["loss"].get<double>(), y = sb[i]["loss"].get<double>();
    worst = std::max(worst, std::abs(x - y) / std::abs(x));
  }
  std::printf("world size 2 vs 1: largest relative loss difference over %zu steps: %.2e\n",
              sa.size(), worst);
  // Group norm and no dropout: the same arithmetic up to the order of float reductions.
  EXPECT_LT(worst, 1e-3);
}

TEST_F(MmtrainTest, BadInputGetsClearErrors) {
  const std::string bad = dir_->path() + "/bad.yaml";
  ASSERT_OK(WriteFileAtomic(bad, "model:\n  graph: {layerz: 3}\n"));
  auto r = RunCommand(Bin("mmtrain") + " train --config " + bad + " --data " + corpus_ + " --out " +
                      dir_->path() + "/bad-out");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("model.graph.layerz: unknown key"), std::string::npos) << r.out;

  r = RunCommand(Bin("mmtrain") + " train --config " + micro_ + " --data " + dir_->path() +
                 "/no-such-corpus --out " + dir_->path() + "/bad-out");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("no-such-corpus"), std::string::npos) << r.out;

  r = RunCommand(Bin("mmtrain") + " train --config " + micro_ + " --data " + corpus_ + " --out " +
                 dir_->path() + "/bad-out --world-size 3");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("not divisible by the world size 3"), std::string::npos) << r.out;

  r = RunCommand(Bin("mmtrain") + " check " + dir_->path() + "/no-bundle");
  EXPECT_EQ(r.exit_code, 1) << r.out;
}

}  // namespace
}  // namespace matalign::train
