// SaveModuleWeights / LoadModuleWeights (encoders/model_bundle.h).
#include <torch/torch.h>

#include <string>
#include <vector>

#include "encoders/featurize.h"
#include "encoders/model.h"
#include "encoders/model_bundle.h"
#include "gtest/gtest.h"
#include "tests/encoders/encoders_test_util.h"
#include "tests/test_util.h"

namespace matalign::encoders {
namespace {

using ::matalign::encoders::testing::Fails;
using ::matalign::encoders::testing::GraphOf;
using ::matalign::encoders::testing::MaxAbsDiff;
using ::matalign::encoders::testing::RockSaltNaCl;
using ::matalign::encoders::testing::TinyConfig;

// The dict SaveModuleWeights wrote, for tests that tamper with it.
c10::Dict<std::string, torch::Tensor> ReadDict(const std::vector<char>& bytes) {
  c10::Dict<std::string, torch::Tensor> dict;
  c10::IValue value = torch::pickle_load(bytes);
  for (const auto& entry : value.toGenericDict()) {
    dict.insert(entry.key().toStringRef(), entry.value().toTensor());
  }
  return dict;
}

std::vector<char> WriteDict(const c10::Dict<std::string, torch::Tensor>& dict) {
  return torch::pickle_save(dict);
}

TEST(ModuleWeightsTest, RoundTripGivesIdenticalOutputs) {
  ModelConfig config = TinyConfig();
  torch::manual_seed(11);
  GraphEncoder trained(config.graph, config.embed_dim);
  torch::manual_seed(12);
  GraphEncoder fresh(config.graph, config.embed_dim);
  trained->eval();
  fresh->eval();
  materials::StructureGraph graph = GraphOf(RockSaltNaCl(), config);
  GraphBatch batch = CollateGraphs({&graph});
  torch::NoGradGuard no_grad;
  torch::Tensor expected = trained->forward(batch);
  ASSERT_GT(MaxAbsDiff(fresh->forward(batch), expected), 1e-4) << "seeds gave equal weights";

  std::vector<char> bytes = SaveModuleWeights(*trained);
  ASSERT_FALSE(bytes.empty());
  ASSERT_OK(LoadModuleWeights(*fresh, bytes, "graph.pt"));
  EXPECT_TRUE(torch::equal(fresh->forward(batch), expected));
  // Every tensor arrived, not just enough of them to fool one input.
  auto want = trained->named_parameters();
  auto got = fresh->named_parameters();
  ASSERT_EQ(want.size(), got.size());
  for (const auto& p : want) EXPECT_TRUE(torch::equal(*got.find(p.key()), p.value())) << p.key();
}

TEST(ModuleWeightsTest, BuffersRoundTrip) {
  // BatchNorm running statistics are buffers, not parameters: they must travel too.
  ImageEncoderConfig c;
  c.base_width = 8;
  c.input_size = 32;
  c.norm = "batch";
  torch::manual_seed(13);
  ImageEncoder trained(c, 8);
  torch::Tensor images = torch::randn({4, 1, 32, 32}) * 3 + 1;
  {
    torch::NoGradGuard no_grad;
    trained->train();
    trained->forward(images);  // updates the running statistics
  }
  ImageEncoder fresh(c, 8);
  ASSERT_OK(LoadModuleWeights(*fresh, SaveModuleWeights(*trained), "image.pt"));
  trained->eval();
  fresh->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(fresh->forward(images), trained->forward(images)));
  for (const auto& b : trained->named_buffers()) {
    EXPECT_TRUE(torch::equal(*fresh->named_buffers().find(b.key()), b.value())) << b.key();
  }
}

TEST(ModuleWeightsTest, SavedBytesAreADictOfNamedCpuTensors) {
  Head head(4, 8, 3);
  c10::Dict<std::string, torch::Tensor> dict = ReadDict(SaveModuleWeights(*head));
  EXPECT_EQ(dict.size(), 4u);
  ASSERT_TRUE(dict.contains("mlp.0.weight"));
  EXPECT_EQ(dict.at("mlp.0.weight").sizes(), (std::vector<int64_t>{8, 4}));
  EXPECT_TRUE(dict.contains("mlp.0.bias"));
  EXPECT_TRUE(dict.contains("mlp.2.weight"));
  EXPECT_TRUE(dict.contains("mlp.2.bias"));
  EXPECT_TRUE(dict.at("mlp.2.bias").device().is_cpu());
}

TEST(ModuleWeightsTest, ShapeMismatchNamesTheTensorAndBothShapes) {
  Head narrow(4, 8, 3);
  Head wide(5, 8, 3);  // only mlp.0.weight differs: [8, 4] vs [8, 5]
  absl::Status s = LoadModuleWeights(*wide, SaveModuleWeights(*narrow), "bundle x: head.pt");
  EXPECT_TRUE(Fails(s, absl::StatusCode::kInvalidArgument,
                    {"bundle x: head.pt", "'mlp.0.weight'", "[8, 4]", "[8, 5]"}));
}

TEST(ModuleWeightsTest, DifferentWidthIsRefused) {
  ModelConfig small = TinyConfig();
  ModelConfig large = TinyConfig();
  large.graph.hidden = 16;
  GraphEncoder a(small.graph, small.embed_dim);
  GraphEncoder b(large.graph, large.embed_dim);
  absl::Status s = LoadModuleWeights(*b, SaveModuleWeights(*a), "graph_encoder.pt");
  EXPECT_TRUE(Fails(s, absl::StatusCode::kInvalidArgument,
                    {"graph_encoder.pt", "tensor '", "has shape", "needs"}));
  EXPECT_TRUE(Fails(s, absl::StatusCode::kInvalidArgument, {"8]", "16]"}));
}

TEST(ModuleWeightsTest, GarbageBytesAreRefused) {
  Head head(4, 8, 3);
  const std::string text = "this is not a torch archive at all";
  EXPECT_TRUE(
      Fails(LoadModuleWeights(*head, std::vector<char>(text.begin(), text.end()), "junk.pt"),
            absl::StatusCode::kInvalidArgument, {"junk.pt"}));
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, {}, "empty.pt"), absl::StatusCode::kInvalidArgument,
                    {"empty.pt"}));
  std::vector<char> valid = SaveModuleWeights(*head);
  std::vector<char> truncated(valid.begin(), valid.begin() + valid.size() / 2);
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, truncated, "truncated.pt"),
                    absl::StatusCode::kInvalidArgument, {"truncated.pt"}));
}

TEST(ModuleWeightsTest, NonDictPayloadIsRefused) {
  Head head(4, 8, 3);
  std::vector<char> tensor_only = torch::pickle_save(torch::ones({2, 2}));
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, tensor_only, "tensor.pt"),
                    absl::StatusCode::kInvalidArgument, {"tensor.pt", "not a dict"}));
  c10::Dict<std::string, int64_t> ints;
  ints.insert("mlp.0.weight", 3);
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, torch::pickle_save(ints), "ints.pt"),
                    absl::StatusCode::kInvalidArgument, {"ints.pt"}));
}

TEST(ModuleWeightsTest, MissingTensorIsRefused) {
  Head head(4, 8, 3);
  c10::Dict<std::string, torch::Tensor> dict = ReadDict(SaveModuleWeights(*head));
  ASSERT_EQ(dict.erase("mlp.2.bias"), 1u);
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, WriteDict(dict), "head.pt"),
                    absl::StatusCode::kInvalidArgument, {"head.pt", "'mlp.2.bias'", "missing"}));
}

TEST(ModuleWeightsTest, ExtraTensorIsRefused) {
  Head head(4, 8, 3);
  c10::Dict<std::string, torch::Tensor> dict = ReadDict(SaveModuleWeights(*head));
  dict.insert("mlp.4.weight", torch::zeros({3, 3}));
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, WriteDict(dict), "head.pt"),
                    absl::StatusCode::kInvalidArgument,
                    {"head.pt", "'mlp.4.weight'", "unexpected"}));
}

TEST(ModuleWeightsTest, DtypeMismatchIsRefused) {
  Head head(4, 8, 3);
  c10::Dict<std::string, torch::Tensor> dict = ReadDict(SaveModuleWeights(*head));
  dict.insert_or_assign("mlp.0.bias", dict.at("mlp.0.bias").to(torch::kDouble));
  EXPECT_TRUE(Fails(LoadModuleWeights(*head, WriteDict(dict), "head.pt"),
                    absl::StatusCode::kInvalidArgument, {"head.pt", "'mlp.0.bias'", "dtype"}));
}

}  // namespace
}  // namespace matalign::encoders
