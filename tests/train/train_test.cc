// Training configuration, the InfoNCE objective and the retrieval metric.
#include <torch/torch.h>

#include "tests/test_util.h"
#include "train/config.h"
#include "train/objective.h"

namespace matalign::train {
namespace {

TEST(TrainConfigTest, PresetsParse) {
  for (const char* name : {"tiny", "small", "base"}) {
    ASSERT_OK_AND_ASSIGN(TrainConfig c, LoadTrainConfig(std::string(MATALIGN_SOURCE_DIR) +
                                                        "/configs/" + name + ".yaml"));
    EXPECT_GT(c.train.epochs, 0) << name;
  }
  ASSERT_OK_AND_ASSIGN(TrainConfig base,
                       LoadTrainConfig(std::string(MATALIGN_SOURCE_DIR) + "/configs/base.yaml"));
  EXPECT_EQ(base.model.image.depth, 50);
  EXPECT_EQ(base.model.text.layers, 4);
  EXPECT_EQ(base.model.graph.layers, 3);
}

TEST(TrainConfigTest, YamlTypesAndDefaults) {
  ASSERT_OK_AND_ASSIGN(TrainConfig c, ParseTrainConfig(R"(
model: {embed_dim: 32, image: {norm: group, base_width: 8}}
train: {lr: 1e-4, symmetric: false, image_kinds: [sem], loss_weights: {text_image: 0},
        selection_metric: mae_band_gap_ev}
)",
                                                       "inline"));
  EXPECT_EQ(c.model.embed_dim, 32);
  EXPECT_EQ(c.model.image.norm, "group");
  EXPECT_DOUBLE_EQ(c.train.lr, 1e-4);
  EXPECT_FALSE(c.train.symmetric);
  EXPECT_EQ(c.train.image_kinds, std::vector<std::string>{"sem"});
  EXPECT_EQ(c.train.loss_weights.text_image, 0);
  EXPECT_EQ(c.train.loss_weights.graph_text, 1);  // default kept
  EXPECT_EQ(c.train.selection_metric, "mae_band_gap_ev");
  EXPECT_EQ(c.model.graph.layers, 3);
  EXPECT_EQ(c.model.text.layers, 4);
}

TEST(TrainConfigTest, ErrorsNameFileAndKey) {
  auto bad = [](const std::string& yaml) {
    absl::StatusOr<TrainConfig> c = ParseTrainConfig(yaml, "x.yaml");
    EXPECT_FALSE(c.ok()) << yaml;
    return std::string(c.status().message());
  };
  EXPECT_EQ(bad("train: {epoch: 3}"), "x.yaml: train.epoch: unknown key");
  EXPECT_EQ(bad("train: {epochs: three}"), "x.yaml: train.epochs: expected an integer");
  EXPECT_EQ(bad("model: {text: {heads: 3}}"),
            "x.yaml: model.text.heads: 3 does not divide hidden 256");
  EXPECT_EQ(bad("train: {image_kinds: [tem]}"),
            "x.yaml: train.image_kinds: unknown kind 'tem' (sem or xrd)");
  EXPECT_EQ(bad("train: {loss_weights: {graph_txt: 1}}"),
            "x.yaml: train.loss_weights.graph_txt: unknown key");
  EXPECT_NE(bad("model: [1, 2").find("not valid YAML"), std::string::npos);
  absl::StatusOr<TrainConfig> missing = LoadTrainConfig("/no/such/config.yaml");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
}

TEST(TrainConfigTest, JsonRoundTripThroughYaml) {
  ASSERT_OK_AND_ASSIGN(TrainConfig c,
                       LoadTrainConfig(std::string(MATALIGN_SOURCE_DIR) + "/configs/tiny.yaml"));
  // JSON is YAML: the recorded configuration reads back to the same configuration.
  ASSERT_OK_AND_ASSIGN(TrainConfig d, ParseTrainConfig(TrainConfigToJson(c).dump(), "json"));
  EXPECT_EQ(TrainConfigToJson(c), TrainConfigToJson(d));
}

TEST(ObjectiveTest, InfoNceIsLowForAlignedPairsAndLogNForRandom) {
  torch::manual_seed(0);
  torch::Tensor a = torch::nn::functional::normalize(
      torch::randn({64, 16}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor t = torch::full({}, 0.05);
  EXPECT_LT(InfoNce(a, a, t, true).item<double>(), 0.05);
  // Constant embeddings: every candidate equally likely, loss = log(n).
  torch::Tensor c = torch::ones({64, 16}) / 4.0;
  EXPECT_NEAR(InfoNce(c, c, t, true).item<double>(), std::log(64.0), 1e-4);
  // One-directional: only a -> b; differs from symmetric when a and b play different roles.
  torch::Tensor b = torch::nn::functional::normalize(
      a + 0.5 * torch::randn({64, 16}), torch::nn::functional::NormalizeFuncOptions().dim(1));
  torch::Tensor ab = InfoNce(a, b, t, false), ba = InfoNce(b, a, t, false);
  EXPECT_NEAR(InfoNce(a, b, t, true).item<double>(), 0.5 * (ab + ba).item<double>(), 1e-5);
}

TEST(ObjectiveTest, InfoNceGradientReachesTemperature) {
  torch::Tensor a = torch::eye(4);
  torch::Tensor log_t = torch::full({1}, std::log(0.5), torch::requires_grad());
  InfoNce(a, a, log_t.exp(), true).backward();
  ASSERT_TRUE(log_t.grad().defined());
  // Perfectly aligned pairs: a lower temperature lowers the loss.
  EXPECT_GT(log_t.grad().item<double>(), 0);
}

TEST(ObjectiveTest, RecallAtK) {
  torch::Tensor q = torch::eye(8);
  EXPECT_DOUBLE_EQ(RecallAtK(q, q, 1), 1.0);
  // Documents in reverse order: every query's own document has similarity 0 and all others
  // tie with it or beat it, so it counts as ranked last (ties are pessimistic).
  torch::Tensor d = torch::flip(q, {0});
  EXPECT_DOUBLE_EQ(RecallAtK(q, d, 7), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(q, d, 8), 1.0);
  // Half the queries point at their own document.
  torch::Tensor half = q.clone();
  half.slice(0, 4, 8).zero_();
  half.slice(0, 4, 8).select(1, 0).fill_(1);  // queries 4..7 all point at document 0
  EXPECT_DOUBLE_EQ(RecallAtK(half, q, 1), 0.5);
}

}  // namespace
}  // namespace matalign::train
