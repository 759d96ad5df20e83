// The physical links between a synthesis recipe's thermal history and its micrograph:
// normal grain growth and a simple sintering (densification) law driven by the same
// thermal budget.
//
// Grain growth (the classical law, Burke & Turnbull; n = 3 as for pore/solute-drag limited
// growth in ceramics):
//   d^n - d0^n = k0 * exp(-Q / (R * T)) * t          T in kelvin, t in hours, d in um
// Successive heating steps accumulate d^n, so the thermal budget of a recipe is
//   W = sum_i k0 * exp(-Q / (R * T_i)) * t_i         (um^n)
// and d = (d0^n + W)^(1/n). The defaults (d0 = 0.2 um, n = 3, Q = 125 kJ/mol,
// k0 = 3.0e5 um^3/h) give about 0.30 um at 600 C / 2 h, 2.8 um at 1000 C / 10 h and 7.6 um at
// 1400 C / 12 h, typical of oxide ceramics.
//
// Porosity (sintering): the open porosity of a green compact falls with the same budget,
//   p = p_min + (p_green - p_min) * exp(-(W / W_ref)^m)
// clamped to [0.01, 0.45]. The defaults (p_green = 0.45, p_min = 0.01, W_ref = 30 um^3,
// m = 0.5) give about 0.44 at 600 C / 2 h, 0.20 at 1000 C / 10 h and 0.02 at 1400 C / 12 h.
//
// All functions are pure and thread-safe.
#ifndef MATALIGN_CORPUS_GRAIN_GROWTH_H_
#define MATALIGN_CORPUS_GRAIN_GROWTH_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace matalign::corpus {

// The gas constant, J / (mol K).
inline constexpr double kGasConstant = 8.314462618;

struct GrainGrowthParams {
  // Initial (powder / as-precipitated) grain size, um.
  // Default: 0.2.
  double d0_um = 0.2;
  // Growth exponent n (2 = ideal boundary-curvature driven, 3 = pore/solute drag).
  // Default: 3.
  double n = 3.0;
  // Pre-exponential rate constant, um^n per hour.
  // Default: 3.0e5.
  double k0 = 3.0e5;
  // Activation energy Q of grain-boundary migration, kJ/mol.
  // Default: 125.
  double activation_kj_per_mol = 125.0;

  // Returns InvalidArgument naming the field unless d0_um > 0, n in [1, 10], k0 >= 0 and
  // activation_kj_per_mol >= 0 (all finite).
  absl::Status Validate() const;
};

struct SinteringParams {
  // Porosity of the unfired compact (no thermal budget).
  // Default: 0.45.
  double green_porosity = 0.45;
  // Porosity approached at an infinite budget.
  // Default: 0.01.
  double min_porosity = 0.01;
  // Budget W_ref (um^n of the grain-growth law) at which 1 - 1/e of the removable porosity
  // is gone.
  // Default: 30.
  double reference_budget = 30.0;
  // Stretch exponent m of the densification curve.
  // Default: 0.5.
  double exponent = 0.5;

  // Returns InvalidArgument naming the field unless 0 <= min_porosity <= green_porosity < 1,
  // reference_budget > 0 and exponent > 0 (all finite).
  absl::Status Validate() const;
};

// Returns the thermal budget W = sum_i k0 * exp(-Q / (R * T_i)) * t_i in um^n of the heating
// steps (temperatures_c[i] in Celsius held for times_h[i] hours). Empty steps give 0.
// Returns InvalidArgument if `params` is invalid, the two vectors differ in size, a
// temperature is not finite or below -273.15 C, or a time is not finite or negative.
absl::StatusOr<double> ThermalBudget(const GrainGrowthParams& params,
                                     const std::vector<double>& temperatures_c,
                                     const std::vector<double>& times_h);

// Returns the grain size in um after the heating steps, d = (d0^n + W)^(1/n): each step
// continues from the size the previous ones left. No steps gives d0. Errors as ThermalBudget.
absl::StatusOr<double> GrainSizeUm(const GrainGrowthParams& params,
                                   const std::vector<double>& temperatures_c,
                                   const std::vector<double>& times_h);

// Returns the porosity (volume fraction, in [0.01, 0.45]) after the heating steps, from the
// sintering law above with the budget W of `growth`. Errors as ThermalBudget, or
// InvalidArgument if `sintering` is invalid.
absl::StatusOr<double> PorosityAfter(const GrainGrowthParams& growth,
                                     const SinteringParams& sintering,
                                     const std::vector<double>& temperatures_c,
                                     const std::vector<double>& times_h);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_GRAIN_GROWTH_H_
