// The MatAlign encoders (LibTorch): structure GNN, synthesis-text Transformer, image ResNet,
// target-property MLP, each projected to the shared d-dimensional space and L2-normalized,
// plus the property and defect heads. Shared by the trainer and the server.
//
// Thread-safety: modules are not thread-safe in training mode; in eval() mode under
// torch::NoGradGuard concurrent forward calls are safe.
#ifndef MATALIGN_ENCODERS_MODEL_H_
#define MATALIGN_ENCODERS_MODEL_H_

#include <torch/torch.h>

#include <cstdint>

#include "encoders/config.h"

namespace matalign::encoders {

// Slots of the property encoder's composition input (index Z - 1, Z = 1..118; the element
// table of materials/ ends at Lr, so slots above 103 stay 0).
inline constexpr int kNumElements = 118;

// Graphs of different sizes batched by concatenation: node i of the batch belongs to graph
// node_graph[i]; edges index batch nodes.
struct GraphBatch {
  torch::Tensor atomic_numbers;  // [N] int64, 1..118
  torch::Tensor node_features;   // [N, materials::kNodeFeatureDim] float
  torch::Tensor edge_src;        // [E] int64: the node receiving the message
  torch::Tensor edge_dst;        // [E] int64: the neighbour sending it
  torch::Tensor edge_rbf;        // [E, num_rbf] float
  torch::Tensor node_graph;      // [N] int64 in [0, num_graphs)
  int64_t num_graphs = 0;

  GraphBatch To(const torch::Device& device) const;
};

// Token ids with padding; row b is [CLS] + pieces + [PAD]...
struct TextBatch {
  torch::Tensor ids;   // [B, L] int64
  torch::Tensor mask;  // [B, L] bool, true for a real token

  TextBatch To(const torch::Device& device) const;
};

// A target specification for the property encoder.
struct PropertyBatch {
  torch::Tensor values;       // [B, P] float: standardized values, 0 where missing
  torch::Tensor mask;         // [B, P] float: 1 where the property is given
  torch::Tensor composition;  // [B, kNumElements] float: element fractions (rows sum to 1 or 0)

  PropertyBatch To(const torch::Device& device) const;
};

// h_i <- ReLU(W1 h_i + sum_j (W2 h_j) * g(rbf_ij) + b), g a learned sigmoid gate on the
// edge RBFs; mean-pool readout; projection; L2 normalization.
class GraphEncoderImpl : public torch::nn::Module {
 public:
  GraphEncoderImpl(const GraphEncoderConfig& config, int embed_dim);
  // Returns [num_graphs, embed_dim], unit rows. A graph without nodes gets a zero row.
  torch::Tensor forward(const GraphBatch& batch);

 private:
  torch::nn::Embedding species_{nullptr};
  torch::nn::Linear node_in_{nullptr};
  torch::nn::ModuleList self_{nullptr};     // W1 (with bias b) per layer
  torch::nn::ModuleList message_{nullptr};  // W2 per layer
  torch::nn::ModuleList gate_{nullptr};     // g per layer
  torch::nn::Sequential project_{nullptr};
};
TORCH_MODULE(GraphEncoder);

// Token + learned position embeddings, Transformer encoder layers (post-norm, as
// torch::nn::TransformerEncoderLayer) with key padding masks, a final LayerNorm, [CLS] output,
// projection, L2 normalization.
class TextEncoderImpl : public torch::nn::Module {
 public:
  TextEncoderImpl(const TextEncoderConfig& config, int embed_dim);
  // Returns [B, embed_dim], unit rows. Requires L <= max_length and ids < vocab_size.
  torch::Tensor forward(const TextBatch& batch);

 private:
  TextEncoderConfig config_;
  torch::nn::Embedding tokens_{nullptr};
  torch::nn::Embedding positions_{nullptr};
  torch::nn::TransformerEncoder encoder_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
  torch::nn::Sequential project_{nullptr};
};
TORCH_MODULE(TextEncoder);

// ResNet-18/34 (basic blocks) or -50 (bottleneck blocks) over 1-channel images, global
// average pool, projection, L2 normalization.
class ImageEncoderImpl : public torch::nn::Module {
 public:
  ImageEncoderImpl(const ImageEncoderConfig& config, int embed_dim);
  // images: [B, 1, S, S] float, normalized as imaging::Preprocess does. Returns
  // [B, embed_dim], unit rows.
  torch::Tensor forward(const torch::Tensor& images);
  // Multiply-adds x 2 of one forward pass for one image of side `size` (convolutions and
  // linear layers), for throughput figures.
  double ForwardFlops(int size) const;

 private:
  ImageEncoderConfig config_;
  int embed_dim_;
  torch::nn::Sequential stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  torch::nn::Sequential project_{nullptr};
};
TORCH_MODULE(ImageEncoder);

// MLP over [values, mask, composition] into the shared space, L2-normalized.
class PropertyEncoderImpl : public torch::nn::Module {
 public:
  PropertyEncoderImpl(const PropertyEncoderConfig& config, int embed_dim);
  // Returns [B, embed_dim], unit rows.
  torch::Tensor forward(const PropertyBatch& batch);

 private:
  PropertyEncoderConfig config_;
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(PropertyEncoder);

// 2-layer MLP: [B, in] -> [B, out].
class HeadImpl : public torch::nn::Module {
 public:
  HeadImpl(int in, int hidden, int out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential mlp_{nullptr};
};
TORCH_MODULE(Head);

// Everything a bundle holds. Heads are null when the config has no targets for them.
class MatAlignModelImpl : public torch::nn::Module {
 public:
  explicit MatAlignModelImpl(const ModelConfig& config);

  // InfoNCE temperature: exp(log_temperature) clamped to [min, max]_temperature.
  torch::Tensor temperature() const;

  const ModelConfig& config() const { return config_; }
  GraphEncoder graph{nullptr};
  TextEncoder text{nullptr};
  ImageEncoder image{nullptr};
  PropertyEncoder property{nullptr};
  Head property_head{nullptr};  // structure embedding -> heads.properties (standardized)
  Head defect_head{nullptr};    // image embedding -> heads.defect_classes logits
  torch::Tensor log_temperature;

 private:
  ModelConfig config_;
};
TORCH_MODULE(MatAlignModel);

// The named parts of a model saved as separate files of a bundle ("graph_encoder", ...),
// each a torch::serialize archive of that submodule's parameters and buffers.
std::vector<std::pair<std::string, std::shared_ptr<torch::nn::Module>>> ModelParts(
    MatAlignModel& model);

}  // namespace matalign::encoders

#endif  // MATALIGN_ENCODERS_MODEL_H_
