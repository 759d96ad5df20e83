#include "corpus/properties.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "corpus/prototypes.h"
#include "materials/element.h"

namespace matalign::corpus {

absl::Status PropertyOptions::Validate() const {
  if (!(noise_scale >= 0 && noise_scale <= 10)) {
    return absl::InvalidArgumentError(
        absl::StrCat("noise_scale ", noise_scale, " is outside [0, 10]"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, double>> ComputeProperties(const PropertyInputs& in, Rng& rng,
                                                                const PropertyOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  if (in.structure == nullptr || in.structure->sites.empty()) {
    return absl::InvalidArgumentError("properties: no structure (or no sites)");
  }
  const materials::Structure& st = *in.structure;
  const std::string source = st.source.empty() ? st.name : st.source;
  auto error = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": properties: ", parts...));
  };
  if (!(in.porosity >= 0 && in.porosity <= 0.9)) {
    return error("porosity ", in.porosity, " is outside [0, 0.9]");
  }
  if (!(in.grain_size_nm >= 0) || !std::isfinite(in.grain_size_nm)) {
    return error("grain size ", in.grain_size_nm, " nm is negative or not finite");
  }
  if (!(in.size_mismatch >= 0) || !std::isfinite(in.lattice_strain)) {
    return error("size_mismatch must be >= 0 and lattice_strain finite");
  }
  const bool nano = in.material_class == MaterialClass::kNano;
  if (nano && !(in.particle_radius_a > 0 && in.bulk_density_g_cm3 > 0)) {
    return error("a nanoparticle needs particle_radius_a > 0 and bulk_density_g_cm3 > 0");
  }
  std::map<std::string, double> comp = in.composition;
  if (comp.empty()) {
    for (const auto& s : st.sites) {
      const materials::ElementInfo* e = materials::ElementByNumber(s.atomic_number);
      if (e == nullptr) return error("unknown atomic number ", s.atomic_number);
      comp[e->symbol] += s.occupancy;
    }
  }
  // Composition statistics.
  double n_total = 0, n_anion = 0, n_cation = 0, chi_anion = 0, chi_cation = 0, q_anion = 0,
         period_anion = 0, n_tm = 0, mass = 0;
  for (const auto& [symbol, n] : comp) {
    const materials::ElementInfo* e = materials::ElementBySymbol(symbol);
    if (e == nullptr) return error("unknown element '", symbol, "'");
    if (!(n > 0) || !std::isfinite(n)) return error("amount of ", symbol, " is not positive");
    n_total += n;
    mass += n * e->mass;
    const int q = AnionCharge(symbol);
    if (q != 0) {
      n_anion += n;
      chi_anion += n * e->electronegativity;
      q_anion += n * -q;
      period_anion += n * e->period;
    } else {
      n_cation += n;
      chi_cation += n * e->electronegativity;
      if (e->group >= 5 && e->group <= 11 && e->period >= 4) n_tm += n;
    }
  }
  double dchi = 0, x_anion = 0, q_x = 0, p_x = 2, f_tm = 0;
  if (n_anion > 0 && n_cation > 0) {
    dchi = chi_anion / n_anion - chi_cation / n_cation;
    x_anion = n_anion / n_total;
    q_x = q_anion / n_anion;
    p_x = period_anion / n_anion;
    f_tm = n_tm / n_cation;
  }
  const double noise = options.noise_scale;
  const double z_gap1 = Normal(rng), z_gap2 = Normal(rng), z_ef = Normal(rng), z_h = Normal(rng),
               z_rho = Normal(rng);

  // Band gap.
  double gap = 0;
  if (dchi > 0) {
    gap = std::max(0.0, 2.19 * dchi + 0.55 * dchi * dchi - 1.48 * f_tm - 0.30 * (p_x - 2));
  }
  if (in.material_class == MaterialClass::kAmorphous) gap = std::max(0.0, 0.8 * gap - 0.2);
  const double radius_nm = in.particle_radius_a / 10;
  if (nano && gap > 0) gap += std::min(2.0, 0.5 / (radius_nm * radius_nm));
  const double gap_noisy = std::max(0.0, gap * (1 + 0.05 * noise * z_gap1) + 0.05 * noise * z_gap2);

  // Formation energy.
  double ef = -0.75 * x_anion * q_x * (dchi > 0 ? dchi * dchi : 0) + 1.0 * in.size_mismatch +
              5 * in.lattice_strain * in.lattice_strain;
  if (in.material_class == MaterialClass::kAmorphous) ef += 0.15;
  if (nano) ef += 0.5 * std::min(1.0, 4.5 / in.particle_radius_a);
  const double ef_noisy = ef + 0.05 * noise * z_ef;

  // Density.
  const double density = nano ? in.bulk_density_g_cm3 : st.Density();
  if (!(density > 0)) return error("structure has no density (not periodic?)");

  // Hardness: H0 from the bond energy density, Hall-Petch, Rice's porosity law.
  const double mean_mass = mass / n_total;
  const double number_density = density * 0.602214076 / mean_mass;  // atoms per A^3
  const double h0 = 3.0 * std::fabs(std::min(ef, 0.0)) * number_density / 0.08;
  const double pore = std::exp(-3 * in.porosity);
  double hardness = 0;
  if (in.material_class == MaterialClass::kAmorphous) {
    hardness = 0.8 * h0 * pore;
  } else {
    const double hp =
        in.grain_size_nm > 0 ? 1.0 / std::sqrt(std::max(0.01, in.grain_size_nm / 1000)) : 0;
    hardness = (h0 + hp) * pore;
  }
  const double hardness_noisy = std::max(0.0, hardness * (1 + 0.05 * noise * z_h));

  const double rel = std::clamp(1 - in.porosity + 0.005 * noise * z_rho, 0.0, 1.0);

  return std::map<std::string, double>{{kBandGapEv, gap_noisy},
                                       {kFormationEnergyEvPerAtom, ef_noisy},
                                       {kDensityGCm3, density},
                                       {kHardnessGpa, hardness_noisy},
                                       {kRelativeDensity, rel}};
}

}  // namespace matalign::corpus
