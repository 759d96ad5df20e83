#include "train/report.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "eval/plot.h"
#include "eval/projection.h"
#include "train/evaluate.h"

namespace matalign::train {
namespace fs = std::filesystem;

std::string FormatFigure(const nlohmann::json& value) {
  if (value.is_null()) return "n/a";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer() || value.is_number_unsigned()) return value.dump();
  if (value.is_number()) {
    const double v = value.get<double>();
    if (!std::isfinite(v)) return "n/a";
    if (v != 0 && (std::fabs(v) < 1e-3 || std::fabs(v) >= 1e5)) return absl::StrFormat("%.2e", v);
    if (std::fabs(v) >= 100) return absl::StrFormat("%.1f", v);
    return absl::StrFormat("%.3f", v);
  }
  return value.dump();
}

std::string MarkdownTable(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows) {
  auto line = [](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const std::string& c : cells)
      absl::StrAppend(&out, " ", absl::StrReplaceAll(c, {{"|", "\\|"}}), " |");
    return out + "\n";
  };
  std::string out = line(header) + "|";
  for (size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

absl::Status WriteReportFiles(const nlohmann::json& report, const std::string& markdown,
                              const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  MATALIGN_RETURN_IF_ERROR(
      WriteFileAtomic((fs::path(out_dir) / "report.json").string(),
                      report.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
  return WriteFileAtomic((fs::path(out_dir) / "report.md").string(), markdown);
}

std::string EvalReportMarkdown(const nlohmann::json& r) {
  std::string md = "# Evaluation report\n\n";
  const nlohmann::json& data = r.value("data", nlohmann::json::object());
  const nlohmann::json& model = r.value("model", nlohmann::json::object());
  absl::StrAppend(
      &md, "Model `", model.value("dir", "?"), "` (version ", model.value("version", "?"),
      ") on the `", data.value("split", "?"), "` split of `", data.value("manifest", "?"),
      "`: ", FormatFigure(data.value("materials", nlohmann::json())), " materials (",
      FormatFigure(data.value("with_structure", nlohmann::json())), " with structure, ",
      FormatFigure(data.value("with_text", nlohmann::json())), " with text, ",
      FormatFigure(data.value("with_image", nlohmann::json())), " with an image, ",
      FormatFigure(data.value("with_target", nlohmann::json())), " with a target).\n\n");
  if (r.contains("regression")) {
    md += "## Property regression (property head on the structure embedding)\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, m] : r["regression"].items()) {
      rows.push_back({name, FormatFigure(m["n"]), FormatFigure(m["mae"]), FormatFigure(m["rmse"]),
                      FormatFigure(m["pearson"]), FormatFigure(m["spearman"])});
    }
    md += MarkdownTable({"property", "n", "MAE", "RMSE", "Pearson", "Spearman"}, rows) + "\n";
  }
  if (r.contains("defect")) {
    const nlohmann::json& m = r["defect"];
    md += "## Defect classification (head on the SEM image embedding)\n\n";
    md += MarkdownTable(
        {"n", "accuracy", "precision (macro)", "recall (macro)", "F1 (macro)", "ROC-AUC (OvR)"},
        {{FormatFigure(m["n"]), FormatFigure(m["accuracy"]), FormatFigure(m["precision_macro"]),
          FormatFigure(m["recall_macro"]), FormatFigure(m["f1_macro"]),
          FormatFigure(m["roc_auc_ovr"])}});
    md += "\nConfusion matrix (rows: truth, columns: predicted):\n\n";
    std::vector<std::string> header = {"truth \\ predicted"};
    for (const auto& c : m["classes"]) header.push_back(c.get<std::string>());
    header.push_back("F1");
    std::vector<std::vector<std::string>> rows;
    for (size_t i = 0; i < m["confusion"].size(); ++i) {
      std::vector<std::string> row = {m["classes"][i].get<std::string>()};
      for (const auto& c : m["confusion"][i]) row.push_back(c.dump());
      row.push_back(FormatFigure(m["per_class_f1"][i]));
      rows.push_back(row);
    }
    md += MarkdownTable(header, rows) + "\n";
  }
  if (r.contains("recommendation")) {
    const nlohmann::json& m = r["recommendation"];
    md += "## Synthesis recommendation (target properties -> synthesis texts)\n\n";
    std::vector<std::string> header = {"queries", "documents"},
                             row = {FormatFigure(m["n"]), FormatFigure(m["documents"])};
    for (const auto& [key, value] : m.items()) {
      if (key == "n" || key == "documents") continue;
      header.push_back(key);
      row.push_back(FormatFigure(value));
    }
    md += MarkdownTable(header, {row}) +
          "\nRelevance: the material's own text (grade 2), a text with the same route and "
          "precursor set (grade 1).\n\n";
  }
  if (r.contains("retrieval")) {
    md += "## Cross-modal retrieval (g structure, t text, v image, p target)\n\n";
    std::vector<std::string> header = {"query -> documents", "n", "documents"};
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, m] : r["retrieval"].items()) {
      std::vector<std::string> row = {name, FormatFigure(m["n"]), FormatFigure(m["documents"])};
      for (const auto& [key, value] : m.items()) {
        if (key.rfind("recall@", 0) != 0) continue;
        if (rows.empty()) header.push_back(key);
        row.push_back(FormatFigure(value));
      }
      rows.push_back(row);
    }
    md += MarkdownTable(header, rows) + "\n";
  }
  if (r.contains("embedding")) {
    md += "## Embedding quality by material class\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& [name, m] : r["embedding"].items()) {
      rows.push_back({name, FormatFigure(m["n"]), FormatFigure(m["classes"]),
                      FormatFigure(m["silhouette"]), FormatFigure(m["davies_bouldin"])});
    }
    md += MarkdownTable({"space", "n", "classes", "silhouette (higher is better)",
                         "Davies-Bouldin (lower is better)"},
                        rows) +
          "\n";
  }
  if (r.contains("cost")) {
    const nlohmann::json& c = r["cost"];
    absl::StrAppend(&md, "## Cost\n\n", FormatFigure(c["seconds"]), " s wall time, peak RSS ",
                    FormatFigure(c["peak_rss_mb"]), " MB, device ", FormatFigure(c["device"]),
                    c.contains("gpu_peak_mb")
                        ? absl::StrCat(", GPU peak ", FormatFigure(c["gpu_peak_mb"]), " MB")
                        : "",
                    ".\n\n");
  }
  if (r.contains("plots")) {
    md += "## Plots\n\n";
    for (const auto& plot : r["plots"]) {
      const std::string name = plot.get<std::string>();
      absl::StrAppend(&md, "![", name, "](", name, ".svg)\n\n");
    }
  }
  return md;
}

namespace {

// The joint space projected on its first two principal axes, coloured by `label`.
absl::Status WriteProjection(const std::vector<EmbeddedMaterial>& materials, bool by_route,
                             const std::string& path_stem) {
  const int dim = static_cast<int>(materials[0].joint.size());
  std::vector<float> points;
  for (const EmbeddedMaterial& m : materials)
    points.insert(points.end(), m.joint.begin(), m.joint.end());
  std::vector<double> explained;
  MATALIGN_ASSIGN_OR_RETURN(std::vector<double> xy, eval::Pca(points, dim, 2, &explained));
  eval::ScatterPlot plot;
  plot.title = absl::StrCat("Joint embedding space (PCA) by ",
                            by_route ? "synthesis route" : "material class");
  plot.x_label = absl::StrFormat("PC1 (%.0f%% of variance)", 100 * explained[0]);
  plot.y_label = absl::StrFormat("PC2 (%.0f%% of variance)", 100 * explained[1]);
  for (size_t i = 0; i < materials.size(); ++i) {
    plot.x.push_back(xy[2 * i]);
    plot.y.push_back(xy[2 * i + 1]);
    const std::string& label = by_route ? materials[i].route : materials[i].material_class;
    plot.group.push_back(label.empty() ? "unknown" : label);
  }
  return eval::WritePlot(plot, path_stem);
}

// Total and per-term training loss per step, and the validation selection metric per epoch,
// from a run's metrics.jsonl.
absl::StatusOr<bool> WriteLossCurves(const std::string& log_path, const std::string& path_stem) {
  std::ifstream in(log_path);
  if (!in) return false;
  eval::LinePlot plot;
  plot.title = "Training loss";
  plot.x_label = "step";
  plot.y_label = "loss";
  plot.log_y = true;
  std::map<std::string, eval::LineSeries> series;
  eval::LineSeries total{"total", {}, {}}, epoch_loss{"train loss (epoch mean)", {}, {}};
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("step")) continue;
    const double step = j["step"].get<double>();
    if (j.value("type", "") == "step") {
      total.x.push_back(step);
      total.y.push_back(j.value("loss", NAN));
      if (j.contains("losses")) {
        for (const auto& [name, value] : j["losses"].items()) {
          eval::LineSeries& s = series[name];
          s.name = name;
          s.x.push_back(step);
          s.y.push_back(value.get<double>());
        }
      }
    } else if (j.value("type", "") == "epoch" && j.contains("train_loss")) {
      epoch_loss.x.push_back(step);
      epoch_loss.y.push_back(j["train_loss"].get<double>());
    }
  }
  if (total.x.empty()) return false;
  plot.series.push_back(total);
  for (auto& [name, s] : series) plot.series.push_back(std::move(s));
  if (!epoch_loss.x.empty()) plot.series.push_back(epoch_loss);
  MATALIGN_RETURN_IF_ERROR(eval::WritePlot(plot, path_stem));
  return true;
}

// Recall@k bars of every retrieval direction and of recommendation.
absl::StatusOr<bool> WriteRecallBars(const nlohmann::json& r, const std::string& path_stem) {
  eval::BarPlot plot;
  plot.title = "Recall@k (retrieval and recommendation)";
  plot.y_label = "Recall@k";
  std::vector<std::pair<std::string, const nlohmann::json*>> groups;
  if (r.contains("retrieval")) {
    for (const auto& [name, m] : r["retrieval"].items()) groups.emplace_back(name, &m);
  }
  if (r.contains("recommendation")) groups.emplace_back("recommend", &r["recommendation"]);
  if (groups.empty()) return false;
  std::vector<std::string> keys;
  for (const auto& [key, value] : groups[0].second->items()) {
    if (key.rfind("recall@", 0) == 0) keys.push_back(key);
  }
  for (const auto& [name, m] : groups) plot.categories.push_back(name);
  for (const std::string& key : keys) {
    eval::BarSeries s{key, {}};
    for (const auto& [name, m] : groups) {
      s.values.push_back(m->contains(key) && (*m)[key].is_number() ? (*m)[key].get<double>() : NAN);
    }
    plot.series.push_back(s);
  }
  MATALIGN_RETURN_IF_ERROR(eval::WritePlot(plot, path_stem));
  return true;
}

}  // namespace

absl::Status WriteEvalReport(const EvalResult& result, const std::string& training_log,
                             const std::string& out_dir) {
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", out_dir, ": ", ec.message()));
  auto stem = [&](const char* name) { return (fs::path(out_dir) / name).string(); };
  nlohmann::json report = result.report;
  nlohmann::json plots = nlohmann::json::array();
  if (result.materials.size() >= 3) {
    MATALIGN_RETURN_IF_ERROR(WriteProjection(result.materials, false, stem("embedding_by_class")));
    MATALIGN_RETURN_IF_ERROR(WriteProjection(result.materials, true, stem("embedding_by_route")));
    plots.push_back("embedding_by_class");
    plots.push_back("embedding_by_route");
  }
  MATALIGN_ASSIGN_OR_RETURN(bool bars, WriteRecallBars(report, stem("recall_at_k")));
  if (bars) plots.push_back("recall_at_k");
  if (!training_log.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(bool curves, WriteLossCurves(training_log, stem("loss_curves")));
    if (curves) plots.push_back("loss_curves");
    report["training_log"] = curves ? nlohmann::json(training_log) : nlohmann::json();
  }
  report["plots"] = plots;
  return WriteReportFiles(report, EvalReportMarkdown(report), out_dir);
}

}  // namespace matalign::train
