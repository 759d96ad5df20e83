#include "materials/perov5.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/csv.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace matalign::materials {

std::string Perov5Row::Source(absl::string_view csv) const {
  return absl::StrCat(csv, ":", line, " (material ", material_id, ")");
}

absl::StatusOr<std::vector<Perov5Row>> ParsePerov5Csv(absl::string_view content,
                                                      absl::string_view source) {
  MATALIGN_ASSIGN_OR_RETURN(std::vector<CsvRow> rows, ParseCsv(content, source));
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": empty CSV"));
  const std::vector<std::string>& header = rows[0].fields;
  auto column = [&](absl::string_view name) -> int {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    return -1;
  };
  const int c_id = column("material_id"), c_cif = column("cif"), c_formula = column("formula"),
            c_heat = column("heat_all"), c_ref = column("heat_ref"), c_dir = column("dir_gap"),
            c_ind = column("ind_gap");
  for (int c : {c_id, c_cif, c_formula, c_heat, c_ref, c_dir, c_ind}) {
    if (c < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source,
                       ": header lacks one of material_id, cif, formula, heat_all, heat_ref, "
                       "dir_gap, ind_gap"));
    }
  }
  const size_t needed =
      static_cast<size_t>(std::max({c_id, c_cif, c_formula, c_heat, c_ref, c_dir, c_ind})) + 1;
  std::vector<Perov5Row> out;
  out.reserve(rows.size() - 1);
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    if (row.fields.size() < needed) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line ", row.line, ": ",
                                                     row.fields.size(), " fields, expected ",
                                                     header.size()));
    }
    Perov5Row p;
    p.line = row.line;
    p.material_id = row.fields[c_id];
    p.formula = row.fields[c_formula];
    p.cif = row.fields[c_cif];
    const std::pair<int, double*> numbers[] = {
        {c_heat, &p.heat_all}, {c_ref, &p.heat_ref}, {c_dir, &p.dir_gap}, {c_ind, &p.ind_gap}};
    for (const auto& [c, dst] : numbers) {
      if (!absl::SimpleAtod(row.fields[c], dst) || !std::isfinite(*dst)) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": line ", row.line, ": column ",
                                                       header[c], " = '", row.fields[c],
                                                       "' is not a number"));
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

absl::StatusOr<std::vector<Perov5Row>> ReadPerov5Csv(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string content, ReadFile(path));
  return ParsePerov5Csv(content, path);
}

}  // namespace matalign::materials
