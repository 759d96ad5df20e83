#include "server/model_runner.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "common/status_macros.h"
#include "encoders/featurize.h"
#include "encoders/model_bundle.h"
#include "imaging/preprocess.h"
#include "materials/graph.h"
#include "materials/structure_io.h"

namespace matalign::server {
namespace {

// The structure encoder's output for one structure: its embedding and, with a property
// head, the head's standardized predictions.
struct GraphOut {
  std::vector<float> embedding;
  std::vector<float> head;
};
// The image encoder's output: embedding and, with a defect classifier, its logits.
struct ImageOut {
  std::vector<float> embedding;
  std::vector<float> logits;
};

std::vector<float> Row(const torch::Tensor& t, int64_t i) {
  torch::Tensor r = t[i].contiguous();
  return std::vector<float>(r.data_ptr<float>(), r.data_ptr<float>() + r.numel());
}

// Runs `fn` over a batch; LibTorch exceptions become Internal for the whole batch (the
// batcher also catches them, this adds the encoder's name).
template <typename Fn>
auto Guarded(const char* what, Fn fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(what, " encoder failed: ", e.what_without_backtrace()));
  }
}

template <typename T>
absl::StatusOr<T> Wait(const std::function<void(Done<T>)>& submit) {
  absl::Notification ready;
  absl::StatusOr<T> result = absl::UnknownError("no result");
  submit([&](absl::StatusOr<T> r) {
    result = std::move(r);
    ready.Notify();
  });
  ready.WaitForNotification();
  return result;
}

}  // namespace

absl::Status ModelRunnerOptions::Validate() const {
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("device must be auto, cpu or cuda, got '", device, "'"));
  }
  if (threads < 0) return absl::InvalidArgumentError("threads must be >= 0");
  return batching.Validate();
}

struct ModelRunner::Impl {
  std::shared_ptr<encoders::LoadedModel> model;
  std::vector<std::string> target_properties;
  std::unique_ptr<Batcher<materials::StructureGraph, GraphOut>> graph;
  std::unique_ptr<Batcher<std::vector<int32_t>, std::vector<float>>> text;
  std::unique_ptr<Batcher<std::vector<float>, ImageOut>> image;
  std::unique_ptr<Batcher<encoders::PropertyTarget, std::vector<float>>> property;

  const encoders::ModelConfig& config() const { return model->config; }

  absl::StatusOr<materials::StructureGraph> Featurize(const StructureText& in) const {
    materials::StructureReadOptions options;
    if (!in.format.empty()) {
      MATALIGN_ASSIGN_OR_RETURN(options.format, materials::ParseFormatName(in.format));
    }
    const std::string source = in.name.empty() ? "structure" : in.name;
    if (absl::StripAsciiWhitespace(in.content).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": empty structure"));
    }
    MATALIGN_ASSIGN_OR_RETURN(materials::Structure s,
                              materials::ParseStructure(in.content, source, options));
    MATALIGN_ASSIGN_OR_RETURN(materials::StructureGraph g,
                              materials::BuildGraph(s, encoders::GraphOptionsFor(config())));
    if (g.num_nodes == 0) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": the structure has no atoms"));
    }
    return g;
  }

  absl::StatusOr<std::vector<float>> Featurize(const ImageBytes& in) const {
    if (in.kind != "sem" && in.kind != "xrd") {
      return absl::InvalidArgumentError(
          absl::StrCat("image kind must be sem or xrd, got '", in.kind, "'"));
    }
    const std::string source = in.name.empty() ? "image" : in.name;
    MATALIGN_ASSIGN_OR_RETURN(
        imaging::Image img,
        imaging::LoadForModel(in.data, source, encoders::ImageOptionsFor(config(), in.kind)));
    return std::move(img.pixels);
  }

  absl::StatusOr<std::vector<int32_t>> Featurize(const std::string& text) const {
    if (absl::StripAsciiWhitespace(text).empty()) {
      return absl::InvalidArgumentError("text: empty synthesis text");
    }
    text::EncodeOptions encode;
    encode.max_length = config().text.max_length;
    encode.pad_to_max_length = false;
    MATALIGN_ASSIGN_OR_RETURN(text::Encoding e, model->tokenizer->Encode(text, encode, "text"));
    return std::move(e.ids);
  }
};

ModelRunner::ModelRunner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ModelRunner::~ModelRunner() { Shutdown(); }

void ModelRunner::Shutdown() {
  if (impl_->graph) impl_->graph->Shutdown();
  if (impl_->text) impl_->text->Shutdown();
  if (impl_->image) impl_->image->Shutdown();
  if (impl_->property) impl_->property->Shutdown();
}

absl::StatusOr<std::shared_ptr<ModelRunner>> ModelRunner::Load(const std::string& bundle_dir,
                                                               const ModelRunnerOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  torch::Device device = torch::kCPU;
  if (options.device == "cuda" || (options.device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) {
      return absl::InvalidArgumentError("device cuda requested, but CUDA is not available");
    }
    device = torch::Device(torch::kCUDA, 0);
  }
  if (options.threads > 0) {
    torch::set_num_threads(options.threads);
  } else {
    torch::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  }
  auto impl = std::make_unique<Impl>();
  MATALIGN_ASSIGN_OR_RETURN(impl->model, encoders::LoadModelBundle(bundle_dir, device));
  impl->model->model->eval();
  impl->target_properties = impl->model->config.property.properties;
  Impl* d = impl.get();
  const std::string version = impl->model->version;

  MATALIGN_ASSIGN_OR_RETURN(
      impl->graph,
      (Batcher<materials::StructureGraph, GraphOut>::Create(
          "structure", options.batching,
          [d](std::vector<materials::StructureGraph>& graphs)
              -> absl::StatusOr<std::vector<absl::StatusOr<GraphOut>>> {
            return Guarded(
                "structure", [&]() -> absl::StatusOr<std::vector<absl::StatusOr<GraphOut>>> {
                  torch::NoGradGuard no_grad;
                  std::vector<const materials::StructureGraph*> ptrs;
                  for (const auto& g : graphs) ptrs.push_back(&g);
                  encoders::GraphBatch batch = encoders::CollateGraphs(ptrs).To(d->model->device);
                  torch::Tensor e = d->model->model->graph->forward(batch);
                  torch::Tensor head;
                  if (d->model->model->property_head) {
                    head = d->model->model->property_head->forward(e).to(torch::kFloat).cpu();
                  }
                  e = e.to(torch::kFloat).cpu();
                  std::vector<absl::StatusOr<GraphOut>> out;
                  for (int64_t i = 0; i < e.size(0); ++i) {
                    GraphOut o;
                    o.embedding = Row(e, i);
                    if (head.defined()) o.head = Row(head, i);
                    out.push_back(std::move(o));
                  }
                  return out;
                });
          })));
  MATALIGN_ASSIGN_OR_RETURN(
      impl->text,
      (Batcher<std::vector<int32_t>, std::vector<float>>::Create(
          "text", options.batching,
          [d](std::vector<std::vector<int32_t>>& rows)
              -> absl::StatusOr<std::vector<absl::StatusOr<std::vector<float>>>> {
            return Guarded(
                "text", [&]() -> absl::StatusOr<std::vector<absl::StatusOr<std::vector<float>>>> {
                  torch::NoGradGuard no_grad;
                  std::vector<const std::vector<int32_t>*> ptrs;
                  for (const auto& r : rows) ptrs.push_back(&r);
                  encoders::TextBatch batch = encoders::CollateTokens(ptrs).To(d->model->device);
                  torch::Tensor e = d->model->model->text->forward(batch).to(torch::kFloat).cpu();
                  std::vector<absl::StatusOr<std::vector<float>>> out;
                  for (int64_t i = 0; i < e.size(0); ++i) out.push_back(Row(e, i));
                  return out;
                });
          })));
  MATALIGN_ASSIGN_OR_RETURN(
      impl->image,
      (Batcher<std::vector<float>, ImageOut>::Create(
          "image", options.batching,
          [d](std::vector<std::vector<float>>& images)
              -> absl::StatusOr<std::vector<absl::StatusOr<ImageOut>>> {
            return Guarded("image", [&]() -> absl::StatusOr<std::vector<absl::StatusOr<ImageOut>>> {
              torch::NoGradGuard no_grad;
              std::vector<const std::vector<float>*> ptrs;
              for (const auto& im : images) ptrs.push_back(&im);
              torch::Tensor x =
                  encoders::CollateImages(ptrs, d->config().image.input_size).to(d->model->device);
              torch::Tensor e = d->model->model->image->forward(x);
              torch::Tensor logits;
              if (d->model->model->defect_head) {
                logits = d->model->model->defect_head->forward(e).to(torch::kFloat).cpu();
              }
              e = e.to(torch::kFloat).cpu();
              std::vector<absl::StatusOr<ImageOut>> out;
              for (int64_t i = 0; i < e.size(0); ++i) {
                ImageOut o;
                o.embedding = Row(e, i);
                if (logits.defined()) o.logits = Row(logits, i);
                out.push_back(std::move(o));
              }
              return out;
            });
          })));
  MATALIGN_ASSIGN_OR_RETURN(
      impl->property,
      (Batcher<encoders::PropertyTarget, std::vector<float>>::Create(
          "property", options.batching,
          [d](std::vector<encoders::PropertyTarget>& targets)
              -> absl::StatusOr<std::vector<absl::StatusOr<std::vector<float>>>> {
            return Guarded(
                "property",
                [&]() -> absl::StatusOr<std::vector<absl::StatusOr<std::vector<float>>>> {
                  torch::NoGradGuard no_grad;
                  std::vector<const encoders::PropertyTarget*> ptrs;
                  for (const auto& t : targets) ptrs.push_back(&t);
                  encoders::PropertyBatch batch =
                      encoders::CollateTargets(ptrs).To(d->model->device);
                  torch::Tensor e =
                      d->model->model->property->forward(batch).to(torch::kFloat).cpu();
                  std::vector<absl::StatusOr<std::vector<float>>> out;
                  for (int64_t i = 0; i < e.size(0); ++i) out.push_back(Row(e, i));
                  return out;
                });
          })));
  return std::shared_ptr<ModelRunner>(new ModelRunner(std::move(impl)));
}

void ModelRunner::EmbedStructure(const StructureText& input, absl::Time deadline,
                                 Cancelled cancelled, Done<std::vector<float>> done) const {
  auto graph = impl_->Featurize(input);
  if (!graph.ok()) return done(graph.status());
  impl_->graph->Submit(std::move(*graph), deadline, std::move(cancelled),
                       [done = std::move(done)](absl::StatusOr<GraphOut> r) {
                         if (!r.ok()) return done(r.status());
                         done(std::move(r->embedding));
                       });
}

void ModelRunner::PredictProperties(const StructureText& input, absl::Time deadline,
                                    Cancelled cancelled,
                                    Done<std::map<std::string, double>> done) const {
  if (!impl_->model->model->property_head) {
    return done(
        absl::FailedPreconditionError(absl::StrCat("model ", version(), " has no property head")));
  }
  auto graph = impl_->Featurize(input);
  if (!graph.ok()) return done(graph.status());
  const Impl* d = impl_.get();
  impl_->graph->Submit(std::move(*graph), deadline, std::move(cancelled),
                       [d, done = std::move(done)](absl::StatusOr<GraphOut> r) {
                         if (!r.ok()) return done(r.status());
                         const auto& names = d->config().heads.properties;
                         std::map<std::string, double> out;
                         for (size_t i = 0; i < names.size() && i < r->head.size(); ++i) {
                           double v = r->head[i];
                           auto it = d->model->normalization.stats.find(names[i]);
                           if (it != d->model->normalization.stats.end()) {
                             v = v * it->second.second + it->second.first;
                           }
                           out[names[i]] = v;
                         }
                         done(std::move(out));
                       });
}

void ModelRunner::EmbedText(const std::string& text, absl::Time deadline, Cancelled cancelled,
                            Done<std::vector<float>> done) const {
  auto ids = impl_->Featurize(text);
  if (!ids.ok()) return done(ids.status());
  impl_->text->Submit(std::move(*ids), deadline, std::move(cancelled), std::move(done));
}

void ModelRunner::EmbedImage(const ImageBytes& input, absl::Time deadline, Cancelled cancelled,
                             Done<std::vector<float>> done) const {
  auto pixels = impl_->Featurize(input);
  if (!pixels.ok()) return done(pixels.status());
  impl_->image->Submit(std::move(*pixels), deadline, std::move(cancelled),
                       [done = std::move(done)](absl::StatusOr<ImageOut> r) {
                         if (!r.ok()) return done(r.status());
                         done(std::move(r->embedding));
                       });
}

void ModelRunner::ClassifyDefect(const ImageBytes& input, absl::Time deadline, Cancelled cancelled,
                                 Done<DefectPrediction> done) const {
  if (!impl_->model->model->defect_head) {
    return done(absl::FailedPreconditionError(
        absl::StrCat("model ", version(), " has no defect classifier")));
  }
  auto pixels = impl_->Featurize(input);
  if (!pixels.ok()) return done(pixels.status());
  const Impl* d = impl_.get();
  impl_->image->Submit(std::move(*pixels), deadline, std::move(cancelled),
                       [d, done = std::move(done)](absl::StatusOr<ImageOut> r) {
                         if (!r.ok()) return done(r.status());
                         const auto& classes = d->config().heads.defect_classes;
                         const std::vector<float>& z = r->logits;
                         if (z.size() != classes.size() || z.empty()) {
                           return done(absl::InternalError("defect classifier output size"));
                         }
                         const float top = *std::max_element(z.begin(), z.end());
                         double sum = 0;
                         for (float v : z) sum += std::exp(static_cast<double>(v - top));
                         DefectPrediction p;
                         for (size_t i = 0; i < z.size(); ++i) {
                           p.probabilities[classes[i]] =
                               std::exp(static_cast<double>(z[i] - top)) / sum;
                         }
                         p.label = classes[std::max_element(z.begin(), z.end()) - z.begin()];
                         done(std::move(p));
                       });
}

void ModelRunner::EmbedTarget(const TargetSpec& target, absl::Time deadline, Cancelled cancelled,
                              Done<std::vector<float>> done) const {
  auto encoded = encoders::EncodePropertyTarget(target.properties, target.composition,
                                                impl_->config().property,
                                                impl_->model->normalization, /*strict=*/true);
  if (!encoded.ok()) return done(encoded.status());
  impl_->property->Submit(std::move(*encoded), deadline, std::move(cancelled), std::move(done));
}

absl::StatusOr<std::vector<float>> ModelRunner::EmbedStructure(const StructureText& input,
                                                               absl::Time deadline,
                                                               Cancelled cancelled) const {
  return Wait<std::vector<float>>([&](Done<std::vector<float>> done) {
    EmbedStructure(input, deadline, std::move(cancelled), std::move(done));
  });
}
absl::StatusOr<std::vector<float>> ModelRunner::EmbedText(const std::string& text,
                                                          absl::Time deadline,
                                                          Cancelled cancelled) const {
  return Wait<std::vector<float>>([&](Done<std::vector<float>> done) {
    EmbedText(text, deadline, std::move(cancelled), std::move(done));
  });
}
absl::StatusOr<std::vector<float>> ModelRunner::EmbedImage(const ImageBytes& input,
                                                           absl::Time deadline,
                                                           Cancelled cancelled) const {
  return Wait<std::vector<float>>([&](Done<std::vector<float>> done) {
    EmbedImage(input, deadline, std::move(cancelled), std::move(done));
  });
}
absl::StatusOr<std::vector<float>> ModelRunner::EmbedTarget(const TargetSpec& target,
                                                            absl::Time deadline,
                                                            Cancelled cancelled) const {
  return Wait<std::vector<float>>([&](Done<std::vector<float>> done) {
    EmbedTarget(target, deadline, std::move(cancelled), std::move(done));
  });
}
absl::StatusOr<std::map<std::string, double>> ModelRunner::PredictProperties(
    const StructureText& input, absl::Time deadline, Cancelled cancelled) const {
  return Wait<std::map<std::string, double>>([&](Done<std::map<std::string, double>> done) {
    PredictProperties(input, deadline, std::move(cancelled), std::move(done));
  });
}
absl::StatusOr<DefectPrediction> ModelRunner::ClassifyDefect(const ImageBytes& input,
                                                             absl::Time deadline,
                                                             Cancelled cancelled) const {
  return Wait<DefectPrediction>([&](Done<DefectPrediction> done) {
    ClassifyDefect(input, deadline, std::move(cancelled), std::move(done));
  });
}

const std::string& ModelRunner::version() const { return impl_->model->version; }
const std::string& ModelRunner::dir() const { return impl_->model->dir; }
const nlohmann::json& ModelRunner::manifest() const { return impl_->model->manifest; }
int ModelRunner::embed_dim() const { return impl_->config().embed_dim; }
std::string ModelRunner::device() const { return impl_->model->device.str(); }
const std::vector<std::string>& ModelRunner::target_properties() const {
  return impl_->target_properties;
}
const std::vector<std::string>& ModelRunner::predicted_properties() const {
  return impl_->config().heads.properties;
}
const std::vector<std::string>& ModelRunner::defect_classes() const {
  return impl_->config().heads.defect_classes;
}

std::vector<std::pair<std::string, BatcherStats>> ModelRunner::batcher_stats() const {
  return {{"structure", impl_->graph->stats()},
          {"text", impl_->text->stats()},
          {"image", impl_->image->stats()},
          {"property", impl_->property->stats()}};
}

}  // namespace matalign::server
