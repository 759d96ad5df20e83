#include "encoders/featurize.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "materials/element.h"
#include "text/tokenizer.h"

namespace matalign::encoders {

PropertyNormalization PropertyNormalization::Fit(
    const std::vector<std::string>& names,
    const std::vector<const std::map<std::string, double>*>& samples) {
  PropertyNormalization n;
  for (const std::string& name : names) {
    // Two passes: a shared large offset would cancel in sum(x^2) - n mean^2.
    double sum = 0;
    int count = 0;
    for (const auto* s : samples) {
      auto it = s->find(name);
      if (it == s->end()) continue;
      sum += it->second;
      ++count;
    }
    double mean = count > 0 ? sum / count : 0;
    double sq = 0;
    for (const auto* s : samples) {
      auto it = s->find(name);
      if (it != s->end()) sq += (it->second - mean) * (it->second - mean);
    }
    double var = count > 1 ? sq / (count - 1) : 0;
    double stddev = var > 1e-24 ? std::sqrt(var) : 1.0;
    n.stats[name] = {mean, stddev};
  }
  return n;
}

nlohmann::json PropertyNormalization::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [name, ms] : stats) j[name] = {{"mean", ms.first}, {"std", ms.second}};
  return j;
}

absl::StatusOr<PropertyNormalization> PropertyNormalization::FromJson(const nlohmann::json& json) {
  if (!json.is_object()) {
    return absl::InvalidArgumentError("property normalization: expected an object");
  }
  PropertyNormalization n;
  for (auto it = json.begin(); it != json.end(); ++it) {
    const auto& v = it.value();
    if (!v.is_object() || !v.contains("mean") || !v.contains("std") || !v["mean"].is_number() ||
        !v["std"].is_number() || !std::isfinite(v["mean"].get<double>()) ||
        !(v["std"].get<double>() > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("property normalization '", it.key(),
                                                     "': expected {\"mean\": m, \"std\": s > 0}"));
    }
    n.stats[it.key()] = {v["mean"].get<double>(), v["std"].get<double>()};
  }
  return n;
}

materials::GraphOptions GraphOptionsFor(const ModelConfig& config) {
  materials::GraphOptions o;
  o.cutoff = config.graph.cutoff;
  o.max_neighbors = config.graph.max_neighbors;
  o.num_rbf = config.graph.num_rbf;
  return o;
}

imaging::PreprocessOptions ImageOptionsFor(const ModelConfig& config, absl::string_view kind) {
  imaging::PreprocessOptions o;
  o.size = config.image.input_size;
  o.crop_data_bar = kind != "xrd";
  return o;
}

absl::StatusOr<PropertyTarget> EncodePropertyTarget(
    const std::map<std::string, double>& properties,
    const std::map<std::string, double>& composition, const PropertyEncoderConfig& config,
    const PropertyNormalization& normalization, bool strict) {
  PropertyTarget t;
  const size_t p = config.properties.size();
  t.values.assign(p, 0.f);
  t.mask.assign(p, 0.f);
  t.composition.assign(kNumElements, 0.f);
  int given = 0;
  for (const auto& [name, value] : properties) {
    auto pos = std::find(config.properties.begin(), config.properties.end(), name);
    if (pos == config.properties.end()) {
      if (strict) {
        std::string known;
        for (const auto& k : config.properties)
          absl::StrAppend(&known, known.empty() ? "" : ", ", k);
        return absl::InvalidArgumentError(
            absl::StrCat("unknown property '", name,
                         "' (this model knows: ", known.empty() ? "none" : known, ")"));
      }
      continue;
    }
    if (!std::isfinite(value)) {
      return absl::InvalidArgumentError(absl::StrCat("property '", name, "' is not finite"));
    }
    size_t i = pos - config.properties.begin();
    auto stat = normalization.stats.find(name);
    double mean = stat == normalization.stats.end() ? 0 : stat->second.first;
    double stddev = stat == normalization.stats.end() ? 1 : stat->second.second;
    t.values[i] = static_cast<float>((value - mean) / stddev);
    t.mask[i] = 1.f;
    ++given;
  }
  double total = 0;
  if (config.use_composition) {
    for (const auto& [symbol, amount] : composition) {
      const materials::ElementInfo* e = materials::ElementBySymbol(symbol);
      if (e == nullptr || e->atomic_number < 1 || e->atomic_number > kNumElements) {
        if (strict) {
          return absl::InvalidArgumentError(absl::StrCat("unknown element '", symbol, "'"));
        }
        continue;
      }
      if (!(amount > 0) || !std::isfinite(amount)) {
        if (strict) {
          return absl::InvalidArgumentError(
              absl::StrCat("composition amount of ", symbol, " must be > 0, got ", amount));
        }
        continue;
      }
      t.composition[e->atomic_number - 1] += static_cast<float>(amount);
      total += amount;
    }
    if (total > 0) {
      for (float& f : t.composition) f = static_cast<float>(f / total);
    }
  } else if (strict && !composition.empty()) {
    return absl::InvalidArgumentError("this model's property encoder does not use compositions");
  }
  if (given == 0 && total == 0) {
    return absl::InvalidArgumentError(
        "the target specifies no property this model knows and no composition");
  }
  return t;
}

GraphBatch CollateGraphs(const std::vector<const materials::StructureGraph*>& graphs) {
  int64_t nodes = 0, edges = 0, rbf = 0;
  for (const auto* g : graphs) {
    nodes += g->num_nodes;
    edges += static_cast<int64_t>(g->num_edges());
    if (g->num_edges() > 0) rbf = g->num_rbf;
  }
  if (rbf == 0 && !graphs.empty()) rbf = graphs[0]->num_rbf;
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor z = torch::empty({nodes}, i64);
  torch::Tensor feats = torch::empty({nodes, materials::kNodeFeatureDim});
  torch::Tensor src = torch::empty({edges}, i64);
  torch::Tensor dst = torch::empty({edges}, i64);
  torch::Tensor edge_rbf = torch::empty({edges, rbf});
  torch::Tensor node_graph = torch::empty({nodes}, i64);
  auto* zp = z.data_ptr<int64_t>();
  auto* fp = feats.data_ptr<float>();
  auto* sp = src.data_ptr<int64_t>();
  auto* dp = dst.data_ptr<int64_t>();
  auto* rp = edge_rbf.data_ptr<float>();
  auto* gp = node_graph.data_ptr<int64_t>();
  int64_t node_offset = 0, edge_offset = 0;
  for (size_t gi = 0; gi < graphs.size(); ++gi) {
    const materials::StructureGraph& g = *graphs[gi];
    for (int i = 0; i < g.num_nodes; ++i) {
      zp[node_offset + i] = std::clamp<int64_t>(g.atomic_numbers[i], 0, kNumElements);
      gp[node_offset + i] = static_cast<int64_t>(gi);
    }
    std::copy(g.node_features.begin(), g.node_features.end(),
              fp + node_offset * materials::kNodeFeatureDim);
    for (size_t e = 0; e < g.num_edges(); ++e) {
      sp[edge_offset + e] = node_offset + g.edge_src[e];
      dp[edge_offset + e] = node_offset + g.edge_dst[e];
    }
    std::copy(g.edge_rbf.begin(), g.edge_rbf.end(), rp + edge_offset * rbf);
    node_offset += g.num_nodes;
    edge_offset += static_cast<int64_t>(g.num_edges());
  }
  return {z, feats, src, dst, edge_rbf, node_graph, static_cast<int64_t>(graphs.size())};
}

TextBatch CollateTokens(const std::vector<const std::vector<int32_t>*>& rows) {
  size_t length = 1;
  for (const auto* r : rows) length = std::max(length, r->size());
  const int64_t b = static_cast<int64_t>(rows.size());
  torch::Tensor ids = torch::full({b, static_cast<int64_t>(length)}, text::kPadId,
                                  torch::TensorOptions().dtype(torch::kInt64));
  torch::Tensor mask =
      torch::zeros({b, static_cast<int64_t>(length)}, torch::TensorOptions().dtype(torch::kBool));
  auto* ip = ids.data_ptr<int64_t>();
  auto* mp = mask.data_ptr<bool>();
  for (int64_t i = 0; i < b; ++i) {
    const auto& r = *rows[i];
    for (size_t j = 0; j < r.size(); ++j) {
      ip[i * length + j] = r[j];
      mp[i * length + j] = r[j] != text::kPadId;
    }
  }
  return {ids, mask};
}

torch::Tensor CollateImages(const std::vector<const std::vector<float>*>& images, int size) {
  const int64_t b = static_cast<int64_t>(images.size());
  torch::Tensor out = torch::empty({b, 1, size, size});
  float* p = out.data_ptr<float>();
  for (int64_t i = 0; i < b; ++i) {
    std::copy(images[i]->begin(), images[i]->end(), p + i * size * size);
  }
  return out;
}

PropertyBatch CollateTargets(const std::vector<const PropertyTarget*>& targets) {
  const int64_t b = static_cast<int64_t>(targets.size());
  const int64_t p = targets.empty() ? 0 : static_cast<int64_t>(targets[0]->values.size());
  torch::Tensor values = torch::empty({b, p});
  torch::Tensor mask = torch::empty({b, p});
  torch::Tensor comp = torch::empty({b, kNumElements});
  for (int64_t i = 0; i < b; ++i) {
    std::copy(targets[i]->values.begin(), targets[i]->values.end(),
              values.data_ptr<float>() + i * p);
    std::copy(targets[i]->mask.begin(), targets[i]->mask.end(), mask.data_ptr<float>() + i * p);
    std::copy(targets[i]->composition.begin(), targets[i]->composition.end(),
              comp.data_ptr<float>() + i * kNumElements);
  }
  return {values, mask, comp};
}

}  // namespace matalign::encoders
