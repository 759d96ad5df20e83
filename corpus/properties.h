// Material properties of synthetic corpus records, computed from the structure, the
// composition and (for the synthesis-dependent ones) the microstructure the recipe made,
// by documented proxy formulas plus Gaussian measurement noise. No single modality knows
// every property: the gap and formation energy follow composition and structure, the
// hardness and relative density need the recipe's grain size and porosity.
#ifndef MATALIGN_CORPUS_PROPERTIES_H_
#define MATALIGN_CORPUS_PROPERTIES_H_

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "corpus/record.h"
#include "corpus/rng.h"
#include "materials/structure.h"

namespace matalign::corpus {

// Property names (keys of ComputeProperties' map and of Record::properties).
inline constexpr char kBandGapEv[] = "band_gap_ev";
inline constexpr char kFormationEnergyEvPerAtom[] = "formation_energy_ev_per_atom";
inline constexpr char kDensityGCm3[] = "density_g_cm3";
inline constexpr char kHardnessGpa[] = "hardness_gpa";
inline constexpr char kRelativeDensity[] = "relative_density";

struct PropertyInputs {
  // The structure (crystal cell, amorphous box or nanoparticle box). Required; not owned.
  const materials::Structure* structure = nullptr;
  // Symbol -> amount per formula unit. Empty = taken from the structure's sites.
  std::map<std::string, double> composition;
  MaterialClass material_class = MaterialClass::kCrystalline;
  // Crystal::size_mismatch (0 for amorphous or unknown).
  double size_mismatch = 0;
  // Crystal::strain, isotropic lattice strain.
  double lattice_strain = 0;
  // Nanoparticles: the radius of the particle (Angstrom) and the density of the crystal it
  // was cut from (g/cm^3); both required for kNano, ignored otherwise.
  double particle_radius_a = 0;
  double bulk_density_g_cm3 = 0;
  // From the synthesis: mean grain size in nm (0 = unknown: no Hall-Petch term) and the
  // pore volume fraction in [0, 0.9].
  double grain_size_nm = 0;
  double porosity = 0;
};

struct PropertyOptions {
  // Multiplies every noise standard deviation; 0 gives the noiseless formulas.
  // Default: 1.0.
  double noise_scale = 1.0;

  absl::Status Validate() const;
};

// Returns the five properties. With dchi = (count-weighted mean Pauling electronegativity of
// the anions O S Se Te N F Cl Br I) - (that of the other elements), x_X = anion fraction of
// the atoms, q_X = mean |anion charge|, f_TM = fraction of cations in groups 5-11, p_X =
// mean anion period, n = atoms per cubic Angstrom of the dense material:
//  band_gap_ev = max(0, 2.19 dchi + 0.55 dchi^2 - 1.48 f_TM - 0.30 (p_X - 2)), a fit to 28
//    binary and ternary compounds (NaCl ... LiCoO2, RMS 1.6 eV); 0 without anions or for
//    dchi <= 0. Amorphous: 0.8 Eg - 0.2 (band tails). Nano: + 0.5 eV nm^2 / R^2 (confinement,
//    at most 2 eV) when Eg > 0. Noise: Eg (1 + 0.05 z) + 0.05 z, clamped at 0.
//  formation_energy_ev_per_atom = -0.75 x_X q_X dchi^2 (Pauling's bond-energy excess)
//    + 1.0 size_mismatch + 5 lattice_strain^2; amorphous + 0.15; nano + 0.5 f_s with the
//    surface-atom fraction f_s = min(1, 4.5 A / R). Noise: + 0.05 z.
//  density_g_cm3 = Structure::Density() exactly (nano: bulk_density_g_cm3); no noise.
//  hardness_gpa = (H0 + k / sqrt(d_um)) exp(-3 porosity) with H0 = 3.0 |E_f| (n / 0.08),
//    E_f the noiseless formation energy, k = 1.0 GPa um^0.5 (Hall-Petch), d_um the grain
//    size in um clamped at >= 0.01 (no inverse Hall-Petch); amorphous has no grains:
//    0.8 H0 exp(-3 porosity). Noise: x (1 + 0.05 z).
//  relative_density = 1 - porosity + 0.005 z, clamped to [0, 1].
// z are independent standard normals drawn from `rng` in the order above (always drawn,
// so the stream advances the same for any noise_scale).
// InvalidArgument for a missing structure, an unknown element, porosity outside [0, 0.9],
// a negative grain size, or a nanoparticle without radius or bulk density.
absl::StatusOr<std::map<std::string, double>> ComputeProperties(
    const PropertyInputs& inputs, Rng& rng, const PropertyOptions& options = {});

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_PROPERTIES_H_
