#include "mmdata/inspect.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "materials/perov5.h"

namespace matalign::mmdata {

using nlohmann::json;

absl::StatusOr<json> InspectStructure(const materials::Structure& st,
                                      const materials::GraphOptions& graph_options) {
  MATALIGN_ASSIGN_OR_RETURN(materials::StructureGraph graph,
                            materials::BuildGraph(st, graph_options));
  size_t within_cutoff = 0;
  for (const auto& list : materials::FindNeighbors(st, graph_options.cutoff)) {
    within_cutoff += list.size();
  }
  const auto p = st.lattice.Parameters();
  json vectors = json::array();
  for (const auto& row : st.lattice.vectors()) vectors.push_back({row[0], row[1], row[2]});
  json out = {
      {"file", st.source},
      {"name", st.name},
      {"formula", st.ReducedFormula()},
      {"cell_formula", st.CellFormula()},
      {"num_atoms", st.sites.size()},
      {"periodic", st.periodic},
      {"partial_occupancy_sites", st.partial_occupancy_sites},
      {"notes", st.notes},
      {"graph",
       {{"cutoff", graph_options.cutoff},
        {"max_neighbors", graph_options.max_neighbors},
        {"num_rbf", graph_options.num_rbf},
        {"num_edges", graph.num_edges()},
        {"neighbors_within_cutoff", within_cutoff},
        {"mean_degree", st.sites.empty() ? 0.0
                                         : static_cast<double>(graph.num_edges()) /
                                               static_cast<double>(st.sites.size())}}},
  };
  if (st.periodic) {
    out["lattice"] = {{"a", p[0]},
                      {"b", p[1]},
                      {"c", p[2]},
                      {"alpha", p[3]},
                      {"beta", p[4]},
                      {"gamma", p[5]},
                      {"volume", st.lattice.Volume()},
                      {"vectors", vectors}};
    out["density"] = st.Density();
  } else {
    out["lattice"] = nullptr;
    out["density"] = nullptr;
  }
  return out;
}

absl::StatusOr<std::vector<json>> InspectFile(const std::string& path,
                                              const InspectOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.graph.Validate());
  std::vector<json> out;
  if (LowercaseExtension(path) == "csv") {
    MATALIGN_ASSIGN_OR_RETURN(std::vector<materials::Perov5Row> rows,
                              materials::ReadPerov5Csv(path));
    if (options.row < 0 || options.row > static_cast<int>(rows.size())) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": --row ", options.row, " is outside 1..", rows.size()));
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      if (options.row != 0 && static_cast<int>(i) + 1 != options.row) continue;
      const materials::Perov5Row& row = rows[i];
      materials::StructureReadOptions read = options.read;
      read.format = materials::StructureFormat::kCif;
      MATALIGN_ASSIGN_OR_RETURN(materials::Structure st,
                                materials::ParseStructure(row.cif, row.Source(path), read));
      MATALIGN_ASSIGN_OR_RETURN(json summary, InspectStructure(st, options.graph));
      summary["format"] = "perov5-csv";
      summary["row"] = i + 1;
      summary["material_id"] = row.material_id;
      summary["labels"] = {{"heat_all", row.heat_all},
                           {"heat_ref", row.heat_ref},
                           {"dir_gap", row.dir_gap},
                           {"ind_gap", row.ind_gap}};
      out.push_back(std::move(summary));
    }
    return out;
  }
  MATALIGN_ASSIGN_OR_RETURN(std::string content, ReadFile(path, 64ull << 20));
  materials::StructureReadOptions read = options.read;
  if (read.format == materials::StructureFormat::kAuto) {
    read.format = materials::DetectFormat(path, content);
  }
  MATALIGN_ASSIGN_OR_RETURN(materials::Structure st,
                            materials::ParseStructure(content, path, read));
  MATALIGN_ASSIGN_OR_RETURN(json summary, InspectStructure(st, options.graph));
  summary["format"] = std::string(materials::FormatName(read.format));
  out.push_back(std::move(summary));
  return out;
}

std::string FormatInspection(const json& s) {
  std::string out;
  auto line = [&out](absl::string_view key, const std::string& value) {
    absl::StrAppend(&out, absl::StrFormat("%-10s %s\n", absl::StrCat(key, ":"), value));
  };
  line("file", s.value("file", ""));
  line("format", s.value("format", ""));
  if (!s.value("name", "").empty()) line("name", s.value("name", ""));
  line("formula",
       absl::StrCat(s.value("formula", ""), "  (cell: ", s.value("cell_formula", ""), ")"));
  line("atoms",
       absl::StrCat(s.value("num_atoms", 0),
                    s.value("periodic", true) ? " in the unit cell" : " (molecule, not periodic)"));
  if (s.contains("lattice") && !s["lattice"].is_null()) {
    const json& l = s["lattice"];
    line("lattice", absl::StrFormat("a=%.4f b=%.4f c=%.4f A  alpha=%.3f beta=%.3f gamma=%.3f",
                                    l["a"].get<double>(), l["b"].get<double>(),
                                    l["c"].get<double>(), l["alpha"].get<double>(),
                                    l["beta"].get<double>(), l["gamma"].get<double>()));
    line("volume", absl::StrFormat("%.3f A^3", l["volume"].get<double>()));
    line("density", absl::StrFormat("%.4f g/cm^3", s["density"].get<double>()));
  }
  const json& g = s["graph"];
  line("graph", absl::StrFormat("%zu edges (cutoff %.2f A, at most %d neighbours, %.2f per atom); "
                                "%zu neighbours within the cutoff",
                                g["num_edges"].get<size_t>(), g["cutoff"].get<double>(),
                                g["max_neighbors"].get<int>(), g["mean_degree"].get<double>(),
                                g["neighbors_within_cutoff"].get<size_t>()));
  if (s.value("partial_occupancy_sites", 0) > 0) {
    line("disorder", absl::StrCat(s["partial_occupancy_sites"].get<int>(),
                                  " partially occupied site(s) in the file"));
  }
  if (s.contains("labels")) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : s["labels"].items()) {
      parts.push_back(absl::StrFormat("%s=%.4g", k, v.get<double>()));
    }
    line("labels", absl::StrJoin(parts, " "));
  }
  for (const auto& note : s.value("notes", std::vector<std::string>{})) line("note", note);
  return out;
}

}  // namespace matalign::mmdata
