// Periodic neighbour graphs for the structure encoder: nodes are the sites of the cell,
// directed edges go from a site to every periodic image of every site within the cutoff
// (capped at the nearest max_neighbors), with Gaussian radial-basis edge features.
#ifndef MATALIGN_MATERIALS_GRAPH_H_
#define MATALIGN_MATERIALS_GRAPH_H_

#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "materials/structure.h"

namespace matalign::materials {

struct GraphOptions {
  // Neighbour cutoff radius, Angstrom. Default: 6.0.
  double cutoff = 6.0;
  // Most neighbours kept per atom (the nearest; ties by neighbour index, then image).
  // Default: 12.
  int max_neighbors = 12;
  // Number of Gaussian centres, evenly spaced over [0, cutoff]. Default: 40.
  int num_rbf = 40;
  // Gaussian width sigma, Angstrom. Default: 0 = the spacing between centres.
  double rbf_width = 0;

  absl::Status Validate() const;
};

// Node features, in this order, each scaled to about [0, 1]:
// Z/100, Pauling electronegativity/4, covalent radius/2.5 A, group/18, period/7,
// coordination number/12 (neighbours within the cutoff closer than 1.2 x the nearest one).
inline constexpr int kNodeFeatureDim = 6;

struct StructureGraph {
  int num_nodes = 0;
  int num_rbf = 0;
  std::vector<int32_t> atomic_numbers;             // [num_nodes]
  std::vector<float> node_features;                // [num_nodes, kNodeFeatureDim], row-major
  std::vector<int32_t> edge_src;                   // [num_edges] centre site
  std::vector<int32_t> edge_dst;                   // [num_edges] neighbour site
  std::vector<std::array<int32_t, 3>> edge_image;  // [num_edges] lattice image of edge_dst
  std::vector<float> edge_distance;                // [num_edges] Angstrom
  std::vector<float> edge_rbf;                     // [num_edges, num_rbf], row-major

  size_t num_edges() const { return edge_src.size(); }
};

struct Neighbor {
  int index = 0;                   // neighbouring site
  std::array<int32_t, 3> image{};  // lattice translation applied to it
  double distance = 0;             // Angstrom

  bool operator==(const Neighbor& o) const {
    return index == o.index && image == o.image && distance == o.distance;
  }
};

// For every site, all neighbours (site, image) with 0 < distance <= cutoff, sorted by
// (distance, index, image). Uses a cell list: O(N * images) for fixed density.
// Requires a structure that passed ValidateStructure (bounded coordinates, cell widths).
std::vector<std::vector<Neighbor>> FindNeighbors(const Structure& structure, double cutoff);

// The same result by checking every pair and every image in range: the test oracle.
std::vector<std::vector<Neighbor>> FindNeighborsBruteForce(const Structure& structure,
                                                           double cutoff);

// Builds the graph of a validated structure. InvalidArgument for bad options, or when the
// cutoff would need more than 2e7 atom images (a very thin cell with a long cutoff).
absl::StatusOr<StructureGraph> BuildGraph(const Structure& structure,
                                          const GraphOptions& options = {});

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_GRAPH_H_
