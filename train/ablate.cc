#include "train/ablate.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "train/config.h"
#include "train/dataset.h"
#include "train/evaluate.h"
#include "train/report.h"
#include "train/trainer.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kGeneralization = "generalization";

// The modalities ("g", "t", "v") a variant trains on.
std::set<std::string> ModalitiesOf(const std::string& variant) {
  if (variant == "structure") return {"g"};
  if (variant == "text") return {"t"};
  if (variant == "image") return {"v"};
  if (variant == "structure+text") return {"g", "t"};
  if (variant == "structure+image") return {"g", "v"};
  if (variant == "text+image") return {"t", "v"};
  return {"g", "t", "v"};
}

// One row of the comparison table: a figure of the evaluation report and the modalities a
// variant needs for it to mean something.
struct MetricRow {
  std::string label;
  std::string pointer;  // JSON pointer into the evaluation report
  std::set<std::string> needs;
  bool lower_is_better = false;
};

std::vector<MetricRow> TableRows(const TrainConfig& config, const std::vector<int>& ks) {
  std::vector<MetricRow> rows;
  for (const std::string& p : config.model.heads.properties) {
    rows.push_back({absl::StrCat("MAE ", p), absl::StrCat("/regression/", p, "/mae"), {"g"}, true});
  }
  for (const std::string& p : config.model.heads.properties) {
    rows.push_back(
        {absl::StrCat("Spearman ", p), absl::StrCat("/regression/", p, "/spearman"), {"g"}});
  }
  rows.push_back({"defect accuracy", "/defect/accuracy", {"v"}});
  rows.push_back({"defect F1 (macro)", "/defect/f1_macro", {"v"}});
  rows.push_back({"defect ROC-AUC (OvR)", "/defect/roc_auc_ovr", {"v"}});
  for (int k : ks) {
    rows.push_back(
        {absl::StrCat("recommend Recall@", k), absl::StrCat("/recommendation/recall@", k), {"t"}});
  }
  rows.push_back({"recommend nDCG@10", "/recommendation/ndcg@10", {"t"}});
  const std::pair<const char*, std::set<std::string>> pairs[] = {
      {"g2t", {"g", "t"}}, {"t2g", {"g", "t"}}, {"g2v", {"g", "v"}}, {"v2g", {"g", "v"}},
      {"t2v", {"t", "v"}}, {"v2t", {"t", "v"}}, {"p2g", {"g"}},      {"p2t", {"t"}}};
  for (const auto& [name, needs] : pairs) {
    rows.push_back({absl::StrCat("retrieval ", name, " Recall@5"),
                    absl::StrCat("/retrieval/", name, "/recall@5"), needs});
  }
  const std::pair<const char*, const char*> spaces[] = {
      {"structure", "g"}, {"text", "t"}, {"image", "v"}};
  for (const auto& [space, m] : spaces) {
    rows.push_back({absl::StrCat("silhouette ", space),
                    absl::StrCat("/embedding/", space, "/silhouette"),
                    {m}});
    rows.push_back({absl::StrCat("Davies-Bouldin ", space),
                    absl::StrCat("/embedding/", space, "/davies_bouldin"),
                    {m},
                    true});
  }
  rows.push_back({"silhouette joint", "/embedding/joint/silhouette", {"g", "t", "v"}});
  rows.push_back(
      {"Davies-Bouldin joint", "/embedding/joint/davies_bouldin", {"g", "t", "v"}, true});
  return rows;
}

// The figure of `row` for a variant, or NaN when absent or meaningless for its modalities.
double FigureOf(const nlohmann::json& eval, const MetricRow& row,
                const std::set<std::string>& modalities) {
  for (const std::string& m : row.needs) {
    if (!modalities.count(m)) return NAN;
  }
  const nlohmann::json::json_pointer pointer(row.pointer);
  if (!eval.contains(pointer) || !eval[pointer].is_number()) return NAN;
  return eval[pointer].get<double>();
}

// Removes the modalities a variant does not use from the train and val records.
corpus::Record Strip(corpus::Record record, const std::set<std::string>& keep) {
  if (record.split == corpus::Split::kTest) return record;
  if (!keep.count("g")) record.structure.reset();
  if (!keep.count("t") && record.synthesis) record.synthesis->text.clear();
  if (!keep.count("v")) record.images.clear();
  return record;
}

// Relative change of `value` against the best of `others` (by the row's direction), or NaN.
double RelativeChange(double value, const std::vector<double>& others, bool lower_is_better) {
  double best = NAN;
  for (double o : others) {
    if (std::isnan(o)) continue;
    if (std::isnan(best) || (lower_is_better ? o < best : o > best)) best = o;
  }
  if (std::isnan(value) || std::isnan(best) || best == 0) return NAN;
  return (value - best) / std::fabs(best);
}

std::string Percent(double v) {
  return std::isnan(v) ? "n/a" : absl::StrFormat("%+.1f%%", 100 * v);
}

}  // namespace

const std::vector<std::string>& AblationVariants() {
  static const std::vector<std::string> kVariants = {
      "structure",       "text",       "image",     "structure+text",
      "structure+image", "text+image", "tri-modal", kGeneralization};
  return kVariants;
}

absl::Status AblateOptions::Validate() const {
  if (config.empty() || data.empty() || out.empty()) {
    return absl::InvalidArgumentError("ablate needs --config, --data and --out");
  }
  if (epochs < 0) return absl::InvalidArgumentError("--epochs must be >= 0");
  for (const std::string& v : variants) {
    const auto& all = AblationVariants();
    if (std::find(all.begin(), all.end(), v) == all.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown variant '", v, "'; known: ", absl::StrJoin(all, ", ")));
    }
  }
  MATALIGN_RETURN_IF_ERROR(corpus::ParseMaterialClass(train_class).status());
  if (device != "auto" && device != "cpu" && device != "cuda") {
    return absl::InvalidArgumentError(
        absl::StrCat("device '", device, "' is not one of auto, cpu, cuda"));
  }
  if (threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  return absl::OkStatus();
}

absl::StatusOr<nlohmann::json> Ablate(const AblateOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_ASSIGN_OR_RETURN(TrainConfig config, LoadTrainConfig(options.config));
  if (options.epochs > 0) config.train.epochs = options.epochs;
  const std::string manifest = ManifestPathFor(options.data);
  const std::string records_dir = fs::path(manifest).parent_path().string();
  MATALIGN_ASSIGN_OR_RETURN(std::vector<corpus::Record> records, corpus::ReadManifest(manifest));
  MATALIGN_ASSIGN_OR_RETURN(corpus::MaterialClass train_class,
                            corpus::ParseMaterialClass(options.train_class));

  std::vector<std::string> variants =
      options.variants.empty() ? AblationVariants() : options.variants;
  EvalOptions eval_options;
  eval_options.device = options.device;
  eval_options.threads = options.threads;
  eval_options.verbose = false;

  nlohmann::json report = {{"config", options.config},
                           {"data", manifest},
                           {"epochs", config.train.epochs},
                           {"seed", config.train.seed},
                           {"train_class", options.train_class}};
  const auto start = Clock::now();
  int index = 0;
  for (const std::string& variant : variants) {
    ++index;
    const fs::path dir = fs::path(options.out) / variant;
    const std::string eval_dir = (dir / "eval").string();
    const bool generalization = variant == kGeneralization;
    const std::set<std::string> modalities = ModalitiesOf(variant);
    nlohmann::json entry = {{"modalities", modalities}};
    const std::string previous = (fs::path(eval_dir) / "report.json").string();
    if (options.reuse && fs::exists(previous)) {
      MATALIGN_ASSIGN_OR_RETURN(std::string bytes, ReadFile(previous));
      entry["eval"] = nlohmann::json::parse(bytes, nullptr, false);
      const std::string summary = (dir / "summary.json").string();
      if (fs::exists(summary)) {
        MATALIGN_ASSIGN_OR_RETURN(std::string s, ReadFile(summary));
        entry.update(nlohmann::json::parse(s, nullptr, false));
      }
      std::fprintf(stderr, "ablate [%d/%zu] %s: reusing %s\n", index, variants.size(),
                   variant.c_str(), previous.c_str());
      report["variants"][variant] = entry;
      continue;
    }

    // The variant's training data.
    std::vector<corpus::Record> derived;
    for (const corpus::Record& r : records) {
      if (!generalization) {
        derived.push_back(Strip(r, modalities));
      } else if (r.material_class != train_class) {
        corpus::Record held_out = r;
        held_out.split = corpus::Split::kTest;
        derived.push_back(held_out);
      } else if (r.split != corpus::Split::kTest) {
        derived.push_back(r);
      }
    }
    const std::string variant_manifest = (dir / "manifest.jsonl").string();
    MATALIGN_RETURN_IF_ERROR(corpus::WriteDerivedManifest(variant_manifest, derived, records_dir));

    std::fprintf(stderr, "ablate [%d/%zu] %s: training (%s) ...\n", index, variants.size(),
                 variant.c_str(), absl::StrJoin(modalities, "+").c_str());
    TrainerOptions train_options;
    train_options.data = variant_manifest;
    train_options.out = (dir / "models").string();
    train_options.run_dir = (dir / "run").string();
    train_options.device = options.device;
    train_options.threads = options.threads;
    train_options.log_every = 0;
    const auto train_start = Clock::now();
    absl::StatusOr<TrainResult> trained = Train(config, train_options);
    if (!trained.ok()) {
      return absl::Status(trained.status().code(),
                          absl::StrCat("variant ", variant, ": ", trained.status().message()));
    }
    entry["train_seconds"] = std::chrono::duration<double>(Clock::now() - train_start).count();
    entry["best_epoch"] = trained->best_epoch;
    entry["selection_metric"] = trained->selection_metric;

    // Generalization is tested on its held-out classes; every other variant on the corpus's
    // own test split with all modalities present.
    absl::StatusOr<EvalResult> evaluated =
        Evaluate(trained->bundle_dir, generalization ? variant_manifest : manifest, eval_options);
    if (!evaluated.ok()) {
      return absl::Status(evaluated.status().code(),
                          absl::StrCat("variant ", variant, ": ", evaluated.status().message()));
    }
    MATALIGN_RETURN_IF_ERROR(WriteEvalReport(
        *evaluated, (fs::path(train_options.run_dir) / "metrics.jsonl").string(), eval_dir));
    MATALIGN_RETURN_IF_ERROR(WriteFileAtomic((dir / "summary.json").string(), entry.dump(2)));
    entry["eval"] = evaluated->report;
    report["variants"][variant] = entry;
    std::fprintf(stderr, "ablate [%d/%zu] %s: done in %.0f s (best epoch %d by %s)\n", index,
                 variants.size(), variant.c_str(), entry["train_seconds"].get<double>(),
                 trained->best_epoch, trained->selection_metric.c_str());
  }
  report["seconds"] = std::chrono::duration<double>(Clock::now() - start).count();

  // The table: one row per figure, one column per variant, then the tri-modal model's change
  // against the best single- and dual-modality variants.
  const std::vector<std::string> singles = {"structure", "text", "image"};
  const std::vector<std::string> duals = {"structure+text", "structure+image", "text+image"};
  std::vector<std::string> header = {"figure"};
  for (const std::string& v : variants) header.push_back(v);
  header.push_back("tri vs best single");
  header.push_back("tri vs best dual");
  std::vector<std::vector<std::string>> table;
  nlohmann::json table_json = nlohmann::json::array();
  auto value_of = [&](const std::string& variant, const MetricRow& row) {
    if (!report["variants"].contains(variant)) return static_cast<double>(NAN);
    const nlohmann::json& e = report["variants"][variant];
    return FigureOf(e["eval"], row, ModalitiesOf(variant));
  };
  for (const MetricRow& row : TableRows(config, eval_options.recall_ks)) {
    std::vector<std::string> cells = {row.label + (row.lower_is_better ? " (lower better)" : "")};
    nlohmann::json values = nlohmann::json::object();
    bool any = false;
    for (const std::string& v : variants) {
      const double x = value_of(v, row);
      any = any || !std::isnan(x);
      cells.push_back(FormatFigure(std::isnan(x) ? nlohmann::json() : nlohmann::json(x)));
      values[v] = std::isnan(x) ? nlohmann::json() : nlohmann::json(x);
    }
    if (!any) continue;
    std::vector<double> single_values, dual_values;
    for (const auto& v : singles) single_values.push_back(value_of(v, row));
    for (const auto& v : duals) dual_values.push_back(value_of(v, row));
    const double tri = value_of("tri-modal", row);
    const double vs_single = RelativeChange(tri, single_values, row.lower_is_better);
    const double vs_dual = RelativeChange(tri, dual_values, row.lower_is_better);
    cells.push_back(Percent(vs_single));
    cells.push_back(Percent(vs_dual));
    table.push_back(cells);
    table_json.push_back(
        {{"figure", row.label},
         {"lower_is_better", row.lower_is_better},
         {"values", values},
         {"tri_vs_best_single",
          std::isnan(vs_single) ? nlohmann::json() : nlohmann::json(vs_single)},
         {"tri_vs_best_dual", std::isnan(vs_dual) ? nlohmann::json() : nlohmann::json(vs_dual)}});
  }
  std::vector<std::string> cost = {"training seconds"};
  for (const std::string& v : variants) {
    cost.push_back(report["variants"].contains(v) ? FormatFigure(report["variants"][v].value(
                                                        "train_seconds", nlohmann::json()))
                                                  : "n/a");
  }
  cost.push_back("");
  cost.push_back("");
  table.push_back(cost);
  report["table"] = table_json;

  std::string md = absl::StrCat(
      "# Ablation: single-, dual- and tri-modal models\n\n", "Config `", options.config, "` (",
      config.train.epochs, " epochs, seed ", config.train.seed, "), data `", manifest,
      "`. Every variant is trained with the same config, seed and budget on the modalities in "
      "its name (the others are removed from its train/val records) and evaluated on the same "
      "test split with all modalities; n/a = the variant has no encoder or head for that "
      "figure. `generalization` trains the tri-modal model on ",
      options.train_class, " materials only and is tested on the other classes. ",
      "Relative change: (tri - best) / |best| where best is the best single (dual) variant in "
      "the figure's direction; positive is better for higher-is-better figures, negative for "
      "lower-is-better ones.\n\n");
  md += MarkdownTable(header, table);
  absl::StrAppend(&md, "\nTotal time ", FormatFigure(report["seconds"]),
                  " s. Per-variant evaluation reports with plots: `<variant>/eval/report.md`.\n");
  MATALIGN_RETURN_IF_ERROR(WriteReportFiles(report, md, options.out));
  return report;
}

}  // namespace matalign::train
