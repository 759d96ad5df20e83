#include "train/dataset.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "bundle/bundle.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "imaging/image.h"
#include "imaging/preprocess.h"
#include "materials/element.h"
#include "materials/structure_io.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;

std::string Resolve(const std::string& manifest_path, const std::string& relative) {
  return (fs::path(manifest_path).parent_path() / relative).string();
}

absl::StatusOr<materials::StructureGraph> LoadGraph(const corpus::StructureRef& ref,
                                                    const std::string& manifest_path,
                                                    const encoders::ModelConfig& model) {
  materials::StructureReadOptions options;
  options.format = ref.format == "cif"      ? materials::StructureFormat::kCif
                   : ref.format == "poscar" ? materials::StructureFormat::kPoscar
                   : ref.format == "xyz"    ? materials::StructureFormat::kXyz
                                            : materials::StructureFormat::kAuto;
  materials::Structure structure;
  if (!ref.path.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(
        structure, materials::ReadStructureFile(Resolve(manifest_path, ref.path), options));
  } else {
    MATALIGN_ASSIGN_OR_RETURN(structure,
                              materials::ParseStructure(ref.text, "<inline structure>", options));
  }
  return materials::BuildGraph(structure, encoders::GraphOptionsFor(model));
}

absl::StatusOr<ExampleImage> LoadImage(const corpus::ImageRef& ref,
                                       const std::string& manifest_path,
                                       const encoders::ModelConfig& model) {
  const std::string path = Resolve(manifest_path, ref.path);
  MATALIGN_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  MATALIGN_ASSIGN_OR_RETURN(
      imaging::Image image,
      imaging::LoadForModel(bytes, path, encoders::ImageOptionsFor(model, ref.kind)));
  // Stored as 8-bit gray levels (4x less memory); MakeBatch restores the normalization.
  const imaging::PreprocessOptions o = encoders::ImageOptionsFor(model, ref.kind);
  ExampleImage out;
  out.kind = ref.kind;
  out.pixels.resize(image.pixels.size());
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    float v = image.pixels[i] * o.stddev + o.mean;
    out.pixels[i] = static_cast<uint8_t>(std::lround(std::clamp(v, 0.f, 1.f) * 255.f));
  }
  return out;
}

}  // namespace

std::string ManifestPathFor(const std::string& data) {
  std::error_code ec;
  if (fs::is_directory(data, ec)) return (fs::path(data) / "manifest.jsonl").string();
  return data;
}

std::vector<int> Dataset::Indices(corpus::Split split) const {
  std::vector<int> out;
  for (size_t i = 0; i < examples.size(); ++i) {
    if (examples[i].split == split) out.push_back(static_cast<int>(i));
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> TrainingTexts(const std::string& manifest_path,
                                                       int max_records) {
  MATALIGN_ASSIGN_OR_RETURN(std::vector<corpus::Record> records,
                            corpus::ReadManifest(manifest_path));
  if (max_records > 0 && records.size() > static_cast<size_t>(max_records)) {
    records.resize(max_records);
  }
  std::vector<std::string> texts;
  for (const auto& r : records) {
    if (r.split == corpus::Split::kTrain && r.synthesis && !r.synthesis->text.empty()) {
      texts.push_back(r.synthesis->text);
    }
  }
  return texts;
}

std::vector<std::string> PlaceholderTokenizerTexts() {
  std::vector<std::string> texts;
  for (int z = 1; z <= materials::kMaxAtomicNumber; ++z) {
    const materials::ElementInfo* element = materials::ElementByNumber(z);
    if (element == nullptr) continue;
    const std::string symbol(element->symbol);
    texts.push_back(absl::StrCat(symbol, "2O3 and ", symbol,
                                 "CO3 were mixed, ground and heated at 900 °C for 12 h in air."));
  }
  return texts;
}

absl::StatusOr<Dataset> LoadDataset(const std::string& manifest_path, const TrainConfig& config,
                                    const text::Tokenizer& tokenizer,
                                    const DatasetOptions& options) {
  Dataset ds;
  ds.manifest_path = manifest_path;
  MATALIGN_ASSIGN_OR_RETURN(std::string manifest_bytes, ReadFile(manifest_path));
  ds.data_hash = bundle::Sha256Hex(manifest_bytes);
  MATALIGN_ASSIGN_OR_RETURN(std::vector<corpus::Record> records,
                            corpus::ReadManifest(manifest_path));
  if (config.train.max_records > 0 &&
      records.size() > static_cast<size_t>(config.train.max_records)) {
    records.resize(config.train.max_records);
  }
  const encoders::ModelConfig& model = config.model;
  const auto& kinds = config.train.image_kinds;
  const auto& classes = model.heads.defect_classes;

  std::vector<Example> examples(records.size());
  std::vector<std::vector<std::string>> problems(records.size());
  std::atomic<size_t> next{0}, done{0};
  auto work = [&] {
    text::EncodeOptions encode;
    encode.max_length = model.text.max_length;
    encode.pad_to_max_length = false;
    for (size_t i = next++; i < records.size(); i = next++) {
      const corpus::Record& r = records[i];
      Example& e = examples[i];
      e.id = r.id;
      e.split = r.split;
      e.properties = r.properties;
      e.composition = r.composition;
      if (r.structure) {
        absl::StatusOr<materials::StructureGraph> g = LoadGraph(*r.structure, manifest_path, model);
        if (g.ok() && g->num_nodes > 0) {
          e.graph = std::move(*g);
        } else if (!g.ok()) {
          problems[i].push_back(absl::StrCat(r.id, ": structure: ", g.status().message()));
        }
      }
      if (r.synthesis && !r.synthesis->text.empty()) {
        absl::StatusOr<text::Encoding> enc = tokenizer.Encode(r.synthesis->text, encode, r.id);
        if (enc.ok()) {
          e.tokens = std::move(enc->ids);
        } else {
          problems[i].push_back(absl::StrCat(r.id, ": text: ", enc.status().message()));
        }
      }
      for (const corpus::ImageRef& ref : r.images) {
        if (std::find(kinds.begin(), kinds.end(), ref.kind) == kinds.end()) continue;
        absl::StatusOr<ExampleImage> img = LoadImage(ref, manifest_path, model);
        if (img.ok()) {
          e.images.push_back(std::move(*img));
        } else {
          problems[i].push_back(absl::StrCat(r.id, ": image: ", img.status().message()));
        }
      }
      auto label = r.labels.find("defect");
      if (label != r.labels.end()) {
        auto pos = std::find(classes.begin(), classes.end(), label->second);
        if (pos != classes.end()) e.defect = static_cast<int>(pos - classes.begin());
      }
      size_t d = ++done;
      if (options.verbose && (d % 500 == 0 || d == records.size())) {
        std::fprintf(stderr, "\rfeaturizing %zu/%zu records", d, records.size());
        if (d == records.size()) std::fprintf(stderr, "\n");
      }
    }
  };
  int threads =
      options.threads > 0 ? options.threads : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();

  for (size_t i = 0; i < records.size(); ++i) {
    for (auto& p : problems[i]) {
      if (ds.problem_samples.size() < 5) ds.problem_samples.push_back(p);
      ++ds.problems;
    }
    Example& e = examples[i];
    if (config.train.complete_triplets_only && (!e.graph || e.tokens.empty() || e.images.empty())) {
      continue;
    }
    ds.examples.push_back(std::move(e));
  }
  if (options.verbose && ds.problems > 0) {
    std::fprintf(stderr, "%d modality problem(s) (those modalities are skipped), e.g.:\n",
                 ds.problems);
    for (const auto& p : ds.problem_samples) std::fprintf(stderr, "  %s\n", p.c_str());
  }

  // Standardization statistics from the training split only.
  std::vector<std::string> names = model.property.properties;
  for (const auto& n : model.heads.properties) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::vector<const std::map<std::string, double>*> samples;
  for (const Example& e : ds.examples) {
    if (e.split == corpus::Split::kTrain) samples.push_back(&e.properties);
  }
  ds.normalization = encoders::PropertyNormalization::Fit(names, samples);
  return ds;
}

// ---------------------------------------------------------------------------------------
Batch Batch::To(const torch::Device& device) const {
  Batch b = *this;
  b.graph_rows = graph_rows.to(device);
  b.graphs = graphs.To(device);
  b.text_rows = text_rows.to(device);
  b.texts = texts.To(device);
  b.image_rows = image_rows.to(device);
  b.images = images.to(device);
  b.image_is_sem = image_is_sem.to(device);
  b.target_rows = target_rows.to(device);
  b.targets = targets.To(device);
  b.head_values = head_values.to(device);
  b.head_mask = head_mask.to(device);
  b.defect = defect.to(device);
  return b;
}

namespace {

torch::Tensor Rows(const std::vector<int64_t>& rows) {
  return torch::tensor(rows, torch::TensorOptions().dtype(torch::kInt64)).reshape({-1});
}

}  // namespace

torch::Tensor ImageTensor(const ExampleImage& image, const encoders::ModelConfig& model) {
  const int s = model.image.input_size;
  const imaging::PreprocessOptions o = encoders::ImageOptionsFor(model, image.kind);
  torch::Tensor u8 = torch::from_blob(const_cast<uint8_t*>(image.pixels.data()), {1, s, s},
                                      torch::TensorOptions().dtype(torch::kUInt8));
  return (u8.to(torch::kFloat) / 255.f - o.mean) / o.stddev;
}

Batch MakeBatch(const Dataset& dataset, const TrainConfig& config, const std::vector<int>& rows,
                const BatchOptions& options) {
  const encoders::ModelConfig& model = config.model;
  Batch b;
  b.size = static_cast<int64_t>(rows.size());
  std::vector<int64_t> graph_rows, text_rows, image_rows, target_rows;
  std::vector<const materials::StructureGraph*> graphs;
  std::vector<const std::vector<int32_t>*> texts;
  std::vector<const ExampleImage*> images;
  std::vector<encoders::PropertyTarget> targets;
  const int64_t h = static_cast<int64_t>(model.heads.properties.size());
  b.head_values = torch::zeros({b.size, h});
  b.head_mask = torch::zeros({b.size, h});
  b.defect = torch::full({b.size}, -1, torch::TensorOptions().dtype(torch::kInt64));
  for (int64_t i = 0; i < b.size; ++i) {
    const Example& e = dataset.examples[rows[i]];
    // One generator per (seed, example): the same choices whatever the batch layout.
    std::mt19937_64 rng(options.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(rows[i]));
    if (e.graph) {
      graph_rows.push_back(i);
      graphs.push_back(&*e.graph);
    }
    if (!e.tokens.empty()) {
      text_rows.push_back(i);
      texts.push_back(&e.tokens);
    }
    if (options.with_images && !e.images.empty()) {
      image_rows.push_back(i);
      images.push_back(&e.images[rng() % e.images.size()]);
    }
    if (e.has_target()) {
      std::map<std::string, double> props;
      std::map<std::string, double> comp = e.composition;
      for (const auto& [name, value] : e.properties) {
        if (std::find(model.property.properties.begin(), model.property.properties.end(), name) ==
            model.property.properties.end()) {
          continue;
        }
        props[name] = value;
      }
      if (options.drop_properties) {
        std::uniform_real_distribution<double> u(0, 1);
        std::map<std::string, double> kept;
        for (const auto& kv : props) {
          if (u(rng) < options.property_keep_prob) kept.insert(kv);
        }
        bool keep_comp = u(rng) < options.property_keep_prob;
        if (kept.empty() && !keep_comp) keep_comp = true;  // never an empty target
        props = std::move(kept);
        if (!keep_comp) comp.clear();
      }
      absl::StatusOr<encoders::PropertyTarget> t = encoders::EncodePropertyTarget(
          props, comp, model.property, dataset.normalization, /*strict=*/false);
      if (t.ok()) {
        target_rows.push_back(i);
        targets.push_back(std::move(*t));
      }
    }
    for (int64_t j = 0; j < h; ++j) {
      auto it = e.properties.find(model.heads.properties[j]);
      if (it == e.properties.end()) continue;
      const auto& stat = dataset.normalization.stats.at(it->first);
      b.head_values[i][j] = (it->second - stat.first) / stat.second;
      b.head_mask[i][j] = 1.0;
    }
    b.defect[i] = e.defect;
  }
  b.graph_rows = Rows(graph_rows);
  b.graphs = encoders::CollateGraphs(graphs);
  b.text_rows = Rows(text_rows);
  if (!texts.empty()) b.texts = encoders::CollateTokens(texts);
  b.image_rows = Rows(image_rows);
  const int s = model.image.input_size;
  b.images = torch::empty({static_cast<int64_t>(images.size()), 1, s, s});
  b.image_is_sem = torch::zeros({static_cast<int64_t>(images.size())},
                                torch::TensorOptions().dtype(torch::kBool));
  for (size_t i = 0; i < images.size(); ++i) {
    b.images[static_cast<int64_t>(i)] = ImageTensor(*images[i], model);
    b.image_is_sem[static_cast<int64_t>(i)] = images[i]->kind == "sem";
  }
  b.target_rows = Rows(target_rows);
  if (!targets.empty()) {
    std::vector<const encoders::PropertyTarget*> ptrs;
    for (const auto& t : targets) ptrs.push_back(&t);
    b.targets = encoders::CollateTargets(ptrs);
  }
  return b;
}

// ---------------------------------------------------------------------------------------
BatchLoader::BatchLoader(const Dataset& dataset, const TrainConfig& config,
                         std::vector<std::vector<int>> plan, BatchOptions options, int prefetch)
    : dataset_(dataset),
      config_(config),
      plan_(std::move(plan)),
      options_(options),
      prefetch_(static_cast<size_t>(std::max(1, prefetch))) {
  thread_ = std::thread([this] { Run(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void BatchLoader::Run() {
  for (size_t i = 0; i < plan_.size(); ++i) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || ready_.size() < prefetch_; });
      if (stop_) return;
    }
    Batch batch = MakeBatch(dataset_, config_, plan_[i], options_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(std::move(batch));
    }
    cv_.notify_all();
  }
}

std::optional<Batch> BatchLoader::Next() {
  if (consumed_ >= plan_.size()) return std::nullopt;
  auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return !ready_.empty(); });
  Batch b = std::move(ready_.front());
  ready_.pop_front();
  ++consumed_;
  lock.unlock();
  cv_.notify_all();
  wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return b;
}

}  // namespace matalign::train
