// ModelRunner on a real (tiny, randomly initialized) bundle: embeddings equal the model's
// own forward pass, batching under concurrency changes nothing, heads answer, and bad
// inputs are InvalidArgument naming what is wrong.
#include "server/model_runner.h"

#include <torch/torch.h>

#include <cmath>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "encoders/featurize.h"
#include "encoders/model_bundle.h"
#include "imaging/image.h"
#include "materials/graph.h"
#include "materials/structure_io.h"
#include "tests/encoders/encoders_test_util.h"
#include "tests/test_util.h"
#include "text/tokenizer.h"

namespace matalign::server {
namespace {

using ::matalign::testing::TempDir;

constexpr char kNaClPoscar[] = R"(NaCl
1.0
5.64 0 0
0 5.64 0
0 0 5.64
Na Cl
4 4
Direct
0 0 0
0.5 0.5 0
0.5 0 0.5
0 0.5 0.5
0.5 0 0
0 0.5 0
0 0 0.5
0.5 0.5 0.5
)";

std::vector<std::string> Corpus() {
  std::vector<std::string> texts;
  const char* precursors[] = {"Li2CO3", "Co3O4", "MnO2", "NiO", "TiO2", "SrCO3"};
  for (int i = 0; i < 60; ++i) {
    texts.push_back(absl::StrCat("The precursors ", precursors[i % 6], " and ",
                                 precursors[(i * 5 + 1) % 6], " were calcined at ", 500 + 25 * i,
                                 " C for ", 1 + i % 12, " h in air."));
  }
  return texts;
}

double Norm(const std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += static_cast<double>(x) * x;
  return std::sqrt(s);
}

class ModelRunnerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    text::TokenizerTrainOptions t;
    t.vocab_size = 100;
    t.hard_vocab_limit = false;
    t.num_threads = 1;
    t.character_coverage = 1.0;
    auto serialized = text::TrainTokenizerModel(Corpus(), t);
    ASSERT_OK(serialized);
    ASSERT_OK_AND_ASSIGN(auto tokenizer, text::Tokenizer::LoadFromSerialized(*serialized));
    encoders::ModelConfig config = encoders::testing::TinyConfig();
    config.text.vocab_size = tokenizer->vocab_size();
    torch::manual_seed(5);
    encoders::MatAlignModel model(config);
    model->eval();
    encoders::PropertyNormalization norm;
    norm.stats["band_gap"] = {2.0, 0.5};
    norm.stats["density"] = {4.0, 1.0};
    auto bundle = encoders::SaveModelBundle(dir_->Join("models"), model, *tokenizer, norm, {});
    ASSERT_OK(bundle);
    bundle_ = new std::string(*bundle);
  }
  static void TearDownTestSuite() {
    delete bundle_;
    delete dir_;
  }

  std::shared_ptr<ModelRunner> Load(int max_batch = 8) {
    ModelRunnerOptions o;
    o.device = "cpu";
    o.threads = 1;
    o.batching.max_batch_size = max_batch;
    o.batching.max_delay = absl::Milliseconds(1);
    auto r = ModelRunner::Load(*bundle_, o);
    EXPECT_OK(r);
    return r.ok() ? *r : nullptr;
  }

  static TempDir* dir_;
  static std::string* bundle_;
};
TempDir* ModelRunnerTest::dir_ = nullptr;
std::string* ModelRunnerTest::bundle_ = nullptr;

TEST_F(ModelRunnerTest, EmbeddingsEqualTheModelsOwnForwardPass) {
  auto runner = Load();
  ASSERT_NE(runner, nullptr);
  EXPECT_EQ(runner->version(), "1");
  EXPECT_EQ(runner->embed_dim(), 8);
  EXPECT_EQ(runner->device(), "cpu");
  EXPECT_EQ(runner->target_properties(), (std::vector<std::string>{"band_gap", "density"}));

  ASSERT_OK_AND_ASSIGN(std::vector<float> v,
                       runner->EmbedStructure({kNaClPoscar, "poscar", "NaCl"}));
  ASSERT_EQ(v.size(), 8u);
  EXPECT_NEAR(Norm(v), 1.0, 1e-5);

  // The reference: the bundle loaded on its own, the graph built by hand.
  ASSERT_OK_AND_ASSIGN(auto loaded, encoders::LoadModelBundle(*bundle_));
  materials::StructureReadOptions read;
  read.format = materials::StructureFormat::kPoscar;
  ASSERT_OK_AND_ASSIGN(materials::Structure s, materials::ParseStructure(kNaClPoscar, "x", read));
  ASSERT_OK_AND_ASSIGN(materials::StructureGraph g,
                       materials::BuildGraph(s, encoders::GraphOptionsFor(loaded->config)));
  torch::NoGradGuard no_grad;
  torch::Tensor want = loaded->model->graph->forward(encoders::CollateGraphs({&g}));
  for (int i = 0; i < 8; ++i) EXPECT_NEAR(v[i], want[0][i].item<float>(), 1e-5);

  ASSERT_OK_AND_ASSIGN(std::vector<float> t,
                       runner->EmbedText("NiO was calcined at 900 C in air."));
  EXPECT_NEAR(Norm(t), 1.0, 1e-5);
  ASSERT_OK_AND_ASSIGN(
      std::vector<float> p,
      runner->EmbedTarget({{{"band_gap", 2.5}}, {{"Ba", 1}, {"Ti", 1}, {"O", 3}}}));
  EXPECT_NEAR(Norm(p), 1.0, 1e-5);

  imaging::Image img;
  img.width = img.height = 48;
  std::mt19937 rng(1);
  for (int i = 0; i < 48 * 48; ++i) img.pixels.push_back((rng() % 256) / 255.0f);
  ASSERT_OK_AND_ASSIGN(std::string png, imaging::EncodePng(img));
  ASSERT_OK_AND_ASSIGN(std::vector<float> im, runner->EmbedImage({png, "sem", "sem.png"}));
  EXPECT_NEAR(Norm(im), 1.0, 1e-5);

  ASSERT_OK_AND_ASSIGN(auto props, runner->PredictProperties({kNaClPoscar, "", "NaCl"}));
  ASSERT_EQ(props.size(), 1u);
  EXPECT_TRUE(std::isfinite(props.at("band_gap")));
  ASSERT_OK_AND_ASSIGN(DefectPrediction defect, runner->ClassifyDefect({png, "sem", "sem.png"}));
  EXPECT_NEAR(defect.probabilities.at("none") + defect.probabilities.at("crack"), 1.0, 1e-9);
  EXPECT_TRUE(defect.label == "none" || defect.label == "crack");
}

TEST_F(ModelRunnerTest, ConcurrentRequestsAreBatchedWithoutChangingResults) {
  auto single = Load(/*max_batch=*/1);
  auto batched = Load(/*max_batch=*/16);
  const std::vector<std::string> texts = Corpus();
  std::vector<std::vector<float>> want;
  for (const auto& t : texts) {
    ASSERT_OK_AND_ASSIGN(std::vector<float> v, single->EmbedText(t));
    want.push_back(v);
  }
  std::vector<absl::StatusOr<std::vector<float>>> got(texts.size(), absl::UnknownError(""));
  std::vector<std::thread> threads;
  for (int w = 0; w < 12; ++w) {
    threads.emplace_back([&, w] {
      for (size_t i = w; i < texts.size(); i += 12) got[i] = batched->EmbedText(texts[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_OK(got[i]);
    for (int j = 0; j < 8; ++j) EXPECT_NEAR((*got[i])[j], want[i][j], 1e-4) << i;
  }
  int64_t requests = 0;
  for (const auto& [name, stats] : batched->batcher_stats()) {
    if (name == "text") requests = stats.requests;
  }
  EXPECT_EQ(requests, static_cast<int64_t>(texts.size()));
}

TEST_F(ModelRunnerTest, BadInputsAreInvalidArgumentNamingTheProblem) {
  auto runner = Load();
  auto structure = runner->EmbedStructure({"this is not a crystal", "cif", "junk.cif"});
  EXPECT_EQ(structure.status().code(), absl::StatusCode::kInvalidArgument) << structure.status();
  EXPECT_NE(structure.status().message().find("junk.cif"), std::string::npos) << structure.status();
  EXPECT_EQ(runner->EmbedStructure({"", "", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runner->EmbedStructure({kNaClPoscar, "pdb", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(runner->EmbedText("   ").status().code(), absl::StatusCode::kInvalidArgument);
  auto image = runner->EmbedImage({"not an image", "sem", "x.png"});
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << image.status();
  EXPECT_EQ(runner->EmbedImage({"x", "tem", ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto target = runner->EmbedTarget({{{"bandgap", 2.0}}, {}});
  EXPECT_EQ(target.status().code(), absl::StatusCode::kInvalidArgument) << target.status();
  EXPECT_NE(target.status().message().find("band_gap"), std::string::npos) << target.status();
  EXPECT_EQ(runner->EmbedTarget({}).status().code(), absl::StatusCode::kInvalidArgument);
  // A passed deadline is answered without computing.
  EXPECT_EQ(runner->EmbedText("TiO2 was milled.", absl::InfinitePast()).status().code(),
            absl::StatusCode::kDeadlineExceeded);

  EXPECT_EQ(ModelRunner::Load(dir_->Join("models/404"), {}).status().code(),
            absl::StatusCode::kNotFound);
  ModelRunnerOptions bad;
  bad.device = "tpu";
  EXPECT_EQ(ModelRunner::Load(*bundle_, bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::server
