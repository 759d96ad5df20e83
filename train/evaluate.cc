#include "train/evaluate.h"

#include <sys/resource.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "encoders/model_bundle.h"
#include "eval/metrics.h"
#include "train/dataset.h"

namespace matalign::train {
namespace {

using Clock = std::chrono::steady_clock;

// A figure for report.json: undefined values (NaN, infinities) become null.
nlohmann::json Figure(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

double PeakRssMb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

// The embeddings of one modality: example index -> row of `z`.
struct Space {
  std::vector<int> examples;          // dataset example index of each row
  std::vector<torch::Tensor> chunks;  // [n_i, d] per batch, on the CPU
  torch::Tensor z;                    // [n, d] after Finish()
  std::map<int, int64_t> row_of;      // example index -> row

  void Add(const torch::Tensor& rows_in_batch, const torch::Tensor& emb,
           const std::vector<int>& batch_examples) {
    if (rows_in_batch.numel() == 0) return;
    torch::Tensor rows = rows_in_batch.cpu();
    for (int64_t i = 0; i < rows.size(0); ++i) {
      examples.push_back(batch_examples[rows[i].item<int64_t>()]);
    }
    chunks.push_back(emb.detach().to(torch::kFloat).cpu());
  }
  void Finish(int64_t dim) {
    z = chunks.empty() ? torch::zeros({0, dim}) : torch::cat(chunks);
    chunks.clear();
    for (size_t i = 0; i < examples.size(); ++i) row_of[examples[i]] = static_cast<int64_t>(i);
  }
  int64_t size() const { return static_cast<int64_t>(examples.size()); }
};

eval::ScoreMatrix Scores(const torch::Tensor& queries, const torch::Tensor& docs) {
  torch::Tensor sim = torch::matmul(queries, docs.t()).contiguous();
  eval::ScoreMatrix m;
  m.num_queries = sim.size(0);
  m.num_docs = sim.size(1);
  m.scores.assign(sim.data_ptr<float>(), sim.data_ptr<float>() + sim.numel());
  return m;
}

// Recall@k of every query example that also has a document in `docs` (its own is relevant).
nlohmann::json Retrieval(const Space& queries, const Space& docs, const std::vector<int>& ks) {
  std::vector<int64_t> keep, relevant;
  for (int64_t q = 0; q < queries.size(); ++q) {
    auto it = docs.row_of.find(queries.examples[q]);
    if (it == docs.row_of.end()) continue;
    keep.push_back(q);
    relevant.push_back(it->second);
  }
  if (keep.size() < 2) return nullptr;
  torch::Tensor q = queries.z.index_select(0, torch::tensor(keep, torch::kInt64));
  eval::ScoreMatrix sim = Scores(q, docs.z);
  nlohmann::json j = {{"n", keep.size()}, {"documents", docs.size()}};
  for (int k : ks) j[absl::StrCat("recall@", k)] = Figure(eval::RecallAtK(sim, relevant, k));
  return j;
}

// Silhouette and Davies-Bouldin of the rows of `z` labelled by material class.
nlohmann::json Clustering(const torch::Tensor& z, const std::vector<std::string>& classes) {
  if (z.size(0) < 3) return nullptr;
  std::map<std::string, int> index;
  std::vector<int> labels;
  for (const std::string& c : classes) {
    labels.push_back(index.emplace(c, static_cast<int>(index.size())).first->second);
  }
  torch::Tensor c = z.contiguous();
  std::vector<float> points(c.data_ptr<float>(), c.data_ptr<float>() + c.numel());
  const int dim = static_cast<int>(z.size(1));
  return {{"n", z.size(0)},
          {"classes", index.size()},
          {"silhouette", Figure(eval::Silhouette(points, dim, labels))},
          {"davies_bouldin", Figure(eval::DaviesBouldin(points, dim, labels))}};
}

}  // namespace

absl::Status EvalOptions::Validate() const {
  if (split != "train" && split != "val" && split != "test") {
    return absl::InvalidArgumentError(
        absl::StrCat("split '", split, "' is not one of train, val, test"));
  }
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", device, "' is not one of auto, cpu, cuda"));
  }
  if (threads < 0) return absl::InvalidArgumentError("threads must be >= 0");
  if (batch_size < 1) return absl::InvalidArgumentError("batch size must be >= 1");
  if (recall_ks.empty()) return absl::InvalidArgumentError("no k for Recall@k");
  for (int k : recall_ks) {
    if (k < 1) return absl::InvalidArgumentError(absl::StrCat("Recall@k: k = ", k, " < 1"));
  }
  if (ndcg_k < 1) return absl::InvalidArgumentError("nDCG@k: k must be >= 1");
  return absl::OkStatus();
}

static absl::StatusOr<EvalResult> EvaluateUnguarded(const std::string& bundle_dir,
                                                    const std::string& data,
                                                    const EvalOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const auto start = Clock::now();
  auto log = [&](const std::string& line) {
    if (options.verbose) std::fprintf(stderr, "%s\n", line.c_str());
  };

  torch::Device device = torch::kCPU;
  if (options.device == "cuda" || (options.device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          "--device cuda: this LibTorch has no CUDA or no GPU is visible");
    }
    device = torch::Device(torch::kCUDA, 0);
  }
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(threads);

  MATALIGN_ASSIGN_OR_RETURN(std::shared_ptr<encoders::LoadedModel> loaded,
                            encoders::LoadModelBundle(bundle_dir, device));
  encoders::MatAlignModel model = loaded->model;
  model->eval();
  TrainConfig config;
  config.model = loaded->config;
  const nlohmann::json& train_json = loaded->manifest["config"]["train"];
  if (train_json.contains("image_kinds")) {
    config.train.image_kinds = train_json["image_kinds"].get<std::vector<std::string>>();
  }

  const std::string manifest_path = ManifestPathFor(data);
  MATALIGN_ASSIGN_OR_RETURN(corpus::Split split, corpus::ParseSplit(options.split));
  DatasetOptions dataset_options;
  dataset_options.threads = threads;
  dataset_options.verbose = options.verbose;
  MATALIGN_ASSIGN_OR_RETURN(
      Dataset dataset, LoadDataset(manifest_path, config, *loaded->tokenizer, dataset_options));
  dataset.normalization = loaded->normalization;  // the model's, not the data's
  const std::vector<int> rows = dataset.Indices(split);
  if (rows.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(manifest_path, ": no material in the ", options.split, " split"));
  }
  MATALIGN_ASSIGN_OR_RETURN(std::vector<corpus::Record> record_list,
                            corpus::ReadManifest(manifest_path));
  std::map<std::string, const corpus::Record*> records;
  for (const corpus::Record& r : record_list) records[r.id] = &r;
  auto record_of = [&](int example) { return records.at(dataset.examples[example].id); };

  // Embeddings of every modality, and the property head's predictions.
  const int64_t d = config.model.embed_dim;
  Space g, t, v, p;
  const auto& head_properties = config.model.heads.properties;
  std::vector<std::vector<double>> head_pred(head_properties.size()),
      head_truth(head_properties.size());
  BatchOptions batch_options;
  batch_options.seed = options.seed;
  {
    torch::NoGradGuard no_grad;
    for (size_t begin = 0; begin < rows.size(); begin += options.batch_size) {
      std::vector<int> chunk(rows.begin() + begin,
                             rows.begin() + std::min(rows.size(), begin + options.batch_size));
      Batch b = MakeBatch(dataset, config, chunk, batch_options).To(device);
      if (b.graph_rows.numel() > 0) {
        torch::Tensor zg = model->graph(b.graphs);
        g.Add(b.graph_rows, zg, chunk);
        if (model->property_head) {
          torch::Tensor pred = model->property_head(zg).to(torch::kDouble).cpu();
          torch::Tensor graph_rows = b.graph_rows.cpu();
          for (int64_t i = 0; i < graph_rows.size(0); ++i) {
            const Example& e = dataset.examples[chunk[graph_rows[i].item<int64_t>()]];
            for (size_t h = 0; h < head_properties.size(); ++h) {
              auto it = e.properties.find(head_properties[h]);
              if (it == e.properties.end()) continue;
              const auto& [mean, stddev] = dataset.normalization.stats.at(head_properties[h]);
              head_pred[h].push_back(pred[i][h].item<double>() * stddev + mean);
              head_truth[h].push_back(it->second);
            }
          }
        }
      }
      if (b.text_rows.numel() > 0) t.Add(b.text_rows, model->text(b.texts), chunk);
      if (b.image_rows.numel() > 0) v.Add(b.image_rows, model->image(b.images), chunk);
      if (b.target_rows.numel() > 0) p.Add(b.target_rows, model->property(b.targets), chunk);
    }
  }
  for (Space* s : {&g, &t, &v, &p}) s->Finish(d);
  log(
      absl::StrFormat("eval: %d %s materials embedded (%d structures, %d texts, %d images, "
                      "%d targets)",
                      rows.size(), options.split, g.size(), t.size(), v.size(), p.size()));

  EvalResult result;
  nlohmann::json& r = result.report;
  r["model"] = {{"dir", bundle_dir}, {"version", loaded->version}};
  r["data"] = {{"manifest", manifest_path},  {"split", options.split}, {"materials", rows.size()},
               {"with_structure", g.size()}, {"with_text", t.size()},  {"with_image", v.size()},
               {"with_target", p.size()}};

  // Property regression (physical units).
  for (size_t h = 0; h < head_properties.size(); ++h) {
    if (head_pred[h].empty()) continue;
    eval::RegressionMetrics m = eval::Regression(head_pred[h], head_truth[h]);
    r["regression"][head_properties[h]] = {{"n", m.n},
                                           {"mae", Figure(m.mae)},
                                           {"rmse", Figure(m.rmse)},
                                           {"pearson", Figure(m.pearson)},
                                           {"spearman", Figure(m.spearman)}};
  }

  // Defect classification: the head on every labelled SEM image of the split.
  if (model->defect_head) {
    const auto& classes = config.model.heads.defect_classes;
    std::vector<int> truth, predicted;
    std::vector<std::vector<double>> scores;
    std::vector<torch::Tensor> pending;
    torch::NoGradGuard no_grad;
    auto flush = [&]() {
      if (pending.empty()) return;
      torch::Tensor logits = model->defect_head(model->image(torch::stack(pending).to(device)));
      torch::Tensor prob = torch::softmax(logits, 1).to(torch::kDouble).cpu();
      for (int64_t i = 0; i < prob.size(0); ++i) {
        std::vector<double> row(prob[i].data_ptr<double>(),
                                prob[i].data_ptr<double>() + prob.size(1));
        predicted.push_back(
            static_cast<int>(std::max_element(row.begin(), row.end()) - row.begin()));
        scores.push_back(std::move(row));
      }
      pending.clear();
    };
    for (int e : rows) {
      const Example& ex = dataset.examples[e];
      if (ex.defect < 0) continue;
      for (const ExampleImage& image : ex.images) {
        if (image.kind != "sem") continue;
        truth.push_back(ex.defect);
        pending.push_back(ImageTensor(image, config.model));
        if (static_cast<int>(pending.size()) == options.batch_size) flush();
      }
    }
    flush();
    if (!truth.empty()) {
      eval::ClassificationMetrics m =
          eval::Classification(truth, predicted, static_cast<int>(classes.size()), scores);
      nlohmann::json per_class = nlohmann::json::array();
      for (double f : m.per_class_f1) per_class.push_back(Figure(f));
      r["defect"] = {{"n", m.n},
                     {"classes", classes},
                     {"accuracy", Figure(m.accuracy)},
                     {"precision_macro", Figure(m.precision_macro)},
                     {"recall_macro", Figure(m.recall_macro)},
                     {"f1_macro", Figure(m.f1_macro)},
                     {"roc_auc_ovr", Figure(m.roc_auc_ovr)},
                     {"per_class_f1", per_class},
                     {"confusion", m.confusion}};
    }
  }

  // Synthesis recommendation: each target against every synthesis text of the split.
  if (p.size() > 0 && t.size() > 1) {
    std::vector<int64_t> relevant;
    std::vector<int> grades;
    grades.reserve(static_cast<size_t>(p.size() * t.size()));
    for (int64_t q = 0; q < p.size(); ++q) {
      auto own = t.row_of.find(p.examples[q]);
      relevant.push_back(own == t.row_of.end() ? -1 : own->second);
      const corpus::Record* query = record_of(p.examples[q]);
      for (int64_t doc = 0; doc < t.size(); ++doc) {
        grades.push_back(corpus::GradedRelevance(*query, *record_of(t.examples[doc])));
      }
    }
    eval::ScoreMatrix sim = Scores(p.z, t.z);
    nlohmann::json j = {{"n", p.size()}, {"documents", t.size()}};
    for (int k : options.recall_ks) {
      j[absl::StrCat("recall@", k)] = Figure(eval::RecallAtK(sim, relevant, k));
    }
    j[absl::StrCat("ndcg@", options.ndcg_k)] = Figure(eval::NdcgAtK(sim, grades, options.ndcg_k));
    j["chance_recall@1"] = Figure(1.0 / static_cast<double>(t.size()));
    r["recommendation"] = j;
  }

  // Cross-modal retrieval, both directions of every pair, and from targets.
  const std::pair<const char*, std::pair<const Space*, const Space*>> pairs[] = {
      {"g2t", {&g, &t}}, {"t2g", {&t, &g}}, {"g2v", {&g, &v}}, {"v2g", {&v, &g}},
      {"t2v", {&t, &v}}, {"v2t", {&v, &t}}, {"p2g", {&p, &g}}, {"p2t", {&p, &t}}};
  for (const auto& [name, spaces] : pairs) {
    nlohmann::json j = Retrieval(*spaces.first, *spaces.second, options.recall_ks);
    if (!j.is_null()) r["retrieval"][name] = j;
  }

  // Embedding quality by material class, per modality and in the joint space.
  for (int e : rows) {
    const corpus::Record* record = record_of(e);
    torch::Tensor sum = torch::zeros({d});
    int parts = 0;
    for (const Space* s : {&g, &t, &v}) {
      auto it = s->row_of.find(e);
      if (it == s->row_of.end()) continue;
      sum += s->z[it->second];
      ++parts;
    }
    if (parts == 0) continue;
    torch::Tensor joint =
        torch::nn::functional::normalize(sum.unsqueeze(0),
                                         torch::nn::functional::NormalizeFuncOptions().dim(1))[0]
            .contiguous();
    EmbeddedMaterial m;
    m.id = record->id;
    m.material_class = std::string(corpus::MaterialClassName(record->material_class));
    m.route = record->synthesis ? record->synthesis->route : "";
    m.joint.assign(joint.data_ptr<float>(), joint.data_ptr<float>() + d);
    result.materials.push_back(std::move(m));
  }
  auto class_labels = [&](const Space& s) {
    std::vector<std::string> labels;
    for (int e : s.examples) {
      labels.emplace_back(corpus::MaterialClassName(record_of(e)->material_class));
    }
    return labels;
  };
  for (const auto& [name, space] :
       {std::pair<const char*, const Space*>{"structure", &g}, {"text", &t}, {"image", &v}}) {
    nlohmann::json j = Clustering(space->z, class_labels(*space));
    if (!j.is_null()) r["embedding"][name] = j;
  }
  if (!result.materials.empty()) {
    std::vector<torch::Tensor> joint;
    std::vector<std::string> labels;
    for (const EmbeddedMaterial& m : result.materials) {
      joint.push_back(torch::from_blob(const_cast<float*>(m.joint.data()), {d}).clone());
      labels.push_back(m.material_class);
    }
    nlohmann::json j = Clustering(torch::stack(joint), labels);
    if (!j.is_null()) r["embedding"]["joint"] = j;
  }

  r["cost"] = {{"seconds", std::chrono::duration<double>(Clock::now() - start).count()},
               {"peak_rss_mb", PeakRssMb()},
               {"device", device.str()},
               {"threads", threads}};
  return result;
}

absl::StatusOr<EvalResult> Evaluate(const std::string& bundle_dir, const std::string& data,
                                    const EvalOptions& options) {
  try {
    return EvaluateUnguarded(bundle_dir, data, options);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("evaluation failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("evaluation failed: ", e.what()));
  }
}

}  // namespace matalign::train
