// Synthetic structures for the corpus: crystalline prototypes with chemically sensible
// element substitution, amorphous random packings and nanoparticles cut from crystals.
//
// Ionic radii are Shannon (1976) effective radii for the coordination the prototype gives
// each site (a missing coordination is estimated from the octahedral radius:
// r(IV) = 0.85 r(VI), r(VIII) = 1.12 r(VI), r(XII) = 1.25 r(VI)). Every lattice is set
// from the bond length d = r(cation, CN) + r(anion, CN); the rule of each prototype is in
// PrototypeInfo::lattice_rule. All generators are deterministic for a given Rng state.
#ifndef MATALIGN_CORPUS_PROTOTYPES_H_
#define MATALIGN_CORPUS_PROTOTYPES_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/rng.h"
#include "materials/structure.h"

namespace matalign::corpus {

enum class PrototypeKind {
  kRocksalt,        // AX, Fm-3m (NaCl)
  kCesiumChloride,  // AX, Pm-3m (CsCl)
  kZincblende,      // AX, F-43m (ZnS sphalerite)
  kWurtzite,        // AX, P6_3mc (ZnO, ideal c/a and u)
  kFluorite,        // AX2, Fm-3m (CaF2)
  kAntifluorite,    // A2X, Fm-3m (Li2O)
  kRutile,          // AX2, P4_2/mnm (TiO2)
  kCdI2,            // AX2, P-3m1 layered (CdI2, TiS2)
  kPerovskite,      // ABX3, Pm-3m cubic (SrTiO3)
  kSpinel,          // AB2X4, Fd-3m normal spinel (MgAl2O4): A tetrahedral, B octahedral
  kCorundum,        // A2X3, R-3c (Al2O3)
  kLayeredAbx2,     // ABX2, R-3m alpha-NaFeO2 (LiCoO2): A and B in alternating layers
};

// Crystallographic role of a site: cations A and B, anion X.
enum class Role { kA, kB, kX };

// "A" | "B" | "X".
absl::string_view RoleName(Role role);

struct RoleInfo {
  Role role = Role::kA;
  int count = 1;         // atoms per formula unit
  int coordination = 0;  // nearest-neighbour count (cations: anions around; X: cations around)
};

struct PrototypeInfo {
  PrototypeKind kind = PrototypeKind::kRocksalt;
  const char* name = "";          // "rocksalt", "cesium-chloride", ... (ParsePrototypeName)
  const char* formula = "";       // "AX", "ABX3", ...
  const char* space_group = "";   // Hermann-Mauguin symbol
  const char* example = "";       // the canonical compound, e.g. "NaCl"
  std::vector<RoleInfo> roles;    // in the order A, B, X (roles the prototype has)
  const char* lattice_rule = "";  // how the lattice follows from the radii (documentation)
};

// Every prototype, in enum order.
const std::vector<PrototypeKind>& AllPrototypes();
const PrototypeInfo& GetPrototypeInfo(PrototypeKind kind);
// Inverse of PrototypeInfo::name; InvalidArgument for an unknown name.
absl::StatusOr<PrototypeKind> ParsePrototypeName(absl::string_view name);

// Formal charge of an anion symbol ("O" -> -2, "F" -> -1, "N" -> -3), 0 if the element is
// not one of the anions the generator knows (O, S, Se, Te, N, F, Cl, Br, I).
int AnionCharge(absl::string_view symbol);

// Shannon-like effective ionic radius (Angstrom) of `symbol` with formal `charge` in
// coordination `cn` (anions: negative charge), or 0 if the ion is not in the table.
double IonicRadius(absl::string_view symbol, int charge, int cn);

// Builds prototype `kind` with the given element per role (every role of the prototype
// must be present, no other): oxidation states are inferred from the ion table so that the
// formula is charge balanced (the first balanced combination in table order), the lattice
// follows the prototype's lattice_rule and is then multiplied by `lattice_scale`
// (isotropic strain; 1 = unstrained, must be in [0.8, 1.25]).
// Returns InvalidArgument for a missing or extra role, an element that is not an anion on
// X or not a known cation on A/B, no charge-balanced combination, a geometry the radii
// cannot make (layered ABX2 with A too small) or a structure that fails ValidateStructure.
absl::StatusOr<materials::Structure> MakePrototype(PrototypeKind kind,
                                                   const std::map<Role, std::string>& elements,
                                                   double lattice_scale = 1.0);

// A sampled crystal and what the sampler knew about it.
struct Crystal {
  PrototypeKind prototype = PrototypeKind::kRocksalt;
  std::string prototype_name;
  materials::Structure structure;
  std::map<Role, std::string> elements;
  std::map<std::string, double> composition;    // symbol -> atoms per formula unit
  std::map<std::string, int> oxidation_states;  // symbol -> formal charge (sums to 0)
  // The screening number: Goldschmidt tolerance factor t for perovskite, otherwise the
  // radius ratio r(A)/r(X) of the first cation.
  double screening_value = 0;
  // How far the ions are from the ideal fit, >= 0: |t - 1| for perovskite, otherwise the
  // mean over cation roles of |rho - rho_ideal| / rho_ideal with rho = r(cation)/r(X) and
  // rho_ideal the middle of the Pauling radius-ratio window of its coordination
  // (CN4: 0.32, CN6: 0.57, CN8: 0.87, CN12: 1.0).
  double size_mismatch = 0;
  // Isotropic strain applied to the lattice (lattice_scale - 1).
  double strain = 0;
};

struct CrystalSamplerOptions {
  // Prototypes to draw from, uniformly. Default: empty = all of AllPrototypes().
  std::vector<PrototypeKind> prototypes;
  // Standard deviation of the isotropic lattice strain, clamped to +-3 sigma.
  // Default: 0.01.
  double strain_sigma = 0.01;

  absl::Status Validate() const;
};

// Draws a prototype, then a charge pattern of it (e.g. perovskite A+ B5+ O3, A2+ B4+ O3,
// A3+ B3+ O3, A+ B2+ X3 halides) and an anion, then uniformly one cation combination from
// all table cations with those charges that pass the prototype's radius screening:
//   rocksalt r(A,VI)/r(X) in [0.35, 1.0]; CsCl r(A,VIII)/r(X) in [0.70, 1.2];
//   zincblende and wurtzite r(A,IV)/r(X) in [0.2, 0.5]; fluorite r(A,VIII)/r(X) in [0.6, 1.2];
//   antifluorite r(A,IV)/r(X) in [0.3, 1.0]; rutile r(A,VI)/r(X) in [0.35, 0.75];
//   CdI2 r(A,VI)/r(X) in [0.25, 0.6]; perovskite Goldschmidt t in [0.85, 1.06] and
//   octahedral factor r(B)/r(X) in [0.41, 0.9]; spinel r(A,IV)/r(X) in [0.18, 0.6] and
//   r(B,VI)/r(X) in [0.3, 0.75]; corundum r(A,VI)/r(X) in [0.35, 0.62]; layered ABX2
//   r(B)/r(X) in [0.35, 0.6], r(A)/r(X) in [0.45, 0.8] and r(A) >= r(B) + 0.1.
// Patterns with no passing combination are skipped, so the sampler always succeeds for
// valid options. The lattice gets an isotropic strain ~ N(0, strain_sigma).
absl::StatusOr<Crystal> SampleCrystal(Rng& rng, const CrystalSamplerOptions& options = {});

struct AmorphousOptions {
  // Minimum distances are this factor times the contact distance (see MinContactDistance).
  // Default: 0.8.
  double min_distance_factor = 0.8;
  // When the packing jams, the factor drops in steps of 0.05 down to this floor (the
  // factor used is noted in structure.notes as "min_distance_factor F"). Default: 0.6.
  double min_distance_factor_floor = 0.6;
  // Random trial positions per atom before the best one is taken and overlaps are relaxed.
  // Default: 500.
  int max_attempts_per_atom = 500;
  // Relaxation sweeps (push overlapping pairs apart) per factor level. Default: 400.
  int max_relax_sweeps = 400;

  absl::Status Validate() const;
};

// Contact distance (Angstrom, before the factor) of two elements in an amorphous solid of
// the given composition: cation-anion r_c + r_a, anion-anion r_a1 + r_a2, cation-cation
// r_c1 + r_c2 + mean anion radius (cations meet across a shared anion); radii are the
// octahedral ionic radii of the ion table (cation: its first charge in the table), or the
// covalent radius where an element has no ion (then anything it meets uses covalent radii).
double MinContactDistance(const std::map<std::string, double>& composition, absl::string_view a,
                          absl::string_view b);

// A random dense packing of `composition` (symbol -> amount per formula unit) in a periodic
// cubic box: the number of formula units is round(n_atoms / atoms per formula unit) (>= 1),
// the box edge gives exactly `density_g_cm3` (use about 0.9 x the crystalline density), and
// atoms are added by random sequential addition honouring factor x MinContactDistance
// (never below 0.7 A); when a random trial cannot find room the best trial is taken and
// overlaps are relaxed by pushing pairs apart, lowering the factor if the packing jams. Requires
// n_atoms in [1, 1000], density in (0, 30]. InvalidArgument for an unknown element, bad arguments
// or a packing that cannot be made without close contacts (too dense).
absl::StatusOr<materials::Structure> MakeAmorphous(const std::map<std::string, double>& composition,
                                                   int n_atoms, double density_g_cm3, Rng& rng,
                                                   const AmorphousOptions& options = {});

struct Nanoparticle {
  materials::Structure structure;
  double radius_a = 0;  // radius of the cut actually used, Angstrom
};

// A sphere of radius `radius_a` (Angstrom) cut from a supercell of the periodic `crystal`,
// centred on its first site, put in the middle of a periodic cubic box whose edge is the
// particle diameter plus `vacuum_a` (>= 10 keeps periodic images apart; the structure stays
// periodic so the graph and XRD code can use it). If the sphere holds more than
// `max_atoms` atoms the radius shrinks in 3% steps until it fits (the radius used is
// returned and noted in structure.notes). Requires radius in [2, 50] A, vacuum in [0, 100] A,
// max_atoms in [2, 1000]. InvalidArgument for a molecule or bad arguments.
absl::StatusOr<Nanoparticle> MakeNanoparticle(const materials::Structure& crystal, double radius_a,
                                              double vacuum_a = 12.0, int max_atoms = 400);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_PROTOTYPES_H_
