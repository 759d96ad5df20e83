#include "encoders/model.h"

#include <cmath>

#include "materials/graph.h"

namespace matalign::encoders {
namespace {

namespace nn = torch::nn;

torch::Tensor Normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(
      x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1).eps(1e-12));
}

// Linear -> ReLU -> Linear into the shared space.
nn::Sequential Projection(int in, int embed_dim) {
  return nn::Sequential(nn::Linear(in, in), nn::ReLU(), nn::Linear(in, embed_dim));
}

nn::AnyModule Norm2d(const std::string& kind, int channels) {
  if (kind == "group") {
    // 32 groups as in Wu & He (2018), fewer for narrow layers.
    int groups = std::min(32, channels / 4);
    while (channels % groups != 0) --groups;
    return nn::AnyModule(nn::GroupNorm(nn::GroupNormOptions(groups, channels)));
  }
  return nn::AnyModule(nn::BatchNorm2d(channels));
}

nn::Conv2d Conv(int in, int out, int kernel, int stride) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// ResNet basic block (two 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x expansion).
class ResidualBlockImpl : public nn::Module {
 public:
  ResidualBlockImpl(int in, int width, int stride, bool bottleneck, const std::string& norm) {
    int out = bottleneck ? width * 4 : width;
    body_ = register_module("body", nn::Sequential());
    if (bottleneck) {
      body_->push_back(Conv(in, width, 1, 1));
      body_->push_back(Norm2d(norm, width));
      body_->push_back(nn::ReLU(nn::ReLUOptions(true)));
      body_->push_back(Conv(width, width, 3, stride));
      body_->push_back(Norm2d(norm, width));
      body_->push_back(nn::ReLU(nn::ReLUOptions(true)));
      body_->push_back(Conv(width, out, 1, 1));
      body_->push_back(Norm2d(norm, out));
    } else {
      body_->push_back(Conv(in, width, 3, stride));
      body_->push_back(Norm2d(norm, width));
      body_->push_back(nn::ReLU(nn::ReLUOptions(true)));
      body_->push_back(Conv(width, out, 3, 1));
      body_->push_back(Norm2d(norm, out));
    }
    if (stride != 1 || in != out) {
      shortcut_ = register_module("shortcut", nn::Sequential(Conv(in, out, 1, stride)));
      shortcut_->push_back(Norm2d(norm, out));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor identity = shortcut_ ? shortcut_->forward(x) : x;
    return torch::relu(body_->forward(x) + identity);
  }

 private:
  nn::Sequential body_{nullptr};
  nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(ResidualBlock);

}  // namespace

namespace {

// A batch without a modality leaves its tensors undefined; those stay undefined.
torch::Tensor ToDevice(const torch::Tensor& t, const torch::Device& device) {
  return t.defined() ? t.to(device) : t;
}

}  // namespace

GraphBatch GraphBatch::To(const torch::Device& device) const {
  return {ToDevice(atomic_numbers, device),
          ToDevice(node_features, device),
          ToDevice(edge_src, device),
          ToDevice(edge_dst, device),
          ToDevice(edge_rbf, device),
          ToDevice(node_graph, device),
          num_graphs};
}

TextBatch TextBatch::To(const torch::Device& device) const {
  return {ToDevice(ids, device), ToDevice(mask, device)};
}

PropertyBatch PropertyBatch::To(const torch::Device& device) const {
  return {ToDevice(values, device), ToDevice(mask, device), ToDevice(composition, device)};
}

// ---------------------------------------------------------------------------------------
GraphEncoderImpl::GraphEncoderImpl(const GraphEncoderConfig& config, int embed_dim) {
  const int h = config.hidden;
  species_ = register_module("species", nn::Embedding(kNumElements + 1, h));
  node_in_ = register_module("node_in", nn::Linear(materials::kNodeFeatureDim, h));
  self_ = register_module("self", nn::ModuleList());
  message_ = register_module("message", nn::ModuleList());
  gate_ = register_module("gate", nn::ModuleList());
  for (int l = 0; l < config.layers; ++l) {
    self_->push_back(nn::Linear(h, h));
    message_->push_back(nn::Linear(nn::LinearOptions(h, h).bias(false)));
    gate_->push_back(nn::Linear(config.num_rbf, h));
  }
  project_ = register_module("project", Projection(h, embed_dim));
}

torch::Tensor GraphEncoderImpl::forward(const GraphBatch& batch) {
  torch::Tensor h = species_->forward(batch.atomic_numbers) +
                    node_in_->forward(batch.node_features);  // [N, hidden]
  const int64_t n = h.size(0);
  for (size_t l = 0; l < self_->size(); ++l) {
    torch::Tensor gate =
        torch::sigmoid(gate_[l]->as<nn::Linear>()->forward(batch.edge_rbf));  // [E, hidden]
    torch::Tensor messages =
        message_[l]->as<nn::Linear>()->forward(h).index_select(0, batch.edge_dst) * gate;
    torch::Tensor summed = torch::zeros_like(h).index_add(0, batch.edge_src, messages);
    h = torch::relu(self_[l]->as<nn::Linear>()->forward(h) + summed);
  }
  // Mean pool per graph.
  torch::Tensor pooled =
      torch::zeros({batch.num_graphs, h.size(1)}, h.options()).index_add(0, batch.node_graph, h);
  torch::Tensor counts = torch::zeros({batch.num_graphs}, h.options())
                             .index_add(0, batch.node_graph, torch::ones({n}, h.options()));
  pooled = pooled / counts.clamp_min(1).unsqueeze(1);
  // A graph without nodes has no embedding: a zero row, not the projection of its biases.
  return Normalize(project_->forward(pooled)) * (counts > 0).unsqueeze(1).to(h.dtype());
}

// ---------------------------------------------------------------------------------------
TextEncoderImpl::TextEncoderImpl(const TextEncoderConfig& config, int embed_dim) : config_(config) {
  tokens_ = register_module("tokens", nn::Embedding(config.vocab_size, config.hidden));
  positions_ = register_module("positions", nn::Embedding(config.max_length, config.hidden));
  encoder_ =
      register_module("encoder", nn::TransformerEncoder(nn::TransformerEncoderOptions(
                                     nn::TransformerEncoderLayerOptions(config.hidden, config.heads)
                                         .dim_feedforward(config.ffn)
                                         .dropout(config.dropout)
                                         .activation(torch::kGELU),
                                     config.layers)));
  norm_ = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({config.hidden})));
  project_ = register_module("project", Projection(config.hidden, embed_dim));
}

torch::Tensor TextEncoderImpl::forward(const TextBatch& batch) {
  const int64_t length = batch.ids.size(1);
  torch::Tensor positions = torch::arange(length, batch.ids.options());
  torch::Tensor x = tokens_->forward(batch.ids) + positions_->forward(positions).unsqueeze(0);
  // torch's transformer takes [L, B, hidden]; the key padding mask is true where ignored.
  x = encoder_->forward(x.transpose(0, 1), /*src_mask=*/{},
                        /*src_key_padding_mask=*/batch.mask.logical_not());
  torch::Tensor cls = norm_->forward(x.select(0, 0));  // [B, hidden]
  return Normalize(project_->forward(cls));
}

// ---------------------------------------------------------------------------------------
namespace {
std::vector<int> StageBlocks(int depth) {
  if (depth == 18) return {2, 2, 2, 2};
  return {3, 4, 6, 3};  // 34 and 50
}
}  // namespace

ImageEncoderImpl::ImageEncoderImpl(const ImageEncoderConfig& config, int embed_dim)
    : config_(config), embed_dim_(embed_dim) {
  const int w = config.base_width;
  const bool bottleneck = config.depth == 50;
  stem_ = register_module("stem", nn::Sequential(Conv(1, w, 7, 2)));
  stem_->push_back(Norm2d(config.norm, w));
  stem_->push_back(nn::ReLU(nn::ReLUOptions(true)));
  stem_->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
  stages_ = register_module("stages", nn::Sequential());
  int in = w;
  std::vector<int> blocks = StageBlocks(config.depth);
  for (size_t s = 0; s < blocks.size(); ++s) {
    int width = w << s;
    for (int b = 0; b < blocks[s]; ++b) {
      int stride = (b == 0 && s > 0) ? 2 : 1;
      stages_->push_back(ResidualBlock(in, width, stride, bottleneck, config.norm));
      in = bottleneck ? width * 4 : width;
    }
  }
  project_ = register_module("project", Projection(in, embed_dim));
}

torch::Tensor ImageEncoderImpl::forward(const torch::Tensor& images) {
  torch::Tensor x = stages_->forward(stem_->forward(images));
  x = x.mean({2, 3});  // global average pool: [B, channels]
  return Normalize(project_->forward(x));
}

double ImageEncoderImpl::ForwardFlops(int size) const {
  // Convolution output sides follow floor((s + 2p - k) / stride) + 1 with p = k / 2.
  auto out_side = [](int s, int k, int stride) { return (s + 2 * (k / 2) - k) / stride + 1; };
  double flops = 0;
  auto conv = [&](int in, int out, int k, int side_out) {
    flops += 2.0 * in * out * k * k * side_out * side_out;
  };
  const int w = config_.base_width;
  const bool bottleneck = config_.depth == 50;
  int side = out_side(size, 7, 2);
  conv(1, w, 7, side);
  side = (side + 2 - 3) / 2 + 1;  // max pool 3x3 stride 2 padding 1
  int in = w;
  std::vector<int> blocks = StageBlocks(config_.depth);
  for (size_t s = 0; s < blocks.size(); ++s) {
    int width = w << s;
    for (int b = 0; b < blocks[s]; ++b) {
      int stride = (b == 0 && s > 0) ? 2 : 1;
      int out_s = out_side(side, 3, stride);
      int out = bottleneck ? width * 4 : width;
      if (bottleneck) {
        conv(in, width, 1, side);
        conv(width, width, 3, out_s);
        conv(width, out, 1, out_s);
      } else {
        conv(in, width, 3, out_s);
        conv(width, out, 3, out_s);
      }
      if (stride != 1 || in != out) conv(in, out, 1, out_s);
      in = out;
      side = out_s;
    }
  }
  flops += 2.0 * in * in + 2.0 * in * embed_dim_;
  return flops;
}

// ---------------------------------------------------------------------------------------
PropertyEncoderImpl::PropertyEncoderImpl(const PropertyEncoderConfig& config, int embed_dim)
    : config_(config) {
  const int in =
      2 * static_cast<int>(config.properties.size()) + (config.use_composition ? kNumElements : 0);
  mlp_ = register_module("mlp", nn::Sequential(nn::Linear(in, config.hidden), nn::ReLU(),
                                               nn::Linear(config.hidden, config.hidden), nn::ReLU(),
                                               nn::Linear(config.hidden, embed_dim)));
}

torch::Tensor PropertyEncoderImpl::forward(const PropertyBatch& batch) {
  std::vector<torch::Tensor> parts;
  if (!config_.properties.empty()) {
    parts.push_back(batch.values * batch.mask);
    parts.push_back(batch.mask);
  }
  if (config_.use_composition) parts.push_back(batch.composition);
  return Normalize(mlp_->forward(torch::cat(parts, 1)));
}

// ---------------------------------------------------------------------------------------
HeadImpl::HeadImpl(int in, int hidden, int out) {
  mlp_ = register_module(
      "mlp", nn::Sequential(nn::Linear(in, hidden), nn::ReLU(), nn::Linear(hidden, out)));
}

torch::Tensor HeadImpl::forward(const torch::Tensor& x) { return mlp_->forward(x); }

// ---------------------------------------------------------------------------------------
MatAlignModelImpl::MatAlignModelImpl(const ModelConfig& config) : config_(config) {
  const int d = config.embed_dim;
  graph = register_module("graph", GraphEncoder(config.graph, d));
  text = register_module("text", TextEncoder(config.text, d));
  image = register_module("image", ImageEncoder(config.image, d));
  property = register_module("property", PropertyEncoder(config.property, d));
  if (!config.heads.properties.empty()) {
    property_head = register_module(
        "property_head",
        Head(d, config.heads.hidden, static_cast<int>(config.heads.properties.size())));
  }
  if (!config.heads.defect_classes.empty()) {
    defect_head = register_module(
        "defect_head",
        Head(d, config.heads.hidden, static_cast<int>(config.heads.defect_classes.size())));
  }
  log_temperature =
      register_parameter("log_temperature", torch::full({1}, std::log(config.init_temperature)));
}

torch::Tensor MatAlignModelImpl::temperature() const {
  return log_temperature.exp().clamp(config_.min_temperature, config_.max_temperature);
}

std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> ModelParts(
    MatAlignModel& model) {
  std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> parts = {
      {"graph_encoder", model->graph.ptr()},
      {"text_encoder", model->text.ptr()},
      {"image_encoder", model->image.ptr()},
      {"property_encoder", model->property.ptr()},
  };
  if (model->property_head) parts.emplace_back("property_head", model->property_head.ptr());
  if (model->defect_head) parts.emplace_back("defect_head", model->defect_head.ptr());
  return parts;
}

}  // namespace matalign::encoders
