#include "corpus/grain_growth.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace matalign::corpus {
namespace {

constexpr double kMinPorosity = 0.01;
constexpr double kMaxPorosity = 0.45;

absl::Status FieldError(absl::string_view type, absl::string_view field, absl::string_view rule,
                        double value) {
  return absl::InvalidArgumentError(
      absl::StrCat(type, ".", field, " must be ", rule, ", got ", value));
}

}  // namespace

absl::Status GrainGrowthParams::Validate() const {
  constexpr absl::string_view kType = "GrainGrowthParams";
  if (!std::isfinite(d0_um) || d0_um <= 0) return FieldError(kType, "d0_um", "> 0", d0_um);
  if (!std::isfinite(n) || n < 1 || n > 10) return FieldError(kType, "n", "in [1, 10]", n);
  if (!std::isfinite(k0) || k0 < 0) return FieldError(kType, "k0", ">= 0", k0);
  if (!std::isfinite(activation_kj_per_mol) || activation_kj_per_mol < 0) {
    return FieldError(kType, "activation_kj_per_mol", ">= 0", activation_kj_per_mol);
  }
  return absl::OkStatus();
}

absl::Status SinteringParams::Validate() const {
  constexpr absl::string_view kType = "SinteringParams";
  if (!std::isfinite(green_porosity) || green_porosity < 0 || green_porosity >= 1) {
    return FieldError(kType, "green_porosity", "in [0, 1)", green_porosity);
  }
  if (!std::isfinite(min_porosity) || min_porosity < 0 || min_porosity > green_porosity) {
    return FieldError(kType, "min_porosity", "in [0, green_porosity]", min_porosity);
  }
  if (!std::isfinite(reference_budget) || reference_budget <= 0) {
    return FieldError(kType, "reference_budget", "> 0", reference_budget);
  }
  if (!std::isfinite(exponent) || exponent <= 0) {
    return FieldError(kType, "exponent", "> 0", exponent);
  }
  return absl::OkStatus();
}

absl::StatusOr<double> ThermalBudget(const GrainGrowthParams& params,
                                     const std::vector<double>& temperatures_c,
                                     const std::vector<double>& times_h) {
  MATALIGN_RETURN_IF_ERROR(params.Validate());
  if (temperatures_c.size() != times_h.size()) {
    return absl::InvalidArgumentError(absl::StrCat("thermal history: ", temperatures_c.size(),
                                                   " temperatures but ", times_h.size(), " times"));
  }
  const double q_over_r = params.activation_kj_per_mol * 1e3 / kGasConstant;
  double budget = 0;
  for (size_t i = 0; i < temperatures_c.size(); ++i) {
    const double t_c = temperatures_c[i];
    const double t_h = times_h[i];
    if (!std::isfinite(t_c) || t_c < -273.15) {
      return absl::InvalidArgumentError(
          absl::StrCat("thermal history: step ", i, " temperature ", t_c,
                       " C is not a finite temperature above absolute zero"));
    }
    if (!std::isfinite(t_h) || t_h < 0) {
      return absl::InvalidArgumentError(absl::StrCat("thermal history: step ", i, " time ", t_h,
                                                     " h is not a finite non-negative duration"));
    }
    const double kelvin = t_c + 273.15;
    if (kelvin <= 0 || t_h == 0) continue;
    budget += params.k0 * std::exp(-q_over_r / kelvin) * t_h;
  }
  return budget;
}

absl::StatusOr<double> GrainSizeUm(const GrainGrowthParams& params,
                                   const std::vector<double>& temperatures_c,
                                   const std::vector<double>& times_h) {
  MATALIGN_ASSIGN_OR_RETURN(const double budget, ThermalBudget(params, temperatures_c, times_h));
  return std::pow(std::pow(params.d0_um, params.n) + budget, 1.0 / params.n);
}

absl::StatusOr<double> PorosityAfter(const GrainGrowthParams& growth,
                                     const SinteringParams& sintering,
                                     const std::vector<double>& temperatures_c,
                                     const std::vector<double>& times_h) {
  MATALIGN_RETURN_IF_ERROR(sintering.Validate());
  MATALIGN_ASSIGN_OR_RETURN(const double budget, ThermalBudget(growth, temperatures_c, times_h));
  const double removable = sintering.green_porosity - sintering.min_porosity;
  const double p =
      sintering.min_porosity +
      removable * std::exp(-std::pow(budget / sintering.reference_budget, sintering.exponent));
  return std::clamp(p, kMinPorosity, kMaxPorosity);
}

}  // namespace matalign::corpus
