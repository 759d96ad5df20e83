// `mmdata inspect`: a summary of a structure (formula, atoms, lattice, density, graph).
#ifndef MATALIGN_MMDATA_INSPECT_H_
#define MATALIGN_MMDATA_INSPECT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "materials/graph.h"
#include "materials/structure.h"
#include "materials/structure_io.h"
#include "nlohmann/json.hpp"

namespace matalign::mmdata {

struct InspectOptions {
  materials::StructureReadOptions read;
  materials::GraphOptions graph;
  // perov5 CSV: the 1-based data row to inspect. Default: 0 = every row.
  int row = 0;
};

// The summary of one structure as a JSON object: file, format, name, formula, cell_formula,
// num_atoms, periodic, lattice {a, b, c, alpha, beta, gamma, volume, vectors}, density,
// partial_occupancy_sites, notes, graph {cutoff, max_neighbors, num_rbf, num_edges,
// neighbors_within_cutoff, mean_degree}.
absl::StatusOr<nlohmann::json> InspectStructure(const materials::Structure& structure,
                                                const materials::GraphOptions& graph);

// Reads `path` and returns one summary per structure: one for CIF/POSCAR/XYZ, one per row
// (or the selected row) for a perov5 CSV, with the row's labels under "labels".
absl::StatusOr<std::vector<nlohmann::json>> InspectFile(const std::string& path,
                                                        const InspectOptions& options);

// Human-readable rendering of one summary (several lines).
std::string FormatInspection(const nlohmann::json& summary);

}  // namespace matalign::mmdata

#endif  // MATALIGN_MMDATA_INSPECT_H_
