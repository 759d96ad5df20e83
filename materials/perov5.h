// The perov5 dataset (Castelli et al.): a CSV whose rows embed a CIF and DFT labels.
#ifndef MATALIGN_MATERIALS_PEROV5_H_
#define MATALIGN_MATERIALS_PEROV5_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::materials {

struct Perov5Row {
  int line = 0;  // 1-based line of the row in the CSV
  std::string material_id;
  std::string formula;
  std::string cif;      // the structure, as CIF text
  double heat_all = 0;  // heat of formation, eV per cell
  double heat_ref = 0;
  double dir_gap = 0;  // direct band gap, eV
  double ind_gap = 0;  // indirect band gap, eV

  // "<csv>:<line>" (material <id>), used as the structure's source in messages.
  std::string Source(absl::string_view csv) const;
};

// Parses the perov5 CSV (header: ,material_id,cif,formula,heat_all,heat_ref,dir_gap,ind_gap;
// columns are found by name). A row with a missing column or a non-numeric label is
// InvalidArgument naming the file and line.
absl::StatusOr<std::vector<Perov5Row>> ParsePerov5Csv(absl::string_view content,
                                                      absl::string_view source);
absl::StatusOr<std::vector<Perov5Row>> ReadPerov5Csv(const std::string& path);

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_PEROV5_H_
