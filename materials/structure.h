// The one in-memory representation of an atomic structure: a periodic crystal (lattice +
// sites in the unit cell) or a molecule / cluster (no periodicity).
#ifndef MATALIGN_MATERIALS_STRUCTURE_H_
#define MATALIGN_MATERIALS_STRUCTURE_H_

#include <array>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace matalign::materials {

using Vec3 = std::array<double, 3>;

// Three lattice vectors a, b, c as rows, in Angstrom. Cartesian = frac * matrix.
class Lattice {
 public:
  Lattice() = default;  // all-zero; a periodic structure must set it
  static Lattice FromVectors(const std::array<Vec3, 3>& rows);
  // a, b, c in Angstrom, angles in degrees; a along x, b in the xy plane.
  static Lattice FromParameters(double a, double b, double c, double alpha, double beta,
                                double gamma);

  const std::array<Vec3, 3>& vectors() const { return rows_; }
  // Absolute cell volume in cubic Angstrom.
  double Volume() const;
  // Lengths a, b, c (Angstrom) and angles alpha, beta, gamma (degrees).
  std::array<double, 6> Parameters() const;
  Vec3 ToCartesian(const Vec3& frac) const;
  // Requires Volume() > 0.
  Vec3 ToFractional(const Vec3& cart) const;
  // Distance between opposite faces of the cell along each reciprocal direction: how many
  // periodic images a sphere of radius r needs is ceil(r / width).
  Vec3 PerpendicularWidths() const;

 private:
  std::array<Vec3, 3> rows_{};
};

struct Site {
  int atomic_number = 0;
  Vec3 frac{};  // fractional coordinates (periodic structures; wrapped into [0, 1))
  Vec3 cart{};  // Cartesian coordinates, Angstrom
  double occupancy = 1.0;
  std::string label;  // as given by the file ("Fe1"), may be empty
};

struct Structure {
  std::string name;    // data block name, POSCAR comment, XYZ comment, ...
  std::string source;  // file the structure came from (for messages)
  bool periodic = true;
  Lattice lattice;  // for molecules: the bounding box, informational only
  std::vector<Site> sites;
  // Sites whose occupancy was below 1 in the file (before merging), and free-text notes on
  // how the reader handled them (for `mmdata inspect`).
  int partial_occupancy_sites = 0;
  std::vector<std::string> notes;

  // Appends a site given fractional coordinates (periodic) and fills its Cartesian ones.
  void AddFractional(int atomic_number, const Vec3& frac, double occupancy = 1.0,
                     std::string label = "");
  // Appends a site given Cartesian coordinates; fills fractional ones when periodic.
  void AddCartesian(int atomic_number, const Vec3& cart, double occupancy = 1.0,
                    std::string label = "");

  // Formula of the cell contents in Hill order with occupancy-weighted counts ("Fe4 O6").
  std::string CellFormula() const;
  // Reduced formula in Hill order, e.g. "Fe2O3"; non-integer counts keep 3 decimals.
  std::string ReducedFormula() const;
  // Mass density in g/cm^3 (periodic structures only; 0 otherwise).
  double Density() const;
  // Sum of occupancy-weighted atomic masses, g/mol.
  double Mass() const;
};

// Bounds that every structure read from a file must respect.
struct StructureLimits {
  // Most sites a structure may have after symmetry expansion. Default: 1000.
  int max_atoms = 1000;
  // Closest allowed distance between two sites (periodic images included), Angstrom.
  // Default: 0.5.
  double min_distance = 0.5;
  // Smallest allowed cell volume per atom, cubic Angstrom. Default: 1.0.
  double min_volume_per_atom = 1.0;
  // Smallest allowed distance between opposite cell faces, Angstrom: thinner cells are
  // degenerate (or unreduced) and would need huge numbers of periodic images. Default: 1.0.
  double min_cell_width = 1.0;
  // Largest allowed |coordinate| and lattice vector component, Angstrom. Default: 1e5.
  double max_coordinate = 1e5;

  absl::Status Validate() const;
};

// Returns InvalidArgument (message starts with structure.source) if the structure has no
// sites, too many sites, a non-finite or out-of-range coordinate, an unknown element, an
// occupancy outside (0, 1], a zero-volume or too thin cell, or two sites (periodic images,
// including a site's own, counted) closer than limits.min_distance.
absl::Status ValidateStructure(const Structure& structure, const StructureLimits& limits);

// Merges sites that share a position (closer than `tolerance` Angstrom, periodic images
// included) and whose occupancies sum to at most 1 (substitutional disorder, e.g. Fe/Ga on
// one site): the merged site takes the species of largest occupancy and the summed
// occupancy. Counts and records what it did in structure->notes.
void MergeDisorderedSites(Structure* structure, double tolerance = 0.5);

// Distance between sites i and j at the nearest of the 27 images around the wrapped
// fractional difference (plain distance for molecules). Exact for reduced cells; for very
// skewed cells it may overestimate. Used to group co-located sites; ValidateStructure uses
// the exact neighbour search instead.
double MinimumImageDistance(const Structure& structure, int i, int j);

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_STRUCTURE_H_
