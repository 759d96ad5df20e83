#include "encoders/model_bundle.h"

#include <torch/csrc/api/include/torch/version.h>
#include <torch/csrc/jit/serialization/pickle.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bundle/bundle.h"
#include "common/status_macros.h"
#include "gemmi/version.hpp"

namespace matalign::encoders {
namespace {

constexpr char kTokenizerFile[] = "tokenizer.model";

std::string ShapeString(const torch::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ", "), "]");
}

// Every parameter and buffer of `module` by dotted name.
std::map<std::string, torch::Tensor> NamedTensors(torch::nn::Module& module) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.key()] = p.value();
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out[b.key()] = b.value();
  return out;
}

}  // namespace

std::vector<char> SaveModuleWeights(torch::nn::Module& module) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, tensor] : NamedTensors(module)) {
    dict.insert(name, tensor.detach().to(torch::kCPU).contiguous());
  }
  return torch::pickle_save(dict);
}

absl::Status LoadModuleWeights(torch::nn::Module& module, const std::vector<char>& data,
                               absl::string_view source) {
  c10::Dict<std::string, torch::Tensor> dict;
  try {
    c10::IValue value = torch::pickle_load(data);
    if (!value.isGenericDict()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": not a dict of tensors (", value.tagKind(), ")"));
    }
    for (const auto& entry : value.toGenericDict()) {
      if (!entry.key().isString() || !entry.value().isTensor()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": not a dict of named tensors"));
      }
      dict.insert(entry.key().toStringRef(), entry.value().toTensor());
    }
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": unreadable weights: ", e.what()));
  }
  std::map<std::string, torch::Tensor> expected = NamedTensors(module);
  for (const auto& entry : dict) {
    if (!expected.count(entry.key())) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": unexpected tensor '", entry.key(),
                                                     "' (not in the configured model)"));
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : expected) {
    auto it = dict.find(name);
    if (it == dict.end()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": tensor '", name, "' is missing"));
    }
    const torch::Tensor& stored = it->value();
    if (stored.sizes() != tensor.sizes()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": tensor '", name, "' has shape ", ShapeString(stored),
                       ", the configured model needs ", ShapeString(tensor)));
    }
    if (stored.scalar_type() != tensor.scalar_type()) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": tensor '", name, "' has dtype ", c10::toString(stored.scalar_type()),
          ", expected ", c10::toString(tensor.scalar_type())));
    }
    tensor.copy_(stored);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SaveModelBundle(const std::string& models_dir, MatAlignModel& model,
                                            const text::Tokenizer& tokenizer,
                                            const PropertyNormalization& normalization,
                                            const BundleMetadata& metadata) {
  const ModelConfig& config = model->config();
  std::map<std::string, std::string> files;
  nlohmann::json weights = nlohmann::json::object();
  for (auto& [name, module] : ModelParts(model)) {
    std::vector<char> bytes = SaveModuleWeights(*module);
    std::string file = name + ".pt";
    int64_t count = 0;
    for (const auto& p : module->parameters()) count += p.numel();
    weights[name] = {{"file", file}, {"parameters", count}};
    files[file] = std::string(bytes.begin(), bytes.end());
  }
  files[kTokenizerFile] = tokenizer.serialized_model();
  const double temperature = model->temperature().item<double>();

  nlohmann::json manifest = {
      {"name", "matalign"},
      {"config", {{"model", ModelConfigToJson(config)}, {"train", metadata.train_config}}},
      {"normalization",
       {{"properties", normalization.ToJson()},
        {"image",
         {{"size", config.image.input_size},
          {"mean", imaging::PreprocessOptions{}.mean},
          {"std", imaging::PreprocessOptions{}.stddev},
          {"crop_data_bar", {{"sem", true}, {"xrd", false}}}}},
        {"graph",
         {{"cutoff", config.graph.cutoff},
          {"max_neighbors", config.graph.max_neighbors},
          {"num_rbf", config.graph.num_rbf}}}}},
      {"tokenizer",
       {{"file", kTokenizerFile},
        {"type", "sentencepiece"},
        {"vocab_size", tokenizer.vocab_size()},
        {"max_length", config.text.max_length}}},
      {"dimensions",
       {{"embed_dim", config.embed_dim},
        {"properties", config.property.properties},
        {"head_properties", config.heads.properties},
        {"defect_classes", config.heads.defect_classes}}},
      {"weights", weights},
      {"temperature", temperature},
      {"data_hash", metadata.data_hash},
      {"metrics", metadata.metrics},
      {"libraries",
       {{"matalign", MATALIGN_VERSION},
        {"libtorch",
         absl::StrCat(TORCH_VERSION_MAJOR, ".", TORCH_VERSION_MINOR, ".", TORCH_VERSION_PATCH)},
        {"gemmi", GEMMI_VERSION}}},
  };
  return bundle::WriteBundle(models_dir, std::move(manifest), files);
}

namespace {

absl::StatusOr<std::string> FindWeightsFile(const bundle::Bundle& b, const std::string& part) {
  const nlohmann::json& w = b.manifest["weights"];
  if (!w.contains(part) || !w[part].is_object() || !w[part].contains("file") ||
      !w[part]["file"].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle ", b.dir, ": manifest.json has no weights for '", part, "'"));
  }
  std::string file = w[part]["file"].get<std::string>();
  if (!b.files.count(file)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bundle ", b.dir, ": weights file '", file, "' of '", part, "' is missing"));
  }
  return file;
}

}  // namespace

absl::StatusOr<std::shared_ptr<LoadedModel>> LoadModelBundle(const std::string& dir,
                                                             torch::Device device) {
  MATALIGN_ASSIGN_OR_RETURN(bundle::Bundle b, bundle::ReadBundle(dir));
  auto fail = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("bundle ", b.dir, ": ", what));
  };
  const nlohmann::json& m = b.manifest;
  if (!m.contains("config") || !m["config"].is_object() || !m["config"].contains("model")) {
    return fail("manifest.json lacks config.model");
  }
  auto loaded = std::make_shared<LoadedModel>();
  loaded->dir = b.dir;
  loaded->version = b.version;
  loaded->manifest = m;
  loaded->device = device;
  {
    absl::StatusOr<ModelConfig> config = ModelConfigFromJson(m["config"]["model"]);
    if (!config.ok()) return fail(absl::StrCat("manifest.json: ", config.status().message()));
    loaded->config = *config;
  }
  if (!m.contains("normalization") || !m["normalization"].is_object() ||
      !m["normalization"].contains("properties")) {
    return fail("manifest.json lacks normalization.properties");
  }
  {
    absl::StatusOr<PropertyNormalization> n =
        PropertyNormalization::FromJson(m["normalization"]["properties"]);
    if (!n.ok()) return fail(absl::StrCat("manifest.json: ", n.status().message()));
    loaded->normalization = *n;
  }
  if (!b.files.count(kTokenizerFile)) return fail("tokenizer.model is missing");
  {
    absl::StatusOr<std::unique_ptr<text::Tokenizer>> tokenizer =
        text::Tokenizer::LoadFromSerialized(b.files.at(kTokenizerFile),
                                            absl::StrCat(b.dir, "/", kTokenizerFile));
    if (!tokenizer.ok()) return fail(std::string(tokenizer.status().message()));
    loaded->tokenizer = std::move(*tokenizer);
  }
  if (loaded->tokenizer->vocab_size() != loaded->config.text.vocab_size) {
    return fail(absl::StrCat("tokenizer.model has ", loaded->tokenizer->vocab_size(),
                             " pieces, the text encoder was configured for ",
                             loaded->config.text.vocab_size));
  }
  try {
    loaded->model = MatAlignModel(loaded->config);
  } catch (const std::exception& e) {
    return fail(absl::StrCat("cannot build the configured model: ", e.what()));
  }
  for (auto& [name, module] : ModelParts(loaded->model)) {
    MATALIGN_ASSIGN_OR_RETURN(std::string file, FindWeightsFile(b, name));
    const std::string& bytes = b.files.at(file);
    MATALIGN_RETURN_IF_ERROR(LoadModuleWeights(*module,
                                               std::vector<char>(bytes.begin(), bytes.end()),
                                               absl::StrCat("bundle ", b.dir, ": ", file)));
  }
  if (!m.contains("temperature") || !m["temperature"].is_number() ||
      !(m["temperature"].get<double>() > 0)) {
    return fail("manifest.json: temperature must be a number > 0");
  }
  {
    torch::NoGradGuard no_grad;
    loaded->model->log_temperature.fill_(std::log(m["temperature"].get<double>()));
  }
  try {
    loaded->model->to(device);
  } catch (const std::exception& e) {
    return absl::FailedPreconditionError(absl::StrCat(
        "bundle ", b.dir, ": cannot move the model to ", device.str(), ": ", e.what()));
  }
  loaded->model->eval();
  return loaded;
}

}  // namespace matalign::encoders
