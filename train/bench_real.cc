// `mmtrain bench-real perov5` and `mmtrain bench-real sem`: glue between the importers
// (corpus/importers.h), the trainer (train/trainer.h) and the evaluation (train/evaluate.h).
// Everything a benchmark derives (imported manifests, split manifests, synthetic pre-training
// corpus, bundles, per-run evaluation figures) goes under OUT/work/<benchmark>/.
#include "train/bench_real.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "corpus/importers.h"
#include "corpus/manifest.h"
#include "corpus/recipe_stats.h"
#include "corpus/rng.h"
#include "corpus/synth.h"
#include "corpus/synthesis_text.h"
#include "eval/metrics.h"
#include "materials/structure_io.h"
#include "train/config.h"
#include "train/evaluate.h"
#include "train/report.h"
#include "train/trainer.h"
#include "xrd/simulate.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Json = nlohmann::json;

// Share of the training data held out as the test split when no test file is given.
constexpr double kTestFraction = 0.1;
// Epochs of contrastive pre-training (perov5) unless --epochs says otherwise: an epoch over
// texts and XRD images costs 20-40x one of the structure encoder + head alone, and the
// validation structure->text recall levels off after ~25 epochs.
constexpr int kMaxPretrainEpochs = 30;
// The perov5 property and its unit.
constexpr char kPerov5Property[] = "heat_all";
constexpr char kPerov5Unit[] = "eV/cell";

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// A figure for report.json: NaN / infinities become null.
Json Figure(double v) { return std::isfinite(v) ? Json(v) : Json(); }

// A number of a JSON report, NaN when absent or null.
double Number(const Json& j, const std::string& key) {
  if (!j.is_object()) return NAN;
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : NAN;
}

// Finds `relative` (e.g. "configs/bench-sem.yaml") in the source tree: in the current
// directory, then in the ancestors of the running executable (build/bin/mmtrain and
// build/tests/train_test both lie two levels below the tree).
absl::StatusOr<std::string> FindSourceFile(const std::string& relative) {
  std::vector<fs::path> roots;
#ifdef MATALIGN_SOURCE_DIR
  roots.push_back(MATALIGN_SOURCE_DIR);
#endif
  std::error_code ec;
  roots.push_back(fs::current_path(ec));
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    for (fs::path p = exe.parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      roots.push_back(p);
    }
  }
  for (const fs::path& root : roots) {
    fs::path candidate = root / relative;
    if (fs::is_regular_file(candidate, ec)) return candidate.string();
  }
  return absl::NotFoundError(
      absl::StrCat(relative,
                   " not found in the current directory or above the executable (run from the "
                   "source tree or pass --config)"));
}

// The benchmark's training config: `options.config`, else configs/<preset>, with the epochs
// and seed of the options applied. Returns the path it read in `*path`.
absl::StatusOr<TrainConfig> LoadBenchConfig(const BenchRealOptions& options,
                                            const std::string& preset, std::string* path) {
  if (!options.config.empty()) {
    *path = options.config;
  } else {
    MATALIGN_ASSIGN_OR_RETURN(*path, FindSourceFile("configs/" + preset));
  }
  MATALIGN_ASSIGN_OR_RETURN(TrainConfig config, LoadTrainConfig(*path));
  if (options.epochs > 0) config.train.epochs = options.epochs;
  config.train.seed = options.seed;
  return config;
}

// Starts the working directory OUT/work/<name> afresh (files of an earlier run into the same
// OUT would otherwise mix with this one's).
absl::StatusOr<std::string> FreshWorkDir(const BenchRealOptions& options, const std::string& name) {
  const fs::path dir = fs::absolute(fs::path(options.out) / "work" / name);
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (!ec) fs::create_directories(dir, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat("cannot create ", dir.string(), ": ", ec.message()));
  }
  return dir.string();
}

absl::Status WriteManifest(const std::string& path, const std::vector<corpus::Record>& records) {
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<corpus::ManifestWriter> writer,
                            corpus::ManifestWriter::Create(path));
  for (const corpus::Record& r : records) MATALIGN_RETURN_IF_ERROR(writer->Append(r));
  return writer->Close();
}

// Rewrites the image and structure paths of `record`, relative to directory `from`, so that
// they are relative to directory `to` (both absolute).
void RebasePaths(const fs::path& from, const fs::path& to, corpus::Record* record) {
  auto rebase = [&](std::string* path) {
    *path = (from / *path).lexically_normal().lexically_relative(to).string();
  };
  for (corpus::ImageRef& image : record->images) rebase(&image.path);
  if (record->structure && !record->structure->path.empty()) rebase(&record->structure->path);
}

// Runs an importer into `dir` and reads back its records.
struct Imported {
  std::vector<corpus::Record> records;
  corpus::ImportSummary summary;
};
absl::StatusOr<Imported> ImportInto(absl::string_view kind, const std::string& input,
                                    const std::string& dir) {
  Imported out;
  MATALIGN_ASSIGN_OR_RETURN(out.summary, corpus::Import(kind, {input}, dir));
  MATALIGN_ASSIGN_OR_RETURN(out.records, corpus::ReadManifest(out.summary.manifest_path));
  if (out.records.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(input, ": no usable item (", out.summary.skipped, " skipped",
                     out.summary.skipped_reasons.empty()
                         ? std::string()
                         : absl::StrCat(", e.g. ", out.summary.skipped_reasons.front()),
                     ")"));
  }
  return out;
}

// Keeps at most `max_items` records (0 = all), a random subset drawn with `seed` in file order.
void LimitItems(int max_items, uint64_t seed, std::vector<corpus::Record>* records) {
  if (max_items <= 0 || records->size() <= static_cast<size_t>(max_items)) return;
  std::vector<size_t> order(records->size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(seed);
  std::shuffle(order.begin(), order.end(), rng);
  order.resize(max_items);
  std::sort(order.begin(), order.end());
  std::vector<corpus::Record> kept;
  for (size_t i : order) kept.push_back(std::move((*records)[i]));
  *records = std::move(kept);
}

// Marks round(fraction * n) of `rows` (at least 1 when n >= 2), drawn with `rng`, with
// `split`.
void HoldOut(std::vector<int> rows, double fraction, corpus::Split split, std::mt19937_64& rng,
             std::vector<corpus::Record>* records) {
  std::shuffle(rows.begin(), rows.end(), rng);
  size_t n = static_cast<size_t>(std::lround(fraction * static_cast<double>(rows.size())));
  if (n == 0 && rows.size() >= 2) n = 1;
  for (size_t i = 0; i < n && i < rows.size(); ++i) (*records)[rows[i]].split = split;
}

// As HoldOut, per class of `labels` (one per record), so the held-out part keeps the class
// shares; a class with a single record in `rows` stays in training.
void StratifiedHoldOut(const std::vector<int>& rows, const std::vector<int>& labels,
                       double fraction, corpus::Split split, std::mt19937_64& rng,
                       std::vector<corpus::Record>* records) {
  std::map<int, std::vector<int>> by_class;
  for (int r : rows) by_class[labels[r]].push_back(r);
  for (auto& [label, members] : by_class) {
    std::shuffle(members.begin(), members.end(), rng);
    size_t n = static_cast<size_t>(std::lround(fraction * static_cast<double>(members.size())));
    n = std::min(n, members.size() - 1);
    for (size_t i = 0; i < n; ++i) (*records)[members[i]].split = split;
  }
}

std::map<std::string, int> SplitCounts(const std::vector<corpus::Record>& records) {
  std::map<std::string, int> counts = {{"train", 0}, {"val", 0}, {"test", 0}};
  for (const corpus::Record& r : records) ++counts[std::string(corpus::SplitName(r.split))];
  return counts;
}

// One training run and the evaluation of its bundle on the test manifest.
struct Run {
  TrainResult train;
  double train_seconds = 0;
  Json eval;  // EvalResult::report
  double eval_seconds = 0;
};

absl::StatusOr<Run> TrainAndEvaluate(const TrainConfig& config, const std::string& train_manifest,
                                     const std::string& test_manifest, const std::string& dir,
                                     const std::string& init_from,
                                     const BenchRealOptions& options) {
  Run run;
  TrainerOptions to;
  to.data = train_manifest;
  to.out = (fs::path(dir) / "models").string();
  to.run_dir = (fs::path(dir) / "run").string();
  to.init_from = init_from;
  to.device = options.device;
  to.threads = options.threads;
  to.log_every = 0;  // epoch lines only
  auto start = Clock::now();
  MATALIGN_ASSIGN_OR_RETURN(run.train, Train(config, to));
  run.train_seconds = Seconds(start);
  if (test_manifest.empty()) return run;
  EvalOptions eo;
  eo.split = "test";
  eo.device = options.device;
  eo.threads = options.threads;
  eo.seed = options.seed;
  start = Clock::now();
  MATALIGN_ASSIGN_OR_RETURN(EvalResult result, Evaluate(run.train.bundle_dir, test_manifest, eo));
  run.eval_seconds = Seconds(start);
  run.eval = std::move(result.report);
  MATALIGN_RETURN_IF_ERROR(
      WriteFileAtomic((fs::path(dir) / "eval.json").string(),
                      run.eval.dump(2, ' ', false, Json::error_handler_t::replace)));
  return run;
}

// What report.json says about a training run.
Json TrainingJson(const Run& run) {
  return {{"bundle", run.train.bundle_dir},
          {"seconds", run.train_seconds},
          {"epochs_run", run.train.epochs_run},
          {"best_epoch", run.train.best_epoch},
          {"selection_metric", run.train.selection_metric},
          {"val", run.train.best_metrics},
          {"samples_per_second", run.train.samples_per_second}};
}

// Where the benchmark ran (the training times depend on it).
Json MachineJson(const BenchRealOptions& options) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return {{"device", options.device},
          {"threads", options.threads > 0 ? options.threads : hardware},
          {"hardware_threads", hardware}};
}

// The closing line of report.md: total time and where it ran.
std::string MachineMarkdown(const Json& r) {
  return absl::StrCat("\nTotal ", FormatFigure(r["seconds"]), " s (device ",
                      r["machine"]["device"].get<std::string>(), ", ",
                      FormatFigure(r["machine"]["threads"]), " thread(s)); configuration `",
                      r["config_file"].get<std::string>(), "`.\n");
}

// ---- perov5 --------------------------------------------------------------------------------

// Purposes of the random streams of the synthetic pre-training corpus (corpus/rng.h).
enum SynthPurpose : uint64_t { kRoute = 1, kRecipe = 2, kXrd = 3 };

// A noisy simulated powder pattern of `structure`, as the synthetic corpus draws them
// (random peak width, air-scatter and flat background, counting noise), rendered as a
// side x side PNG: square, so preprocessing keeps the whole 5-90 degree range.
absl::StatusOr<std::string> NoisyXrdPng(const materials::Structure& structure, int side,
                                        corpus::Rng& rng) {
  xrd::SimulationOptions sim;
  sim.step = 0.04;
  sim.fwhm = corpus::Uniform(rng, 0.08, 0.2);
  MATALIGN_ASSIGN_OR_RETURN(xrd::XrdPattern pattern, xrd::SimulatePattern(structure, sim));
  const double b0 = corpus::Uniform(rng, 2, 8), b1 = corpus::Uniform(rng, 5, 25);
  const double counts = corpus::Uniform(rng, 3, 10);
  for (size_t i = 0; i < pattern.two_theta.size(); ++i) {
    const double mean =
        (pattern.intensity[i] + b0 + b1 * std::exp(-pattern.two_theta[i] / 15.0)) * counts;
    pattern.intensity[i] = std::max(0.0, mean + std::sqrt(mean) * corpus::Normal(rng));
  }
  return corpus::RenderXrdPng(pattern, side, side);
}

// The pre-training corpus: for every record of `records` (perov5 structures of the train and
// val splits) the same structure with a synthetic synthesis text (route and recipe drawn by
// corpus/synthesis_text.h from its composition) and a simulated XRD image, written to
// `dir`/manifest.jsonl. No property is copied: pre-training sees no label. A record whose
// text or pattern cannot be made keeps the rest (counted in `problems`).
struct PretrainCorpus {
  std::string manifest;
  int records = 0;
  int problems = 0;
  std::vector<std::string> problem_samples;  // the first few
};
absl::StatusOr<PretrainCorpus> WritePretrainCorpus(const std::vector<corpus::Record>& records,
                                                   const std::string& dir, int image_side,
                                                   const BenchRealOptions& options) {
  MATALIGN_ASSIGN_OR_RETURN(std::string stats_path, FindSourceFile("data/recipe_stats.json"));
  MATALIGN_ASSIGN_OR_RETURN(corpus::RecipeStats stats, corpus::LoadRecipeStats(stats_path));
  std::vector<corpus::Record> out(records.size());
  std::vector<std::vector<std::string>> problems(records.size());
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i = next++; i < records.size(); i = next++) {
      const corpus::Record& in = records[i];
      corpus::Record& r = out[i];
      r.id = in.id;
      r.split = in.split;
      r.material_class = in.material_class;
      r.composition = in.composition;
      r.structure = in.structure;
      r.source = absl::StrCat("synthetic text and XRD of ", in.source);
      corpus::Rng route_rng = corpus::StreamFor(options.seed, i, kRoute);
      const std::string route = corpus::ChooseRoute(in.material_class, in.composition, route_rng);
      corpus::Rng recipe_rng = corpus::StreamFor(options.seed, i, kRecipe);
      absl::StatusOr<corpus::SynthesisRecipe> recipe =
          corpus::GenerateSynthesis(in.composition, route, stats, recipe_rng);
      if (recipe.ok()) {
        r.synthesis = std::move(*recipe);
      } else {
        problems[i].push_back(absl::StrCat(in.id, ": text: ", recipe.status().message()));
      }
      absl::Status xrd = [&]() -> absl::Status {
        if (!in.structure) return absl::InvalidArgumentError("no structure");
        materials::StructureReadOptions ro;
        ro.format = materials::StructureFormat::kCif;
        MATALIGN_ASSIGN_OR_RETURN(materials::Structure structure,
                                  materials::ParseStructure(in.structure->text, in.id, ro));
        corpus::Rng xrd_rng = corpus::StreamFor(options.seed, i, kXrd);
        MATALIGN_ASSIGN_OR_RETURN(std::string png, NoisyXrdPng(structure, image_side, xrd_rng));
        const std::string rel = absl::StrCat("xrd/", in.id, ".png");
        MATALIGN_RETURN_IF_ERROR(WriteFileAtomic((fs::path(dir) / rel).string(), png));
        r.images.push_back({rel, "xrd"});
        return absl::OkStatus();
      }();
      if (!xrd.ok()) problems[i].push_back(absl::StrCat(in.id, ": XRD: ", xrd.message()));
    }
  };
  const int threads = options.threads > 0
                          ? options.threads
                          : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();
  PretrainCorpus corpus;
  for (const std::vector<std::string>& p : problems) {
    for (const std::string& message : p) {
      if (corpus.problem_samples.size() < 5) corpus.problem_samples.push_back(message);
      ++corpus.problems;
    }
  }
  corpus.records = static_cast<int>(out.size());
  corpus.manifest = (fs::path(dir) / "manifest.jsonl").string();
  MATALIGN_RETURN_IF_ERROR(WriteManifest(corpus.manifest, out));
  return corpus;
}

// The pre-training config: `config`'s model without heads, trained with the structure-text,
// structure-XRD and text-XRD InfoNCE terms only (selected by structure->text recall), for
// --epochs or at most kMaxPretrainEpochs epochs.
TrainConfig PretrainConfig(const TrainConfig& config, const BenchRealOptions& options) {
  TrainConfig p = config;
  p.train.epochs =
      options.epochs > 0 ? options.epochs : std::min(config.train.epochs, kMaxPretrainEpochs);
  p.model.heads.properties.clear();
  p.model.heads.defect_classes.clear();
  p.train.image_kinds = {"xrd"};
  p.train.loss_weights = LossWeights();
  p.train.loss_weights.property_graph = 0;
  p.train.loss_weights.property_text = 0;
  p.train.loss_weights.property_head = 0;
  p.train.loss_weights.defect_head = 0;
  p.train.selection_metric = "";
  return p;
}

// The figures of the heat_all regression of an evaluation report.
Json RegressionJson(const Run& run) {
  Json j = Json::object();
  if (run.eval.contains("regression") && run.eval["regression"].contains(kPerov5Property)) {
    j = run.eval["regression"][kPerov5Property];
  }
  j["training"] = TrainingJson(run);
  j["eval_seconds"] = run.eval_seconds;
  return j;
}

std::string Perov5Markdown(const Json& r) {
  std::string md = "# bench-real perov5: heat of formation (heat_all, eV per 5-atom cell)\n\n";
  const Json& d = r["data"];
  absl::StrAppend(
      &md, "Training data: `", d["train_file"].get<std::string>(), "` (", FormatFigure(d["train"]),
      " train, ", FormatFigure(d["val"]), " validation); test: ",
      d["test_file"].is_null() ? "a held-out part of the training file"
                               : absl::StrCat("`", d["test_file"].get<std::string>(), "`"),
      " (", FormatFigure(d["test"]), " structures). Seed ", FormatFigure(r["seed"]), ".\n\n");
  std::vector<std::vector<std::string>> rows;
  auto ours = [&](const std::string& name, const Json& j, const std::string& seconds) {
    Json val = j.contains("training") ? j["training"]["val"].value("mae_heat_all", Json()) : Json();
    rows.push_back({name, FormatFigure(j.value("mae", Json())),
                    FormatFigure(j.value("rmse", Json())),
                    FormatFigure(j.value("spearman", Json())), FormatFigure(j.value("n", Json())),
                    FormatFigure(val), seconds});
  };
  ours("MatAlign structure encoder + head", r["plain"],
       FormatFigure(r["plain"]["training"]["seconds"]));
  ours("MatAlign, contrastive pre-training (synthetic text + XRD) then fine-tuning",
       r["pretrained"],
       absl::StrCat(FormatFigure(r["pretrained"]["training"]["seconds"]), " + pre-training ",
                    FormatFigure(r["pretrained"]["pretraining"]["seconds"])));
  ours("dummy (mean of the training split)", r["dummy"], "0");
  md += MarkdownTable(
      {"model (this split)", "MAE", "RMSE", "Spearman", "n", "val MAE (best epoch)", "training s"},
      rows);
  absl::StrAppend(&md, "\nMAE and RMSE in ", kPerov5Unit,
                  " on the test split. On this split and seed, contrastive pre-training ",
                  r["pretraining_lowers_mae"].get<bool>() ? "lowers" : "does not lower",
                  " the test MAE (change ", FormatFigure(r["pretraining_mae_change"]), " ",
                  kPerov5Unit, "; one run each: compare with the spread over seeds).\n\n");
  rows.clear();
  for (const Json& ref : r["reference"]) {
    rows.push_back({ref["model"].get<std::string>(), FormatFigure(ref["mae"])});
  }
  md += "Reference points (Matbench perovskites, a larger training set, other split):\n\n";
  md += MarkdownTable({"model", "MAE"}, rows);
  md += MachineMarkdown(r);
  return md;
}

// ---- SEM -------------------------------------------------------------------------------------

// A classification task on the SEM labels: the labels.csv column whose value is predicted.
struct SemTask {
  const char* name;
  const char* column;
  const char* title;
};
constexpr SemTask kSemTasks[] = {{"composition_state", "class", "composition x state"},
                                 {"state", "state", "state"}};

// Mean, population standard deviation and count of the finite values.
Json MeanStd(const std::vector<double>& values) {
  double sum = 0, sq = 0;
  int n = 0;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    sum += v;
    sq += v * v;
    ++n;
  }
  if (n == 0) return {{"mean", nullptr}, {"std", nullptr}, {"n", 0}};
  const double mean = sum / n;
  return {{"mean", mean}, {"std", std::sqrt(std::max(0.0, sq / n - mean * mean))}, {"n", n}};
}

std::string MeanStdText(const Json& j) {
  if (j["mean"].is_null()) return "n/a";
  return absl::StrCat(FormatFigure(j["mean"]), " ± ", FormatFigure(j["std"]));
}

// The sorted class names of the `column` label of `records`. InvalidArgument (naming
// `source`) with fewer than 2.
absl::StatusOr<std::vector<std::string>> TaskClasses(const SemTask& task,
                                                     const std::vector<corpus::Record>& records,
                                                     const std::string& source) {
  std::set<std::string> names;
  for (const corpus::Record& r : records) {
    auto it = r.labels.find(task.column);
    if (it != r.labels.end()) names.insert(it->second);
  }
  if (names.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": the '", task.column, "' column has ",
                                                   names.size(), " class(es); need 2"));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

// Sets labels.defect of `record` (what the defect head classifies) to its `column` label,
// or removes it when the record has none. Returns the label's index in `classes`, -1 when
// absent or not one of them.
int SetTaskLabel(const SemTask& task, const std::vector<std::string>& classes,
                 corpus::Record* record) {
  auto it = record->labels.find(task.column);
  if (it == record->labels.end()) {
    record->labels.erase("defect");
    return -1;
  }
  record->labels["defect"] = it->second;
  auto pos = std::find(classes.begin(), classes.end(), it->second);
  return pos == classes.end() ? -1 : static_cast<int>(pos - classes.begin());
}

// The figures of one SEM run (a fold or the test folder).
Json SemRunJson(const Run& run, int fold, const std::map<std::string, int>& counts) {
  Json d = run.eval.contains("defect") ? run.eval["defect"] : Json::object();
  return {{"fold", fold < 0 ? Json() : Json(fold)},
          {"train", counts.at("train")},
          {"val", counts.at("val")},
          {"test", counts.at("test")},
          {"n", d.value("n", Json())},
          {"accuracy", d.value("accuracy", Json())},
          {"f1_macro", d.value("f1_macro", Json())},
          {"roc_auc_ovr", d.value("roc_auc_ovr", Json())},
          {"confusion", d.value("confusion", Json())},
          {"training", TrainingJson(run)},
          {"eval_seconds", run.eval_seconds}};
}

// Runs one SEM task: cross-validation over `train_records`, or training on them and testing
// on `test_records` when those are given. Image paths of both are relative to `import_dir`
// (and `test_import_dir`).
absl::StatusOr<Json> RunSemTask(const SemTask& task, const TrainConfig& base_config,
                                std::vector<corpus::Record> train_records,
                                const std::string& import_dir,
                                std::vector<corpus::Record> test_records,
                                const std::string& test_import_dir, const std::string& work,
                                const BenchRealOptions& options) {
  const bool cv = options.test.empty();
  MATALIGN_ASSIGN_OR_RETURN(std::vector<std::string> classes,
                            TaskClasses(task, train_records, options.train));
  std::vector<int> labels, test_labels;
  for (corpus::Record& r : train_records) labels.push_back(SetTaskLabel(task, classes, &r));
  for (corpus::Record& r : test_records) test_labels.push_back(SetTaskLabel(task, classes, &r));
  TrainConfig config = base_config;
  config.model.heads.defect_classes = classes;

  // Fold of every labelled training record; -1 = unlabelled (left out).
  std::vector<int> labelled;
  std::vector<int> labelled_classes;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= 0) {
      labelled.push_back(static_cast<int>(i));
      labelled_classes.push_back(labels[i]);
    }
  }
  std::vector<int> fold_of(train_records.size(), -1);
  const int runs = cv ? options.folds : 1;
  if (cv) {
    if (static_cast<int>(labelled.size()) < options.folds) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.train, ": ", labelled.size(), " labelled images for ", options.folds, " folds"));
    }
    std::vector<int> folds = eval::StratifiedFolds(labelled_classes, options.folds, options.seed);
    for (size_t k = 0; k < labelled.size(); ++k) fold_of[labelled[k]] = folds[k];
  } else {
    for (int i : labelled) fold_of[i] = 0;
  }

  Json fold_reports = Json::array();
  std::vector<double> accuracy, f1, auc;
  std::vector<std::vector<int64_t>> confusion(classes.size(),
                                              std::vector<int64_t>(classes.size(), 0));
  double train_seconds = 0;
  for (int k = 0; k < runs; ++k) {
    const fs::path dir = fs::path(work) / task.name / (cv ? absl::StrCat("fold-", k + 1) : "test");
    std::vector<corpus::Record> train_part, test_part;
    std::vector<int> train_rows;
    std::vector<int> part_labels;
    for (size_t i = 0; i < train_records.size(); ++i) {
      if (fold_of[i] < 0) continue;
      corpus::Record r = train_records[i];
      RebasePaths(import_dir, dir, &r);
      if (cv && fold_of[i] == k) {
        r.split = corpus::Split::kTest;
        test_part.push_back(std::move(r));
      } else {
        r.split = corpus::Split::kTrain;
        train_rows.push_back(static_cast<int>(train_part.size()));
        part_labels.push_back(labels[i]);
        train_part.push_back(std::move(r));
      }
    }
    if (!cv) {
      for (corpus::Record r : test_records) {
        RebasePaths(test_import_dir, dir, &r);
        r.split = corpus::Split::kTest;
        test_part.push_back(std::move(r));
      }
    }
    std::mt19937_64 rng(options.seed * 7919 + static_cast<uint64_t>(k));
    StratifiedHoldOut(train_rows, part_labels, options.val_fraction, corpus::Split::kVal, rng,
                      &train_part);
    std::map<std::string, int> counts = SplitCounts(train_part);
    counts["test"] = static_cast<int>(test_part.size());
    const std::string train_manifest = (dir / "train.jsonl").string();
    const std::string test_manifest = (dir / "test.jsonl").string();
    MATALIGN_RETURN_IF_ERROR(WriteManifest(train_manifest, train_part));
    MATALIGN_RETURN_IF_ERROR(WriteManifest(test_manifest, test_part));
    const std::string what = cv ? absl::StrFormat("fold %d/%d", k + 1, runs) : "test folder";
    std::fprintf(
        stderr, "bench-real sem: task %s (%zu classes), %s: %d train, %d val, %d test images\n",
        task.title, classes.size(), what.c_str(), counts["train"], counts["val"], counts["test"]);
    MATALIGN_ASSIGN_OR_RETURN(Run run, TrainAndEvaluate(config, train_manifest, test_manifest,
                                                        dir.string(), "", options));
    train_seconds += run.train_seconds;
    Json fold = SemRunJson(run, cv ? k + 1 : -1, counts);
    accuracy.push_back(Number(fold, "accuracy"));
    f1.push_back(Number(fold, "f1_macro"));
    auc.push_back(Number(fold, "roc_auc_ovr"));
    const Json& c = fold["confusion"];
    if (c.is_array() && c.size() == classes.size()) {
      for (size_t t = 0; t < classes.size(); ++t) {
        for (size_t p = 0; p < classes.size() && p < c[t].size(); ++p) {
          confusion[t][p] += c[t][p].get<int64_t>();
        }
      }
    }
    std::fprintf(stderr, "bench-real sem: task %s, %s: accuracy %s, macro F1 %s, ROC-AUC %s\n",
                 task.title, what.c_str(), FormatFigure(fold["accuracy"]).c_str(),
                 FormatFigure(fold["f1_macro"]).c_str(), FormatFigure(fold["roc_auc_ovr"]).c_str());
    fold_reports.push_back(std::move(fold));
  }

  // Pooled accuracy of the summed confusion matrix, and that of always predicting the most
  // frequent training class.
  std::map<int, int64_t> class_counts;
  for (int l : labels) {
    if (l >= 0) ++class_counts[l];
  }
  int majority = 0;
  int64_t majority_count = 0;
  for (const auto& [l, n] : class_counts) {
    if (n > majority_count) {
      majority = l;
      majority_count = n;
    }
  }
  int64_t total = 0, correct = 0, majority_correct = 0;
  for (size_t t = 0; t < classes.size(); ++t) {
    for (size_t p = 0; p < classes.size(); ++p) {
      total += confusion[t][p];
      if (static_cast<int>(t) == majority) majority_correct += confusion[t][p];
    }
    correct += confusion[t][t];
  }
  Json counts_json = Json::object();
  for (const auto& [l, n] : class_counts) counts_json[classes[l]] = n;
  int64_t unlabelled_test = 0;
  for (int l : test_labels) unlabelled_test += l < 0;
  return Json{
      {"title", task.title},
      {"label_column", task.column},
      {"classes", classes},
      {"class_counts", counts_json},
      {"evaluation", cv ? absl::StrCat(options.folds, "-fold stratified cross-validation")
                        : std::string("test folder")},
      {"runs", fold_reports},
      {"accuracy", MeanStd(accuracy)},
      {"f1_macro", MeanStd(f1)},
      {"roc_auc_ovr", MeanStd(auc)},
      {"confusion", confusion},
      {"test_items", total},
      {"test_items_without_known_class", unlabelled_test},
      {"pooled_accuracy", total > 0 ? Json(static_cast<double>(correct) / total) : Json()},
      {"majority_class", classes[majority]},
      {"majority_class_accuracy",
       total > 0 ? Json(static_cast<double>(majority_correct) / total) : Json()},
      {"train_seconds", train_seconds},
  };
}

std::string SemMarkdown(const Json& r) {
  std::string md = "# bench-real sem: NCM cathode SEM micrographs\n\n";
  const Json& d = r["data"];
  absl::StrAppend(&md, "Images: `", d["train_file"].get<std::string>(), "` (",
                  FormatFigure(d["train_images"]), ")",
                  d["test_file"].is_null()
                      ? std::string()
                      : absl::StrCat("; test `", d["test_file"].get<std::string>(), "` (",
                                     FormatFigure(d["test_images"]), ")"),
                  ". Image encoder + classification head; seed ", FormatFigure(r["seed"]), ".\n\n");
  std::vector<std::vector<std::string>> rows;
  for (const SemTask& task : kSemTasks) {
    const Json& t = r["tasks"][task.name];
    rows.push_back({t["title"].get<std::string>(), FormatFigure(t["classes"].size()),
                    t["evaluation"].get<std::string>(), MeanStdText(t["accuracy"]),
                    MeanStdText(t["f1_macro"]), MeanStdText(t["roc_auc_ovr"]),
                    FormatFigure(t["majority_class_accuracy"]), FormatFigure(t["train_seconds"])});
  }
  md += MarkdownTable({"task", "classes", "evaluation", "accuracy", "macro F1", "ROC-AUC (OvR)",
                       "majority class", "training s"},
                      rows);
  md += "\nMean ± standard deviation over the runs (folds).\n";
  for (const SemTask& task : kSemTasks) {
    const Json& t = r["tasks"][task.name];
    absl::StrAppend(&md, "\n## Confusion matrix: ", task.title,
                    " (rows truth, columns prediction, summed over the runs)\n\n");
    std::vector<std::string> header = {"truth \\ predicted"};
    for (const Json& c : t["classes"]) header.push_back(c.get<std::string>());
    std::vector<std::vector<std::string>> matrix;
    for (size_t i = 0; i < t["classes"].size(); ++i) {
      std::vector<std::string> row = {t["classes"][i].get<std::string>()};
      for (const Json& v : t["confusion"][i]) row.push_back(FormatFigure(v));
      matrix.push_back(std::move(row));
    }
    md += MarkdownTable(header, matrix);
  }
  md += MachineMarkdown(r);
  return md;
}

}  // namespace

absl::Status BenchRealOptions::Validate() const {
  if (train.empty()) return absl::InvalidArgumentError("--train is required");
  if (out.empty()) return absl::InvalidArgumentError("--out is required");
  if (epochs < 0) return absl::InvalidArgumentError("--epochs must be >= 0");
  if (max_items < 0) return absl::InvalidArgumentError("--max-items must be >= 0");
  if (folds < 2 || folds > 100) return absl::InvalidArgumentError("--folds must be in [2, 100]");
  if (!(val_fraction > 0 && val_fraction <= 0.5)) {
    return absl::InvalidArgumentError("--val-fraction must be in (0, 0.5]");
  }
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("--device '", device, "' (expected auto, cpu or cuda)"));
  }
  if (threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<Json> BenchRealPerov5(const BenchRealOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const auto start = Clock::now();
  std::string config_path;
  MATALIGN_ASSIGN_OR_RETURN(TrainConfig config,
                            LoadBenchConfig(options, "bench-perov5.yaml", &config_path));
  const auto& heads = config.model.heads.properties;
  if (std::find(heads.begin(), heads.end(), kPerov5Property) == heads.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path, ": model.heads.properties must include heat_all"));
  }
  MATALIGN_ASSIGN_OR_RETURN(std::string work, FreshWorkDir(options, "perov5"));

  // Data: the training CSV, and the test CSV or a held-out part of the training one.
  std::fprintf(stderr, "bench-real perov5: importing %s\n", options.train.c_str());
  MATALIGN_ASSIGN_OR_RETURN(Imported train,
                            ImportInto("perov5", options.train, work + "/import-train"));
  LimitItems(options.max_items, options.seed, &train.records);
  std::vector<corpus::Record> records = std::move(train.records);
  for (corpus::Record& r : records) r.split = corpus::Split::kTrain;
  std::vector<corpus::Record> test_records;
  Imported test;
  std::mt19937_64 rng(options.seed);
  if (!options.test.empty()) {
    std::fprintf(stderr, "bench-real perov5: importing %s\n", options.test.c_str());
    MATALIGN_ASSIGN_OR_RETURN(test, ImportInto("perov5", options.test, work + "/import-test"));
    LimitItems(options.max_items, options.seed + 1, &test.records);
    test_records = std::move(test.records);
  } else {
    std::vector<int> all(records.size());
    std::iota(all.begin(), all.end(), 0);
    HoldOut(all, kTestFraction, corpus::Split::kTest, rng, &records);
    std::vector<corpus::Record> kept;
    for (corpus::Record& r : records) {
      (r.split == corpus::Split::kTest ? test_records : kept).push_back(std::move(r));
    }
    records = std::move(kept);
  }
  for (corpus::Record& r : test_records) r.split = corpus::Split::kTest;
  {
    std::vector<int> all(records.size());
    std::iota(all.begin(), all.end(), 0);
    HoldOut(all, options.val_fraction, corpus::Split::kVal, rng, &records);
  }
  const std::string train_manifest = work + "/data/train.jsonl";
  const std::string test_manifest = work + "/data/test.jsonl";
  MATALIGN_RETURN_IF_ERROR(WriteManifest(train_manifest, records));
  MATALIGN_RETURN_IF_ERROR(WriteManifest(test_manifest, test_records));
  std::map<std::string, int> counts = SplitCounts(records);
  counts["test"] = static_cast<int>(test_records.size());
  std::fprintf(stderr, "bench-real perov5: %d train, %d val, %d test structures\n", counts["train"],
               counts["val"], counts["test"]);

  // Dummy baseline: the mean of the training split.
  double mean = 0;
  int n_mean = 0;
  for (const corpus::Record& r : records) {
    auto it = r.properties.find(kPerov5Property);
    if (r.split != corpus::Split::kTrain || it == r.properties.end()) continue;
    mean += it->second;
    ++n_mean;
  }
  mean /= std::max(1, n_mean);
  std::vector<double> predicted, truth;
  for (const corpus::Record& r : test_records) {
    auto it = r.properties.find(kPerov5Property);
    if (it == r.properties.end()) continue;
    predicted.push_back(mean);
    truth.push_back(it->second);
  }
  const eval::RegressionMetrics dummy = eval::Regression(predicted, truth);

  // 1. The structure encoder + head, from scratch.
  std::fprintf(stderr, "bench-real perov5: run 1/3: structure encoder + heat_all head\n");
  MATALIGN_ASSIGN_OR_RETURN(Run plain, TrainAndEvaluate(config, train_manifest, test_manifest,
                                                        work + "/plain", "", options));
  std::fprintf(stderr, "bench-real perov5: plain MAE %s eV/cell\n",
               FormatFigure(RegressionJson(plain).value("mae", Json())).c_str());

  // 2. Contrastive pre-training on synthetic text / XRD of the train and val structures.
  std::fprintf(stderr,
               "bench-real perov5: run 2/3: contrastive pre-training on synthetic text and XRD of "
               "the %d train + val structures\n",
               counts["train"] + counts["val"]);
  auto corpus_start = Clock::now();
  MATALIGN_ASSIGN_OR_RETURN(PretrainCorpus pretrain_corpus,
                            WritePretrainCorpus(records, work + "/pretrain-corpus",
                                                config.model.image.input_size, options));
  const double corpus_seconds = Seconds(corpus_start);
  const TrainConfig pretrain_config = PretrainConfig(config, options);
  MATALIGN_ASSIGN_OR_RETURN(Run pretrain,
                            TrainAndEvaluate(pretrain_config, pretrain_corpus.manifest, "",
                                             work + "/pretrain", "", options));

  // 3. Fine-tuning from the pre-trained bundle, on the same data as run 1.
  std::fprintf(stderr, "bench-real perov5: run 3/3: fine-tuning from %s\n",
               pretrain.train.bundle_dir.c_str());
  MATALIGN_ASSIGN_OR_RETURN(
      Run finetune, TrainAndEvaluate(config, train_manifest, test_manifest, work + "/finetune",
                                     pretrain.train.bundle_dir, options));

  Json report;
  report["benchmark"] = "perov5";
  report["property"] = kPerov5Property;
  report["unit"] = kPerov5Unit;
  report["seed"] = options.seed;
  report["data"] = {
      {"train_file", options.train},
      {"test_file", options.test.empty() ? Json() : Json(options.test)},
      {"test_source", options.test.empty() ? "held-out part of the training file" : "test file"},
      {"imported", train.summary.records},
      {"skipped", train.summary.skipped},
      {"test_skipped", options.test.empty() ? Json() : Json(test.summary.skipped)},
      {"train", counts["train"]},
      {"val", counts["val"]},
      {"test", counts["test"]},
      {"max_items", options.max_items}};
  report["plain"] = RegressionJson(plain);
  report["pretrained"] = RegressionJson(finetune);
  report["pretrained"]["pretraining"] = TrainingJson(pretrain);
  report["pretrained"]["pretraining"]["corpus"] = {
      {"records", pretrain_corpus.records},
      {"modalities", {"structure", "synthetic synthesis text", "simulated XRD image"}},
      {"problems", pretrain_corpus.problems},
      {"problem_samples", pretrain_corpus.problem_samples},
      {"seconds", corpus_seconds}};
  report["dummy"] = {{"n", dummy.n},
                     {"mae", Figure(dummy.mae)},
                     {"rmse", Figure(dummy.rmse)},
                     {"training_mean", mean}};
  const double plain_mae = Number(report["plain"], "mae");
  const double pretrained_mae = Number(report["pretrained"], "mae");
  report["pretraining_mae_change"] = Figure(pretrained_mae - plain_mae);
  report["pretraining_lowers_mae"] = pretrained_mae < plain_mae;
  report["reference"] = Json::array({
      {{"model", "dummy"}, {"mae", 0.566}},
      {{"model", "CGCNN"}, {"mae", 0.045}},
      {{"model", "MEGNet"}, {"mae", 0.035}},
      {{"model", "ALIGNN"}, {"mae", 0.029}},
  });
  for (Json& ref : report["reference"]) {
    ref["source"] = "Matbench matbench_perovskites (formation energy, eV per 5-atom cell)";
  }
  report["machine"] = MachineJson(options);
  report["config_file"] = config_path;
  report["config"] = TrainConfigToJson(config);
  report["pretrain_config"] = TrainConfigToJson(pretrain_config);
  report["seconds"] = Seconds(start);
  MATALIGN_RETURN_IF_ERROR(WriteReportFiles(report, Perov5Markdown(report), options.out));
  std::fprintf(
      stderr, "bench-real perov5: MAE %s (plain) / %s (pre-trained) eV/cell; report in %s\n",
      FormatFigure(report["plain"].value("mae", Json())).c_str(),
      FormatFigure(report["pretrained"].value("mae", Json())).c_str(), options.out.c_str());
  return report;
}

absl::StatusOr<Json> BenchRealSem(const BenchRealOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const auto start = Clock::now();
  std::string config_path;
  MATALIGN_ASSIGN_OR_RETURN(TrainConfig config,
                            LoadBenchConfig(options, "bench-sem.yaml", &config_path));
  const auto& kinds = config.train.image_kinds;
  if (std::find(kinds.begin(), kinds.end(), "sem") == kinds.end() ||
      !(config.train.loss_weights.defect_head > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(config_path,
                     ": the SEM benchmark needs train.image_kinds to include sem and "
                     "train.loss_weights.defect_head > 0"));
  }
  MATALIGN_ASSIGN_OR_RETURN(std::string work, FreshWorkDir(options, "sem"));

  std::fprintf(stderr, "bench-real sem: importing %s\n", options.train.c_str());
  const std::string import_dir = work + "/import-train";
  MATALIGN_ASSIGN_OR_RETURN(Imported train, ImportInto("sem", options.train, import_dir));
  LimitItems(options.max_items, options.seed, &train.records);
  Imported test;
  const std::string test_import_dir = work + "/import-test";
  if (!options.test.empty()) {
    std::fprintf(stderr, "bench-real sem: importing %s\n", options.test.c_str());
    MATALIGN_ASSIGN_OR_RETURN(test, ImportInto("sem", options.test, test_import_dir));
    LimitItems(options.max_items, options.seed + 1, &test.records);
  }

  Json report;
  report["benchmark"] = "sem";
  report["seed"] = options.seed;
  report["data"] = {{"train_file", options.train},
                    {"test_file", options.test.empty() ? Json() : Json(options.test)},
                    {"train_images", train.records.size()},
                    {"skipped", train.summary.skipped},
                    {"test_images", test.records.size()},
                    {"test_skipped", options.test.empty() ? Json() : Json(test.summary.skipped)},
                    {"max_items", options.max_items},
                    {"folds", options.test.empty() ? Json(options.folds) : Json()},
                    {"val_fraction", options.val_fraction}};
  for (const SemTask& task : kSemTasks) {
    MATALIGN_ASSIGN_OR_RETURN(report["tasks"][task.name],
                              RunSemTask(task, config, train.records, import_dir, test.records,
                                         test_import_dir, work, options));
  }
  report["machine"] = MachineJson(options);
  report["config_file"] = config_path;
  report["config"] = TrainConfigToJson(config);
  report["seconds"] = Seconds(start);
  MATALIGN_RETURN_IF_ERROR(WriteReportFiles(report, SemMarkdown(report), options.out));
  std::fprintf(stderr, "bench-real sem: report in %s (%.0f s)\n", options.out.c_str(),
               report["seconds"].get<double>());
  return report;
}

}  // namespace matalign::train
