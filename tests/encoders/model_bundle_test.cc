#include "encoders/model_bundle.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bundle/bundle.h"
#include "encoders/featurize.h"
#include "encoders/model.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/encoders/encoders_test_util.h"
#include "tests/test_util.h"
#include "text/tokenizer.h"

namespace matalign::encoders {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::matalign::encoders::testing::CesiumChloride;
using ::matalign::encoders::testing::Fails;
using ::matalign::encoders::testing::GraphOf;
using ::matalign::encoders::testing::RockSaltNaCl;
using ::matalign::encoders::testing::TinyConfig;
using ::matalign::testing::TempDir;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// ~50 synthetic synthesis sentences from a fixed seed.
std::vector<std::string> TinyCorpus() {
  static const char* kPrecursors[] = {"Li2CO3", "Co3O4", "MnO2", "NiO", "TiO2", "SrCO3"};
  static const char* kAtmospheres[] = {"air", "argon", "oxygen"};
  std::mt19937 rng(2024);
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) {
    texts.push_back(absl::StrCat("The precursors ", kPrecursors[rng() % 6], " and ",
                                 kPrecursors[rng() % 6], " were ball milled, calcined at ",
                                 500 + 50 * (rng() % 10), " C for ", 1 + rng() % 12, " h in ",
                                 kAtmospheres[rng() % 3], " and sintered."));
  }
  return texts;
}

// A tokenizer with a vocabulary of about 100 pieces, trained once per process; null (after
// reporting a failure) if training fails.
const text::Tokenizer* TinyTokenizer() {
  static const text::Tokenizer* tokenizer = []() -> const text::Tokenizer* {
    text::TokenizerTrainOptions options;
    options.vocab_size = 100;
    options.hard_vocab_limit = false;
    options.num_threads = 1;
    options.character_coverage = 1.0;
    absl::StatusOr<std::string> model = text::TrainTokenizerModel(TinyCorpus(), options);
    if (!model.ok()) {
      ADD_FAILURE() << model.status();
      return nullptr;
    }
    absl::StatusOr<std::unique_ptr<text::Tokenizer>> loaded =
        text::Tokenizer::LoadFromSerialized(*model);
    if (!loaded.ok()) {
      ADD_FAILURE() << loaded.status();
      return nullptr;
    }
    return loaded->release();
  }();
  return tokenizer;
}

// Embeddings of fixed sample inputs through every part of a model, to compare models.
struct Outputs {
  torch::Tensor graph, text, image, property, property_head, defect_head;
};

class ModelBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokenizer_ = TinyTokenizer();
    ASSERT_NE(tokenizer_, nullptr);
    config_ = TinyConfig();
    config_.text.vocab_size = tokenizer_->vocab_size();
    torch::manual_seed(21);
    model_ = MatAlignModel(config_);
    {
      // Move the temperature off its initial value, so loading it is observable.
      torch::NoGradGuard no_grad;
      model_->log_temperature.fill_(std::log(0.123));
    }
    model_->eval();
    normalization_.stats["band_gap"] = {1.5, 0.75};
    normalization_.stats["density"] = {4.0, 1.25};
    metadata_.train_config = {{"epochs", 3}, {"batch_size", 16}};
    metadata_.data_hash = std::string(64, 'a');
    metadata_.metrics = {{"recall@10", 0.5}};
    models_ = dir_.Join("models");
  }

  Outputs Run(MatAlignModel& model, const text::Tokenizer& tokenizer) {
    Outputs o;
    torch::NoGradGuard no_grad;
    materials::StructureGraph nacl = GraphOf(RockSaltNaCl(), config_);
    materials::StructureGraph cscl = GraphOf(CesiumChloride(), config_);
    o.graph = model->graph->forward(CollateGraphs({&nacl, &cscl}));
    text::EncodeOptions encode;
    encode.max_length = config_.text.max_length;
    encode.pad_to_max_length = false;
    absl::StatusOr<text::Encoding> a =
        tokenizer.Encode("NiO and TiO2 were calcined at 900 C in air.", encode);
    absl::StatusOr<text::Encoding> b = tokenizer.Encode("MnO2 was ball milled.", encode);
    if (!a.ok() || !b.ok()) {
      ADD_FAILURE() << a.status() << " " << b.status();
      return o;
    }
    o.text = model->text->forward(CollateTokens({&a->ids, &b->ids}));
    torch::manual_seed(99);
    torch::Tensor images = torch::randn({2, 1, config_.image.input_size, config_.image.input_size});
    o.image = model->image->forward(images);
    absl::StatusOr<PropertyTarget> t = EncodePropertyTarget(
        {{"band_gap", 2.0}}, {{"Fe", 2}, {"O", 3}}, config_.property, normalization_, true);
    if (!t.ok()) {
      ADD_FAILURE() << t.status();
      return o;
    }
    o.property = model->property->forward(CollateTargets({&*t}));
    if (model->property_head) o.property_head = model->property_head->forward(o.graph);
    if (model->defect_head) o.defect_head = model->defect_head->forward(o.image);
    return o;
  }

  std::string Save() {
    absl::StatusOr<std::string> dir =
        SaveModelBundle(models_, model_, *tokenizer_, normalization_, metadata_);
    EXPECT_TRUE(dir.ok()) << dir.status();
    return dir.ok() ? *dir : "";
  }

  json ReadManifest(const std::string& dir) { return json::parse(Slurp(dir + "/manifest.json")); }
  void WriteManifest(const std::string& dir, const json& manifest) {
    Spit(dir + "/manifest.json", manifest.dump(2));
  }

  TempDir dir_;
  std::string models_;
  const text::Tokenizer* tokenizer_ = nullptr;
  ModelConfig config_;
  MatAlignModel model_{nullptr};
  PropertyNormalization normalization_;
  BundleMetadata metadata_;
};

TEST_F(ModelBundleTest, TokenizerIsTiny) {
  EXPECT_GT(tokenizer_->vocab_size(), 20);
  EXPECT_LE(tokenizer_->vocab_size(), 100);
}

TEST_F(ModelBundleTest, RoundTripGivesIdenticalEmbeddings) {
  const std::string dir = Save();
  ASSERT_FALSE(dir.empty());
  EXPECT_EQ(fs::path(dir).filename(), "1");
  EXPECT_EQ(fs::path(dir).parent_path(), fs::path(models_));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<LoadedModel> loaded, LoadModelBundle(dir));
  EXPECT_EQ(loaded->version, "1");
  EXPECT_EQ(loaded->dir, dir);
  EXPECT_TRUE(loaded->device.is_cpu());
  EXPECT_EQ(ModelConfigToJson(loaded->config), ModelConfigToJson(config_));
  EXPECT_EQ(loaded->normalization.stats, normalization_.stats);
  ASSERT_NE(loaded->tokenizer, nullptr);
  EXPECT_EQ(loaded->tokenizer->serialized_model(), tokenizer_->serialized_model());
  EXPECT_FALSE(loaded->model->is_training());
  EXPECT_NEAR(loaded->model->temperature().item<double>(), 0.123, 1e-6);

  Outputs want = Run(model_, *tokenizer_);
  Outputs got = Run(loaded->model, *loaded->tokenizer);
  EXPECT_TRUE(torch::equal(got.graph, want.graph));
  EXPECT_TRUE(torch::equal(got.text, want.text));
  EXPECT_TRUE(torch::equal(got.image, want.image));
  EXPECT_TRUE(torch::equal(got.property, want.property));
  ASSERT_TRUE(got.property_head.defined());
  ASSERT_TRUE(got.defect_head.defined());
  EXPECT_TRUE(torch::equal(got.property_head, want.property_head));
  EXPECT_TRUE(torch::equal(got.defect_head, want.defect_head));

  // A freshly initialized model of the same config differs: the weights were loaded.
  torch::manual_seed(22);
  MatAlignModel other(config_);
  other->eval();
  Outputs fresh = Run(other, *tokenizer_);
  EXPECT_FALSE(torch::allclose(fresh.graph, want.graph));
  EXPECT_FALSE(torch::allclose(fresh.text, want.text));
}

TEST_F(ModelBundleTest, VersionsCountUp) {
  EXPECT_EQ(fs::path(Save()).filename(), "1");
  EXPECT_EQ(fs::path(Save()).filename(), "2");
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<LoadedModel> loaded, LoadModelBundle(models_ + "/2"));
  EXPECT_EQ(loaded->version, "2");
}

TEST_F(ModelBundleTest, ManifestRecordsEverything) {
  const std::string dir = Save();
  const json m = ReadManifest(dir);
  for (const char* key :
       {"format_version", "version", "created", "config", "normalization", "tokenizer",
        "dimensions", "data_hash", "metrics", "libraries", "weights", "files", "temperature"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_EQ(m["version"], "1");
  EXPECT_EQ(m["format_version"], bundle::kBundleFormatVersion);
  EXPECT_TRUE(m["created"].is_string());
  EXPECT_EQ(m["config"]["model"], ModelConfigToJson(config_));
  EXPECT_EQ(m["config"]["train"], metadata_.train_config);
  EXPECT_EQ(m["normalization"]["properties"], normalization_.ToJson());
  EXPECT_EQ(m["normalization"]["image"]["size"], config_.image.input_size);
  EXPECT_EQ(m["normalization"]["graph"]["num_rbf"], config_.graph.num_rbf);
  EXPECT_EQ(m["tokenizer"]["file"], "tokenizer.model");
  EXPECT_EQ(m["tokenizer"]["vocab_size"], tokenizer_->vocab_size());
  EXPECT_EQ(m["tokenizer"]["max_length"], config_.text.max_length);
  EXPECT_EQ(m["dimensions"]["embed_dim"], config_.embed_dim);
  EXPECT_EQ(m["dimensions"]["properties"], json(config_.property.properties));
  EXPECT_EQ(m["dimensions"]["head_properties"], json(config_.heads.properties));
  EXPECT_EQ(m["dimensions"]["defect_classes"], json(config_.heads.defect_classes));
  EXPECT_EQ(m["data_hash"], metadata_.data_hash);
  EXPECT_EQ(m["metrics"], metadata_.metrics);
  for (const char* lib : {"matalign", "libtorch", "gemmi"}) {
    EXPECT_TRUE(m["libraries"].contains(lib)) << lib;
    EXPECT_TRUE(m["libraries"][lib].is_string()) << lib;
  }
  EXPECT_NEAR(m["temperature"].get<double>(), 0.123, 1e-6);
  for (const char* part : {"graph_encoder", "text_encoder", "image_encoder", "property_encoder",
                           "property_head", "defect_head"}) {
    ASSERT_TRUE(m["weights"].contains(part)) << part;
    const std::string file = m["weights"][part]["file"];
    EXPECT_EQ(file, absl::StrCat(part, ".pt"));
    EXPECT_TRUE(m["files"].contains(file)) << file;
    EXPECT_TRUE(fs::exists(dir + "/" + file)) << file;
    EXPECT_GT(m["weights"][part]["parameters"].get<int64_t>(), 0) << part;
  }
  int64_t graph_parameters = 0;
  for (const auto& p : model_->graph->parameters()) graph_parameters += p.numel();
  EXPECT_EQ(m["weights"]["graph_encoder"]["parameters"], graph_parameters);
  EXPECT_TRUE(m["files"].contains("tokenizer.model"));
  EXPECT_EQ(Slurp(dir + "/tokenizer.model"), tokenizer_->serialized_model());
}

TEST_F(ModelBundleTest, WithoutHeads) {
  config_.heads.properties.clear();
  config_.heads.defect_classes.clear();
  torch::manual_seed(23);
  model_ = MatAlignModel(config_);
  model_->eval();
  const std::string dir = Save();
  EXPECT_FALSE(fs::exists(dir + "/property_head.pt"));
  EXPECT_FALSE(fs::exists(dir + "/defect_head.pt"));
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<LoadedModel> loaded, LoadModelBundle(dir));
  EXPECT_FALSE(loaded->model->property_head);
  EXPECT_FALSE(loaded->model->defect_head);
  EXPECT_TRUE(
      torch::equal(Run(loaded->model, *loaded->tokenizer).graph, Run(model_, *tokenizer_).graph));
}

TEST_F(ModelBundleTest, FlippedWeightByteIsDataLoss) {
  const std::string dir = Save();
  std::string bytes = Slurp(dir + "/graph_encoder.pt");
  ASSERT_GT(bytes.size(), 100u);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  Spit(dir + "/graph_encoder.pt", bytes);
  EXPECT_TRUE(
      Fails(LoadModelBundle(dir).status(), absl::StatusCode::kDataLoss, {"graph_encoder.pt"}));
}

TEST_F(ModelBundleTest, ManifestEmbedDimMismatchNamesTheTensor) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["config"]["model"]["embed_dim"] = 16;
  WriteManifest(dir, m);
  absl::Status s = LoadModelBundle(dir).status();
  EXPECT_TRUE(Fails(s, absl::StatusCode::kInvalidArgument,
                    {dir, "graph_encoder.pt", "tensor 'project.2.", "[8", "[16"}));
}

TEST_F(ModelBundleTest, ManifestWithInvalidConfigIsRefused) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["config"]["model"]["text"]["heads"] = 3;
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {dir, "model.text.heads"}));

  m["config"]["model"]["text"]["heads"] = 2;
  m["config"]["model"]["graph"]["layerz"] = 2;
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"model.graph.layerz"}));

  m["config"].erase("model");
  WriteManifest(dir, m);
  EXPECT_TRUE(
      Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument, {"config.model"}));
}

TEST_F(ModelBundleTest, VocabularyMismatchIsRefused) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["config"]["model"]["text"]["vocab_size"] = tokenizer_->vocab_size() + 1;
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"tokenizer.model", std::to_string(tokenizer_->vocab_size())}));
}

TEST_F(ModelBundleTest, BadNormalizationIsRefused) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["normalization"]["properties"]["band_gap"]["std"] = 0;
  WriteManifest(dir, m);
  EXPECT_TRUE(
      Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument, {dir, "band_gap"}));
  m["normalization"].erase("properties");
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"normalization.properties"}));
}

TEST_F(ModelBundleTest, BadTemperatureIsRefused) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["temperature"] = -1;
  WriteManifest(dir, m);
  EXPECT_TRUE(
      Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument, {"temperature"}));
}

TEST_F(ModelBundleTest, DeletedTokenizerIsAnError) {
  const std::string dir = Save();
  ASSERT_TRUE(fs::remove(dir + "/tokenizer.model"));
  absl::Status s = LoadModelBundle(dir).status();
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("tokenizer.model"), absl::string_view::npos) << s;
  // Also removed from the manifest's file list (so the checksums pass): still refused.
  json m = ReadManifest(dir);
  m["files"].erase("tokenizer.model");
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"tokenizer.model", "missing"}));
}

TEST_F(ModelBundleTest, MissingWeightsFileIsRefused) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["files"].erase("image_encoder.pt");
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"image_encoder.pt", "missing"}));
  m["weights"].erase("image_encoder");
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"'image_encoder'"}));
}

TEST_F(ModelBundleTest, SwappedWeightFilesAreRefused) {
  // Weights of one part presented as another's (consistent checksums): names don't match.
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["weights"]["text_encoder"]["file"] = "graph_encoder.pt";
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kInvalidArgument,
                    {"graph_encoder.pt", "tensor '"}));
}

TEST_F(ModelBundleTest, NewerFormatVersionIsFailedPrecondition) {
  const std::string dir = Save();
  json m = ReadManifest(dir);
  m["format_version"] = bundle::kBundleFormatVersion + 1;
  WriteManifest(dir, m);
  EXPECT_TRUE(Fails(LoadModelBundle(dir).status(), absl::StatusCode::kFailedPrecondition, {dir}));
}

TEST_F(ModelBundleTest, MissingBundleIsNotFound) {
  EXPECT_TRUE(Fails(LoadModelBundle(dir_.Join("nowhere")).status(), absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace matalign::encoders
