#include "train/config.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/json_reader.h"
#include "common/status_macros.h"
#include "common/yaml_json.h"

namespace matalign::train {
namespace {

absl::Status Check(bool ok, const std::string& field, const std::string& what) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status ReadConfig(const nlohmann::json& json, TrainConfig* c) {
  JsonObjectReader top(json, "");
  {
    absl::StatusOr<encoders::ModelConfig> model =
        encoders::ModelConfigFromJson(top.Object("model"));
    if (!model.ok()) return model.status();
    c->model = *model;
  }
  {
    JsonObjectReader t(top.Object("tokenizer"), "tokenizer");
    t.Read("vocab_size", &c->tokenizer.vocab_size);
    top.Merge(t.Finish());
  }
  {
    TrainSettings& s = c->train;
    JsonObjectReader t(top.Object("train"), "train");
    t.Read("epochs", &s.epochs);
    t.Read("batch_size", &s.batch_size);
    t.Read("lr", &s.lr);
    t.Read("min_lr", &s.min_lr);
    t.Read("warmup_steps", &s.warmup_steps);
    t.Read("weight_decay", &s.weight_decay);
    t.Read("grad_clip", &s.grad_clip);
    t.Read("seed", &s.seed);
    t.Read("symmetric", &s.symmetric);
    t.Read("complete_triplets_only", &s.complete_triplets_only);
    t.Read("curriculum_epochs", &s.curriculum_epochs);
    t.Read("property_keep_prob", &s.property_keep_prob);
    t.Read("image_kinds", &s.image_kinds);
    t.Read("recall_k", &s.recall_k);
    t.Read("early_stopping_patience", &s.early_stopping_patience);
    t.Read("selection_metric", &s.selection_metric);
    t.Read("prefetch", &s.prefetch);
    t.Read("max_records", &s.max_records);
    t.Read("amp", &s.amp);
    {
      LossWeights& w = s.loss_weights;
      JsonObjectReader l(t.Object("loss_weights"), "train.loss_weights");
      l.Read("graph_text", &w.graph_text);
      l.Read("graph_image", &w.graph_image);
      l.Read("text_image", &w.text_image);
      l.Read("property_graph", &w.property_graph);
      l.Read("property_text", &w.property_text);
      l.Read("property_head", &w.property_head);
      l.Read("defect_head", &w.defect_head);
      t.Merge(l.Finish());
    }
    top.Merge(t.Finish());
  }
  MATALIGN_RETURN_IF_ERROR(top.Finish());
  return c->Validate();
}

}  // namespace

absl::Status TrainConfig::Validate() const {
  MATALIGN_RETURN_IF_ERROR(model.Validate());
  const TrainSettings& s = train;
  MATALIGN_RETURN_IF_ERROR(Check(tokenizer.vocab_size >= 16 && tokenizer.vocab_size <= 1 << 20,
                                 "tokenizer.vocab_size", "must be in [16, 1048576]"));
  MATALIGN_RETURN_IF_ERROR(Check(s.epochs >= 1, "train.epochs", "must be >= 1"));
  MATALIGN_RETURN_IF_ERROR(Check(s.batch_size >= 2, "train.batch_size", "must be >= 2"));
  MATALIGN_RETURN_IF_ERROR(Check(s.lr > 0 && s.lr < 10, "train.lr", "must be in (0, 10)"));
  MATALIGN_RETURN_IF_ERROR(
      Check(s.min_lr >= 0 && s.min_lr <= s.lr, "train.min_lr", "must be in [0, lr]"));
  MATALIGN_RETURN_IF_ERROR(Check(s.warmup_steps >= 0, "train.warmup_steps", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(Check(s.weight_decay >= 0, "train.weight_decay", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(Check(s.grad_clip >= 0, "train.grad_clip", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(
      Check(s.curriculum_epochs >= 0, "train.curriculum_epochs", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(Check(s.property_keep_prob > 0 && s.property_keep_prob <= 1,
                                 "train.property_keep_prob", "must be in (0, 1]"));
  MATALIGN_RETURN_IF_ERROR(
      Check(!s.image_kinds.empty(), "train.image_kinds", "must name sem and/or xrd"));
  for (const std::string& k : s.image_kinds) {
    MATALIGN_RETURN_IF_ERROR(Check(k == "sem" || k == "xrd", "train.image_kinds",
                                   absl::StrCat("unknown kind '", k, "' (sem or xrd)")));
  }
  const LossWeights& w = s.loss_weights;
  for (double v : {w.graph_text, w.graph_image, w.text_image, w.property_graph, w.property_text,
                   w.property_head, w.defect_head}) {
    MATALIGN_RETURN_IF_ERROR(
        Check(v >= 0 && std::isfinite(v), "train.loss_weights", "weights must be >= 0"));
  }
  MATALIGN_RETURN_IF_ERROR(Check(s.recall_k >= 1, "train.recall_k", "must be >= 1"));
  MATALIGN_RETURN_IF_ERROR(
      Check(s.early_stopping_patience >= 0, "train.early_stopping_patience", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(
      Check(s.prefetch >= 1 && s.prefetch <= 64, "train.prefetch", "must be in [1, 64]"));
  MATALIGN_RETURN_IF_ERROR(Check(s.max_records >= 0, "train.max_records", "must be >= 0"));
  return absl::OkStatus();
}

absl::StatusOr<TrainConfig> ParseTrainConfig(const std::string& yaml, const std::string& source) {
  MATALIGN_ASSIGN_OR_RETURN(nlohmann::json json, ParseYamlAsJson(yaml, source));
  TrainConfig config;
  absl::Status status = ReadConfig(json, &config);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
  }
  return config;
}

absl::StatusOr<TrainConfig> LoadTrainConfig(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseTrainConfig(text, path);
}

nlohmann::json TrainConfigToJson(const TrainConfig& c) {
  const TrainSettings& s = c.train;
  const LossWeights& w = s.loss_weights;
  return {
      {"model", encoders::ModelConfigToJson(c.model)},
      {"tokenizer", {{"vocab_size", c.tokenizer.vocab_size}}},
      {"train",
       {{"epochs", s.epochs},
        {"batch_size", s.batch_size},
        {"lr", s.lr},
        {"min_lr", s.min_lr},
        {"warmup_steps", s.warmup_steps},
        {"weight_decay", s.weight_decay},
        {"grad_clip", s.grad_clip},
        {"seed", s.seed},
        {"symmetric", s.symmetric},
        {"complete_triplets_only", s.complete_triplets_only},
        {"curriculum_epochs", s.curriculum_epochs},
        {"property_keep_prob", s.property_keep_prob},
        {"image_kinds", s.image_kinds},
        {"recall_k", s.recall_k},
        {"early_stopping_patience", s.early_stopping_patience},
        {"selection_metric", s.selection_metric},
        {"prefetch", s.prefetch},
        {"max_records", s.max_records},
        {"amp", s.amp},
        {"loss_weights",
         {{"graph_text", w.graph_text},
          {"graph_image", w.graph_image},
          {"text_image", w.text_image},
          {"property_graph", w.property_graph},
          {"property_text", w.property_text},
          {"property_head", w.property_head},
          {"defect_head", w.defect_head}}}}},
  };
}

}  // namespace matalign::train
