#include "train/trainer.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "distributed/process_group.h"
#include "encoders/model.h"
#include "encoders/model_bundle.h"
#include "train/dataset.h"
#include "train/objective.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

std::string Duration(double seconds) {
  int s = static_cast<int>(std::lround(std::max(0.0, seconds)));
  if (s >= 3600) return absl::StrFormat("%dh%02dm", s / 3600, s / 60 % 60);
  if (s >= 60) return absl::StrFormat("%dm%02ds", s / 60, s % 60);
  return absl::StrFormat("%ds", s);
}

// The pairs of the objective, in the order of LossWeights; (a, b) = a retrieves b.
enum Modality { kGraph = 0, kText = 1, kImage = 2, kProperty = 3, kNumModalities = 4 };
struct Pair {
  const char* name;
  Modality a, b;
};
constexpr Pair kPairs[] = {{"gt", kGraph, kText},
                           {"gv", kGraph, kImage},
                           {"tv", kText, kImage},
                           {"pg", kProperty, kGraph},
                           {"pt", kProperty, kText}};
constexpr int kNumPairs = 5;

std::array<double, kNumPairs> PairWeights(const LossWeights& w) {
  return {w.graph_text, w.graph_image, w.text_image, w.property_graph, w.property_text};
}

// Per-modality embeddings of a batch, [B, d] with zero rows where absent, and the masks.
struct Embeddings {
  std::array<torch::Tensor, kNumModalities> z;
  std::array<torch::Tensor, kNumModalities> mask;  // [B] bool
  torch::Tensor graph_local;  // [G, d] structure embeddings (for the property head)
  torch::Tensor image_local;  // [V, d]
};

torch::Tensor Scatter(const torch::Tensor& rows, const torch::Tensor& emb, int64_t size,
                      int64_t dim, const torch::TensorOptions& options) {
  torch::Tensor full = torch::zeros({size, dim}, options);
  if (rows.numel() == 0) return full;
  return full.index_copy(0, rows, emb.to(options.dtype()));
}

Embeddings Embed(encoders::MatAlignModel& model, const Batch& b, bool with_images,
                 const torch::Device& device) {
  const int64_t d = model->config().embed_dim;
  auto opts = torch::TensorOptions().device(device).dtype(torch::kFloat);
  auto bool_opts = torch::TensorOptions().device(device).dtype(torch::kBool);
  Embeddings e;
  auto mask_of = [&](const torch::Tensor& rows) {
    torch::Tensor m = torch::zeros({b.size}, bool_opts);
    if (rows.numel() > 0) m.index_fill_(0, rows, true);
    return m;
  };
  e.graph_local = b.graph_rows.numel() > 0 ? model->graph(b.graphs) : torch::zeros({0, d}, opts);
  e.z[kGraph] = Scatter(b.graph_rows, e.graph_local, b.size, d, opts);
  e.mask[kGraph] = mask_of(b.graph_rows);
  torch::Tensor text = b.text_rows.numel() > 0 ? model->text(b.texts) : torch::zeros({0, d}, opts);
  e.z[kText] = Scatter(b.text_rows, text, b.size, d, opts);
  e.mask[kText] = mask_of(b.text_rows);
  const bool images = with_images && b.image_rows.numel() > 0;
  e.image_local = images ? model->image(b.images) : torch::zeros({0, d}, opts);
  e.z[kImage] =
      Scatter(images ? b.image_rows : b.image_rows.slice(0, 0, 0), e.image_local, b.size, d, opts);
  e.mask[kImage] = images ? mask_of(b.image_rows) : torch::zeros({b.size}, bool_opts);
  const bool targets = b.target_rows.numel() > 0;
  torch::Tensor prop = targets ? model->property(b.targets) : torch::zeros({0, d}, opts);
  e.z[kProperty] =
      Scatter(targets ? b.target_rows : b.target_rows.slice(0, 0, 0), prop, b.size, d, opts);
  e.mask[kProperty] = targets ? mask_of(b.target_rows) : torch::zeros({b.size}, bool_opts);
  return e;
}

struct StepLosses {
  torch::Tensor total;
  std::array<double, kNumPairs> pair{};  // NaN where the pair had < 2 rows
  double property_head = NAN;
  double defect_head = NAN;
};

absl::Status Fail(const std::string& what) { return absl::InternalError(what); }

// Learning rate at `step` (0-based): linear warmup to lr, then cosine to min_lr.
double LearningRate(const TrainSettings& s, int64_t step, int64_t total_steps) {
  if (step < s.warmup_steps) return s.lr * (step + 1) / static_cast<double>(s.warmup_steps);
  const double span = std::max<int64_t>(1, total_steps - s.warmup_steps);
  const double progress = std::min(1.0, (step - s.warmup_steps) / span);
  return s.min_lr + 0.5 * (s.lr - s.min_lr) * (1 + std::cos(M_PI * progress));
}

std::vector<torch::Tensor> ModelTensors(encoders::MatAlignModel& model) {
  std::vector<torch::Tensor> out;
  for (auto& p : model->parameters()) out.push_back(p.data());
  for (auto& b : model->buffers()) out.push_back(b);
  return out;
}

// Copies every parameter and buffer of the bundle at `dir` whose name and shape match into
// `model`; returns how many were copied.
absl::StatusOr<int> InitializeFrom(encoders::MatAlignModel& model, const std::string& dir) {
  MATALIGN_ASSIGN_OR_RETURN(std::shared_ptr<encoders::LoadedModel> source,
                            encoders::LoadModelBundle(dir));
  std::map<std::string, torch::Tensor> from;
  for (const auto& p : source->model->named_parameters()) from[p.key()] = p.value();
  for (const auto& b : source->model->named_buffers()) from[b.key()] = b.value();
  torch::NoGradGuard no_grad;
  int copied = 0;
  auto copy = [&](const std::string& name, torch::Tensor& to) {
    auto it = from.find(name);
    if (it == from.end() || !it->second.sizes().equals(to.sizes())) return;
    to.copy_(it->second);
    ++copied;
  };
  for (auto& p : model->named_parameters()) copy(p.key(), p.value());
  for (auto& b : model->named_buffers()) copy(b.key(), b.value());
  if (copied == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--init-from ", dir, ": no tensor matches this model's names and shapes"));
  }
  return copied;
}

// The validation figure that picks the best epoch (TrainSettings::selection_metric), or "" if
// `val` has none of the automatic choices.
std::string SelectionMetric(const TrainConfig& config, const nlohmann::json& val) {
  const TrainSettings& s = config.train;
  if (!s.selection_metric.empty()) return s.selection_metric;
  const std::string k = std::to_string(s.recall_k);
  std::vector<std::string> candidates = {"recall@" + k + "_g2t", "recall@" + k + "_p2t"};
  for (const std::string& p : config.model.heads.properties) candidates.push_back("mae_" + p);
  for (const char* c : {"defect_accuracy", "_g2v", "_t2v"}) {
    candidates.push_back(c[0] == '_' ? "recall@" + k + c : c);
  }
  for (const std::string& c : candidates) {
    if (val.contains(c)) return c;
  }
  return "";
}

// Larger is better: MAEs are negated; a missing figure scores -infinity.
double SelectionScore(const std::string& metric, const nlohmann::json& val) {
  if (metric.empty() || !val.contains(metric) || !val[metric].is_number()) {
    return -std::numeric_limits<double>::infinity();
  }
  const double v = val[metric].get<double>();
  return metric.rfind("mae_", 0) == 0 ? -v : v;
}

struct Checkpoint {
  int epoch = 0;  // epochs completed
  int64_t step = 0;
  double best_metric = -std::numeric_limits<double>::infinity();  // SelectionScore
  int best_epoch = -1;
  int bad_epochs = 0;
  nlohmann::json best_metrics = nlohmann::json::object();
  std::string best_weights;
};

}  // namespace

absl::Status TrainerOptions::Validate() const {
  if (data.empty()) return absl::InvalidArgumentError("--data is required");
  if (out.empty()) return absl::InvalidArgumentError("--out is required");
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device '", device, "' (expected auto, cpu or cuda)"));
  }
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank ", rank, " is outside [0, world size ", world_size, ")"));
  }
  if (threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  if (stop_after_epochs < 0) return absl::InvalidArgumentError("--stop-after-epochs must be >= 0");
  if (log_every < 0) return absl::InvalidArgumentError("--log-every must be >= 0");
  return absl::OkStatus();
}

static absl::StatusOr<TrainResult> TrainUnguarded(const TrainConfig& config_in,
                                                  const TrainerOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_RETURN_IF_ERROR(config_in.Validate());
  TrainConfig config = config_in;
  const TrainSettings& s = config.train;
  const bool lead = options.rank == 0;
  const int world = options.world_size;
  if (s.batch_size % world != 0) {
    return absl::InvalidArgumentError(absl::StrCat("train.batch_size ", s.batch_size,
                                                   " is not divisible by the world size ", world));
  }

  // Device and threads.
  torch::Device device = torch::kCPU;
  if (options.device == "cuda" || (options.device == "auto" && torch::cuda::is_available())) {
    if (!torch::cuda::is_available()) {
      return absl::FailedPreconditionError(
          "--device cuda: this LibTorch has no CUDA or no GPU is visible");
    }
    device =
        torch::Device(torch::kCUDA, options.rank % std::max<int>(1, torch::cuda::device_count()));
  }
  const int hw = std::max(1u, std::thread::hardware_concurrency());
  const int threads = options.threads > 0 ? options.threads : std::max(1, hw / world);
  torch::set_num_threads(threads);

  std::unique_ptr<distributed::ProcessGroup> group;
  {
    distributed::ProcessGroupOptions po;
    po.world_size = world;
    po.rank = options.rank;
    po.rendezvous = options.rendezvous;
    MATALIGN_ASSIGN_OR_RETURN(group, distributed::ProcessGroup::Create(po));
  }

  const std::string run_dir = options.run_dir.empty()
                                  ? (fs::path(options.out) / "runs" / "latest").string()
                                  : options.run_dir;
  std::error_code ec;
  fs::create_directories(run_dir, ec);
  if (ec) return Fail(absl::StrCat("cannot create run directory ", run_dir, ": ", ec.message()));
  const std::string checkpoint_path = (fs::path(run_dir) / "checkpoint.pt").string();
  const std::string tokenizer_path = (fs::path(run_dir) / "tokenizer.model").string();
  const std::string manifest_path = ManifestPathFor(options.data);
  if (options.resume && !fs::exists(checkpoint_path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--resume: no checkpoint at ", checkpoint_path));
  }

  // Tokenizer: reuse the run's on resume, else the given one, else train one on rank 0.
  auto log = [&](const std::string& line) {
    if (lead) std::fprintf(stderr, "%s\n", line.c_str());
  };
  if (lead && !options.resume) {
    std::string given_tokenizer = options.tokenizer;
    if (given_tokenizer.empty() && !options.init_from.empty()) {
      given_tokenizer = (fs::path(options.init_from) / "tokenizer.model").string();
    }
    if (!given_tokenizer.empty()) {
      MATALIGN_ASSIGN_OR_RETURN(std::string bytes, ReadFile(given_tokenizer));
      MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(tokenizer_path, bytes));
    } else {
      auto start = Clock::now();
      MATALIGN_ASSIGN_OR_RETURN(std::vector<std::string> texts,
                                TrainingTexts(manifest_path, s.max_records));
      if (texts.empty()) {
        log(absl::StrCat(manifest_path,
                         ": no synthesis text in the training split; the tokenizer is trained "
                         "on a placeholder text and the text encoder stays untrained"));
        texts = PlaceholderTokenizerTexts();
      }
      text::TokenizerTrainOptions to;
      to.vocab_size = config.tokenizer.vocab_size;
      to.hard_vocab_limit = false;
      to.seed = static_cast<uint32_t>(s.seed % 4294967295u);
      to.num_threads = threads;
      MATALIGN_ASSIGN_OR_RETURN(std::string model_bytes, text::TrainTokenizerModel(texts, to));
      MATALIGN_RETURN_IF_ERROR(WriteFileAtomic(tokenizer_path, model_bytes));
      log(absl::StrFormat("tokenizer: trained on %d texts in %.1f s", texts.size(),
                          Seconds(start)));
    }
  }
  MATALIGN_RETURN_IF_ERROR(group->Barrier());
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<text::Tokenizer> tokenizer,
                            text::Tokenizer::Load(tokenizer_path));
  config.model.text.vocab_size = tokenizer->vocab_size();

  // Data.
  auto load_start = Clock::now();
  DatasetOptions dataset_options;
  dataset_options.threads = threads;
  dataset_options.verbose = lead;
  MATALIGN_ASSIGN_OR_RETURN(Dataset data,
                            LoadDataset(manifest_path, config, *tokenizer, dataset_options));
  std::vector<int> train_rows = data.Indices(corpus::Split::kTrain);
  std::vector<int> val_rows = data.Indices(corpus::Split::kVal);
  int batch = s.batch_size;
  if (static_cast<int>(train_rows.size()) < batch) {
    // Small data sets: one batch of everything (rounded down to the world size).
    batch = static_cast<int>(train_rows.size()) / world * world;
  }
  if (batch < 2 * world) {
    return absl::FailedPreconditionError(absl::StrCat(
        manifest_path, ": ", train_rows.size(), " training records; need at least ", 2 * world));
  }
  const int local = batch / world;
  const int64_t steps_per_epoch = static_cast<int64_t>(train_rows.size()) / batch;
  const int64_t total_steps = steps_per_epoch * s.epochs;
  log(absl::StrFormat(
      "data: %d records (%d train, %d val) featurized in %.1f s; batch %d (%d per rank x %d), "
      "%d steps/epoch; device %s, %d thread(s) per rank",
      data.examples.size(), train_rows.size(), val_rows.size(), Seconds(load_start), batch, local,
      world, steps_per_epoch, device.str(), threads));

  // Model and optimizer.
  torch::manual_seed(s.seed);
  encoders::MatAlignModel model(config.model);
  if (!options.init_from.empty() && !options.resume) {
    MATALIGN_ASSIGN_OR_RETURN(int copied, InitializeFrom(model, options.init_from));
    log(absl::StrFormat("init: %d tensors copied from %s", copied, options.init_from));
  }
  model->to(device);
  {
    std::vector<torch::Tensor> tensors = ModelTensors(model);
    MATALIGN_RETURN_IF_ERROR(group->Broadcast(tensors, 0));
  }
  std::vector<torch::Tensor> decay, no_decay;
  for (const auto& p : model->named_parameters()) {
    const std::string& name = p.key();
    bool exempt = p.value().dim() < 2 || name.find("norm") != std::string::npos ||
                  name.find("positions") != std::string::npos;
    (exempt ? no_decay : decay).push_back(p.value());
  }
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                 torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay)));
  groups.emplace_back(no_decay, std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(s.lr).weight_decay(0)));
  torch::optim::AdamW optimizer(std::move(groups));

  const nlohmann::json config_json = TrainConfigToJson(config);
  Checkpoint ck;
  if (options.resume) {
    try {
      torch::serialize::InputArchive ar;
      ar.load_from(checkpoint_path, device);
      c10::IValue v;
      ar.read("config", v);
      if (v.toStringRef() != config_json.dump()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "--resume: ", checkpoint_path, " was written with a different configuration"));
      }
      ar.read("data_hash", v);
      if (v.toStringRef() != data.data_hash) {
        return absl::FailedPreconditionError(
            absl::StrCat("--resume: ", checkpoint_path, " was trained on different data (manifest ",
                         manifest_path, " changed)"));
      }
      torch::serialize::InputArchive model_ar, optimizer_ar;
      ar.read("model", model_ar);
      model->load(model_ar);
      ar.read("optimizer", optimizer_ar);
      optimizer.load(optimizer_ar);
      ar.read("epoch", v);
      ck.epoch = static_cast<int>(v.toInt());
      ar.read("step", v);
      ck.step = v.toInt();
      ar.read("best_metric", v);
      ck.best_metric = v.toDouble();
      ar.read("best_epoch", v);
      ck.best_epoch = static_cast<int>(v.toInt());
      ar.read("bad_epochs", v);
      ck.bad_epochs = static_cast<int>(v.toInt());
      ar.read("best_metrics", v);
      ck.best_metrics = nlohmann::json::parse(v.toStringRef());
      ar.read("best_weights", v);
      ck.best_weights = v.toStringRef();
    } catch (const std::exception& e) {
      return absl::DataLossError(
          absl::StrCat("--resume: cannot read ", checkpoint_path, ": ", e.what()));
    }
    log(absl::StrFormat("resuming after epoch %d (step %d) from %s", ck.epoch, ck.step,
                        checkpoint_path));
  }

  // Metrics log: on resume, drop lines written after the checkpoint.
  const std::string metrics_path = (fs::path(run_dir) / "metrics.jsonl").string();
  std::ofstream metrics;
  if (lead) {
    std::string kept;
    if (options.resume) {
      std::ifstream in(metrics_path);
      std::string line;
      while (std::getline(in, line)) {
        auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (j.is_object() && j.value("epoch", 1 << 30) <= ck.epoch) kept += line + "\n";
      }
    }
    metrics.open(metrics_path, std::ios::trunc);
    metrics << kept;
    if (!metrics) return Fail(absl::StrCat("cannot write ", metrics_path));
  }
  auto write_metrics = [&](const nlohmann::json& j) {
    if (lead)
      metrics << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n"
              << std::flush;
  };

  const auto weights = PairWeights(s.loss_weights);
  const bool amp = s.amp && device.is_cuda();
  TrainResult result;
  double train_seconds = 0, wait_seconds = 0;
  int64_t samples = 0;
  auto run_start = Clock::now();
  const int64_t steps_before = ck.step;

  // Validation: embeddings of every validation material, then Recall@k per pair.
  auto validate = [&]() -> nlohmann::json {
    torch::NoGradGuard no_grad;
    model->eval();
    std::array<std::vector<torch::Tensor>, kNumModalities> zs, masks;
    std::vector<torch::Tensor> head_err, head_mask, defect_ok;
    BatchOptions bo;
    bo.seed = s.seed;
    for (size_t start = 0; start < val_rows.size(); start += batch) {
      std::vector<int> rows(val_rows.begin() + start,
                            val_rows.begin() + std::min(val_rows.size(), start + batch));
      Batch b = MakeBatch(data, config, rows, bo).To(device);
      Embeddings e = Embed(model, b, true, device);
      for (int m = 0; m < kNumModalities; ++m) {
        zs[m].push_back(e.z[m].cpu());
        masks[m].push_back(e.mask[m].cpu());
      }
      if (model->property_head && b.graph_rows.numel() > 0) {
        torch::Tensor pred = model->property_head(e.graph_local);
        head_err.push_back((pred - b.head_values.index_select(0, b.graph_rows)).abs().cpu());
        head_mask.push_back(b.head_mask.index_select(0, b.graph_rows).cpu());
      }
      if (model->defect_head && b.image_rows.numel() > 0) {
        torch::Tensor labels = b.defect.index_select(0, b.image_rows);
        torch::Tensor keep = b.image_is_sem.logical_and(labels >= 0);
        torch::Tensor pred = model->defect_head(e.image_local).argmax(1);
        defect_ok.push_back((pred == labels).masked_select(keep).cpu());
      }
    }
    model->train();
    nlohmann::json j = nlohmann::json::object();
    if (val_rows.empty()) return j;
    std::array<torch::Tensor, kNumModalities> z, mask;
    for (int m = 0; m < kNumModalities; ++m) {
      z[m] = torch::cat(zs[m]);
      mask[m] = torch::cat(masks[m]);
    }
    const int k = s.recall_k;
    auto recall = [&](Modality a, Modality b, const char* name) {
      torch::Tensor idx = mask[a].logical_and(mask[b]).nonzero().squeeze(1);
      if (idx.numel() < 2) return;
      j[absl::StrCat("recall@", k, "_", name)] =
          RecallAtK(z[a].index_select(0, idx), z[b].index_select(0, idx), k);
      j[absl::StrCat("n_", name)] = idx.numel();
    };
    recall(kGraph, kText, "g2t");
    recall(kText, kGraph, "t2g");
    recall(kGraph, kImage, "g2v");
    recall(kText, kImage, "t2v");
    recall(kProperty, kText, "p2t");
    recall(kProperty, kGraph, "p2g");
    if (!head_err.empty()) {
      torch::Tensor err = torch::cat(head_err), hm = torch::cat(head_mask);
      for (size_t p = 0; p < config.model.heads.properties.size(); ++p) {
        const std::string& name = config.model.heads.properties[p];
        double n = hm.select(1, p).sum().item<double>();
        if (n == 0) continue;
        double mae = (err.select(1, p) * hm.select(1, p)).sum().item<double>() / n;
        j[absl::StrCat("mae_", name)] = mae * data.normalization.stats.at(name).second;
      }
    }
    if (!defect_ok.empty()) {
      torch::Tensor ok = torch::cat(defect_ok);
      if (ok.numel() > 0) j["defect_accuracy"] = ok.to(torch::kFloat).mean().item<double>();
    }
    return j;
  };

  int epoch = ck.epoch;
  bool stopped_early = false;
  std::string selection;  // the validation figure that picks the best epoch
  for (; epoch < s.epochs; ++epoch) {
    if (options.stop_after_epochs > 0 && result.epochs_run >= options.stop_after_epochs) break;
    if (s.early_stopping_patience > 0 && ck.bad_epochs >= s.early_stopping_patience) {
      stopped_early = true;
      break;
    }
    auto epoch_start = Clock::now();
    const uint64_t epoch_seed = s.seed * 1000003ull + static_cast<uint64_t>(epoch);
    torch::manual_seed(epoch_seed);
    std::vector<int> order = train_rows;
    std::mt19937_64 shuffle_rng(epoch_seed);
    std::shuffle(order.begin(), order.end(), shuffle_rng);
    std::vector<std::vector<int>> plan;
    for (int64_t st = 0; st < steps_per_epoch; ++st) {
      auto begin = order.begin() + st * batch + options.rank * local;
      plan.emplace_back(begin, begin + local);
    }
    const bool with_images = epoch >= s.curriculum_epochs;
    BatchOptions bo;
    bo.with_images = with_images;
    bo.drop_properties = true;
    bo.property_keep_prob = s.property_keep_prob;
    bo.seed = epoch_seed;
    BatchLoader loader(data, config, std::move(plan), bo, s.prefetch);
    model->train();
    double epoch_loss = 0;
    int64_t epoch_steps = 0;
    auto steps_start = Clock::now();
    while (std::optional<Batch> next = loader.Next()) {
      Batch b = next->To(device);
      const double lr = LearningRate(s, ck.step, total_steps);
      for (auto& g : optimizer.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      }
      StepLosses L;
      try {
        if (amp) {
          at::autocast::set_enabled(true);
          at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
        }
        Embeddings e = Embed(model, b, with_images, device);
        if (amp) {
          at::autocast::set_enabled(false);
          at::autocast::clear_cache();
        }
        // Gather every rank's rows so InfoNCE sees the global batch (gradients flow into
        // this rank's rows only; summing gradients over ranks gives the global gradient).
        std::array<torch::Tensor, kNumModalities> z, mask;
        for (int m = 0; m < kNumModalities; ++m) {
          MATALIGN_ASSIGN_OR_RETURN(z[m], distributed::AllGatherWithLocalGrad(*group, e.z[m]));
          MATALIGN_ASSIGN_OR_RETURN(torch::Tensor gm,
                                    group->AllGather(e.mask[m].to(torch::kUInt8)));
          mask[m] = gm.to(torch::kBool);
        }
        torch::Tensor temperature = model->temperature();
        torch::Tensor total = torch::zeros({}, torch::TensorOptions().device(device));
        std::vector<double> log_values(kNumPairs + 2, 0.0);
        for (int p = 0; p < kNumPairs; ++p) {
          L.pair[p] = NAN;
          if (weights[p] == 0) continue;
          torch::Tensor idx = mask[kPairs[p].a].logical_and(mask[kPairs[p].b]).nonzero().squeeze(1);
          if (idx.numel() < 2) continue;
          torch::Tensor loss =
              InfoNce(z[kPairs[p].a].index_select(0, idx), z[kPairs[p].b].index_select(0, idx),
                      temperature, s.symmetric);
          total = total + weights[p] * loss;
          L.pair[p] = loss.item<double>();
        }
        // Heads: this rank's sum over its rows, divided by the global count.
        torch::Tensor head_sq, defect_ce;
        torch::Tensor counts = torch::zeros({2});
        if (model->property_head && b.graph_rows.numel() > 0 && s.loss_weights.property_head > 0) {
          torch::Tensor hm = b.head_mask.index_select(0, b.graph_rows);
          torch::Tensor diff =
              model->property_head(e.graph_local) - b.head_values.index_select(0, b.graph_rows);
          head_sq = (diff.pow(2) * hm).sum();
          counts[0] = hm.sum().item<double>();
        }
        torch::Tensor defect_keep;
        if (model->defect_head && with_images && e.image_local.size(0) > 0 &&
            s.loss_weights.defect_head > 0) {
          torch::Tensor labels = b.defect.index_select(0, b.image_rows);
          defect_keep = b.image_is_sem.logical_and(labels >= 0).nonzero().squeeze(1);
          if (defect_keep.numel() > 0) {
            defect_ce = torch::nn::functional::cross_entropy(
                model->defect_head(e.image_local.index_select(0, defect_keep)).to(torch::kFloat),
                labels.index_select(0, defect_keep),
                torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
            counts[1] = static_cast<double>(defect_keep.numel());
          }
        }
        {
          std::vector<torch::Tensor> c = {counts};
          MATALIGN_RETURN_IF_ERROR(group->AllReduceSum(c));
        }
        const double head_n = counts[0].item<double>(), defect_n = counts[1].item<double>();
        if (head_sq.defined() && head_n > 0) {
          torch::Tensor part = head_sq / head_n;
          total = total + s.loss_weights.property_head * part;
          log_values[kNumPairs] = part.item<double>();
        }
        if (defect_ce.defined() && defect_n > 0) {
          torch::Tensor part = defect_ce / defect_n;
          total = total + s.loss_weights.defect_head * part;
          log_values[kNumPairs + 1] = part.item<double>();
        }
        optimizer.zero_grad();
        if (total.requires_grad()) total.backward();

        // Gradients: every parameter some rank used gets a gradient on every rank (zeros
        // where unused here), so all ranks step the same parameters as one process would.
        std::vector<torch::Tensor> params = model->parameters();
        torch::Tensor used = torch::zeros({static_cast<int64_t>(params.size())});
        for (size_t i = 0; i < params.size(); ++i) {
          if (params[i].grad().defined()) used[i] = 1;
        }
        if (world > 1) {
          std::vector<torch::Tensor> u = {used};
          MATALIGN_RETURN_IF_ERROR(group->AllReduceSum(u));
          // The temperature enters the gathered logits on every rank: each rank holds the
          // full gradient, so the sum over ranks must be divided by the world size.
          if (model->log_temperature.grad().defined()) {
            model->log_temperature.mutable_grad().div_(world);
          }
          std::vector<torch::Tensor> grads;
          for (size_t i = 0; i < params.size(); ++i) {
            if (used[i].item<float>() == 0) continue;
            if (!params[i].grad().defined())
              params[i].mutable_grad() = torch::zeros_like(params[i]);
            grads.push_back(params[i].mutable_grad());
          }
          MATALIGN_RETURN_IF_ERROR(group->AllReduceSum(grads));
          std::vector<torch::Tensor> lv = {torch::tensor(log_values, torch::kDouble)};
          MATALIGN_RETURN_IF_ERROR(group->AllReduceSum(lv));
          for (int i = kNumPairs; i < kNumPairs + 2; ++i) log_values[i] = lv[0][i].item<double>();
        }
        if (s.grad_clip > 0) torch::nn::utils::clip_grad_norm_(model->parameters(), s.grad_clip);
        optimizer.step();
        L.property_head = head_sq.defined() && head_n > 0 ? log_values[kNumPairs] : NAN;
        L.defect_head = defect_ce.defined() && defect_n > 0 ? log_values[kNumPairs + 1] : NAN;
        // Report the loss of the global batch: InfoNCE terms plus the all-reduced heads.
        double reported = 0;
        for (int p = 0; p < kNumPairs; ++p) {
          if (!std::isnan(L.pair[p])) reported += weights[p] * L.pair[p];
        }
        if (!std::isnan(L.property_head))
          reported += s.loss_weights.property_head * L.property_head;
        if (!std::isnan(L.defect_head)) reported += s.loss_weights.defect_head * L.defect_head;
        L.total = torch::tensor(reported);
      } catch (const c10::Error& err) {
        return Fail(
            absl::StrCat("training step ", ck.step + 1, ": ", err.what_without_backtrace()));
      }
      ++ck.step;
      ++epoch_steps;
      const double loss = L.total.item<double>();
      if (!std::isfinite(loss)) {
        return absl::InternalError(absl::StrCat("training diverged at step ", ck.step, " (loss ",
                                                loss,
                                                "): lower train.lr or raise train.warmup_steps"));
      }
      epoch_loss += loss;
      samples += batch;
      const double elapsed = Seconds(steps_start);
      const double rate = batch * epoch_steps / std::max(1e-9, elapsed);
      const double temperature = model->temperature().item<double>();
      nlohmann::json line = {{"type", "step"},
                             {"epoch", epoch + 1},
                             {"step", ck.step},
                             {"loss", loss},
                             {"lr", lr},
                             {"temperature", temperature},
                             {"samples_per_s", rate},
                             {"loader_wait_s", loader.wait_seconds()}};
      std::string parts;
      for (int p = 0; p < kNumPairs; ++p) {
        if (std::isnan(L.pair[p])) continue;
        line["losses"][kPairs[p].name] = L.pair[p];
        absl::StrAppendFormat(&parts, " %s %.3f", kPairs[p].name, L.pair[p]);
      }
      if (!std::isnan(L.property_head)) {
        line["losses"]["prop"] = L.property_head;
        absl::StrAppendFormat(&parts, " prop %.3f", L.property_head);
      }
      if (!std::isnan(L.defect_head)) {
        line["losses"]["defect"] = L.defect_head;
        absl::StrAppendFormat(&parts, " defect %.3f", L.defect_head);
      }
      write_metrics(line);
      if (lead && options.log_every > 0 &&
          (ck.step % options.log_every == 0 || epoch_steps == steps_per_epoch)) {
        const double per_step = Seconds(run_start) / std::max<int64_t>(1, ck.step - steps_before);
        std::fprintf(stderr,
                     "epoch %d/%d step %lld/%lld loss %.4f [%s ] T %.4f lr %.2e %.1f samples/s "
                     "ETA %s\n",
                     epoch + 1, s.epochs, static_cast<long long>(epoch_steps),
                     static_cast<long long>(steps_per_epoch), loss, parts.c_str() + 1, temperature,
                     lr, rate,
                     Duration(per_step * static_cast<double>(total_steps - ck.step)).c_str());
      }
    }
    const double step_seconds = Seconds(steps_start);
    train_seconds += step_seconds;
    wait_seconds += loader.wait_seconds();

    nlohmann::json val = validate();
    selection = SelectionMetric(config, val);
    const double metric = SelectionScore(selection, val);
    ++result.epochs_run;
    if (metric > ck.best_metric || ck.best_epoch < 0) {
      ck.best_metric = metric;
      ck.best_epoch = epoch + 1;
      ck.best_metrics = val;
      ck.bad_epochs = 0;
      std::vector<char> w = encoders::SaveModuleWeights(*model);
      ck.best_weights.assign(w.begin(), w.end());
    } else {
      ++ck.bad_epochs;
    }
    ck.epoch = epoch + 1;
    nlohmann::json epoch_line = {
        {"type", "epoch"},
        {"epoch", epoch + 1},
        {"step", ck.step},
        {"train_loss", epoch_loss / std::max<int64_t>(1, epoch_steps)},
        {"val", val},
        {"temperature", model->temperature().item<double>()},
        {"seconds", Seconds(epoch_start)},
        {"loader_wait_fraction", loader.wait_seconds() / std::max(1e-9, step_seconds)}};
    write_metrics(epoch_line);
    std::string val_text;
    for (auto it = val.begin(); it != val.end(); ++it) {
      if (it.key().rfind("n_", 0) == 0) continue;
      absl::StrAppendFormat(&val_text, " %s %.3f", it.key(), it.value().get<double>());
    }
    log(absl::StrFormat("epoch %d/%d done in %s: train loss %.4f; val%s%s", epoch + 1, s.epochs,
                        Duration(Seconds(epoch_start)), epoch_line["train_loss"].get<double>(),
                        val_text.empty() ? " (no validation data)" : val_text,
                        ck.best_epoch == epoch + 1 ? " (best)" : ""));

    // Checkpoint (rank 0), atomically.
    if (lead) {
      try {
        torch::serialize::OutputArchive ar, model_ar, optimizer_ar;
        model->save(model_ar);
        optimizer.save(optimizer_ar);
        ar.write("model", model_ar);
        ar.write("optimizer", optimizer_ar);
        ar.write("config", c10::IValue(config_json.dump()));
        ar.write("data_hash", c10::IValue(data.data_hash));
        ar.write("epoch", c10::IValue(static_cast<int64_t>(ck.epoch)));
        ar.write("step", c10::IValue(ck.step));
        ar.write("best_metric", c10::IValue(ck.best_metric));
        ar.write("best_epoch", c10::IValue(static_cast<int64_t>(ck.best_epoch)));
        ar.write("bad_epochs", c10::IValue(static_cast<int64_t>(ck.bad_epochs)));
        ar.write("best_metrics", c10::IValue(ck.best_metrics.dump()));
        ar.write("best_weights", c10::IValue(ck.best_weights));
        const std::string tmp = checkpoint_path + ".tmp";
        ar.save_to(tmp);
        fs::rename(tmp, checkpoint_path);
      } catch (const std::exception& e) {
        return Fail(absl::StrCat("cannot write checkpoint ", checkpoint_path, ": ", e.what()));
      }
    }
    MATALIGN_RETURN_IF_ERROR(group->Barrier());
  }
  if (epoch < s.epochs && !stopped_early && options.stop_after_epochs > 0) {
    log(absl::StrFormat("stopped after %d epoch(s) as asked; continue with --resume",
                        result.epochs_run));
    result.best_epoch = ck.best_epoch;
    result.best_metrics = ck.best_metrics;
    result.selection_metric = selection;
    return result;
  }
  if (stopped_early) {
    log(absl::StrFormat("early stopping: no better validation %s for %d epochs", selection,
                        s.early_stopping_patience));
  }

  result.best_epoch = ck.best_epoch;
  result.best_metrics = ck.best_metrics;
  result.selection_metric = selection;
  result.samples_per_second = train_seconds > 0 ? samples / train_seconds : 0;
  result.loader_wait_fraction = train_seconds > 0 ? wait_seconds / train_seconds : 0;
  if (lead) {
    if (!ck.best_weights.empty()) {
      MATALIGN_RETURN_IF_ERROR(encoders::LoadModuleWeights(
          *model, std::vector<char>(ck.best_weights.begin(), ck.best_weights.end()),
          "best epoch weights"));
    }
    encoders::BundleMetadata meta;
    meta.train_config = config_json["train"];
    meta.train_config["tokenizer"] = config_json["tokenizer"];
    meta.train_config["world_size"] = world;
    meta.data_hash = data.data_hash;
    meta.metrics = {{"best_epoch", ck.best_epoch},        {"val", ck.best_metrics},
                    {"selection_metric", selection},      {"chance_recall", nullptr},
                    {"train_records", train_rows.size()}, {"val_records", val_rows.size()}};
    const std::string n_key = "n_g2t";
    if (ck.best_metrics.contains(n_key)) {
      meta.metrics["chance_recall"] =
          std::min(1.0, s.recall_k / ck.best_metrics[n_key].get<double>());
    }
    model->to(torch::kCPU);
    MATALIGN_ASSIGN_OR_RETURN(
        result.bundle_dir,
        encoders::SaveModelBundle(options.out, model, *tokenizer, data.normalization, meta));
    log(absl::StrFormat("bundle: %s (best epoch %d); %.1f samples/s, loader wait %.1f%%",
                        result.bundle_dir, ck.best_epoch, result.samples_per_second,
                        100 * result.loader_wait_fraction));
  }
  MATALIGN_RETURN_IF_ERROR(group->Barrier());
  return result;
}

// LibTorch reports errors by exception (also outside the training step: validation,
// batching, checkpoints); none may escape as a crash.
absl::StatusOr<TrainResult> Train(const TrainConfig& config, const TrainerOptions& options) {
  try {
    return TrainUnguarded(config, options);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("training failed: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("training failed: ", e.what()));
  }
}

}  // namespace matalign::train
