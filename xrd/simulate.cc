// Powder XRD simulation: hkl enumeration, structure factors with IT92 form factors,
// grouping into powder lines, Lorentz-polarization and pseudo-Voigt profiles.
#include "xrd/simulate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "gemmi/it92.hpp"
#include "materials/element.h"

namespace matalign::xrd {
namespace {

using materials::Structure;
using materials::Vec3;

constexpr double kPi = 3.14159265358979323846;
constexpr double kRadPerDeg = kPi / 180.0;
constexpr int kMaxPatternPoints = 2'000'000;
// Highest atomic number with an IT92 form factor (Cf).
constexpr int kMaxIt92AtomicNumber = 98;

using FormFactor = gemmi::IT92<double>::Coef;

double Dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 Cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
Vec3 Scaled(const Vec3& a, double s) { return {a[0] * s, a[1] * s, a[2] * s}; }
Vec3 Sum(const Vec3& a, const Vec3& b) { return {a[0] + b[0], a[1] + b[1], a[2] + b[2]}; }

std::string SourceOf(const Structure& structure) {
  if (!structure.source.empty()) return structure.source;
  if (!structure.name.empty()) return structure.name;
  return "structure";
}

absl::Status Invalid(absl::string_view source, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", reason));
}

// Sites sorted by element, in structure-of-arrays form for the structure-factor loop.
struct AtomTable {
  std::vector<double> x, y, z, occupancy;      // [num_atoms]
  std::vector<size_t> element_begin;           // [num_elements + 1]: atoms of element e are
                                               // [element_begin[e], element_begin[e + 1])
  std::vector<const FormFactor*> form_factor;  // [num_elements]
  double f000 = 0;                             // sum of occupancy * f(0), electrons
};

absl::StatusOr<AtomTable> MakeAtomTable(const Structure& structure, absl::string_view source) {
  if (structure.sites.empty()) return Invalid(source, "structure has no sites");
  std::vector<size_t> order(structure.sites.size());
  for (size_t i = 0; i < order.size(); ++i) {
    const materials::Site& site = structure.sites[i];
    if (site.atomic_number < 1 || site.atomic_number > kMaxIt92AtomicNumber) {
      const materials::ElementInfo* element = materials::ElementByNumber(site.atomic_number);
      return Invalid(
          source,
          absl::StrCat("site ", i + 1, " (", element ? element->symbol : "unknown element",
                       ", Z=", site.atomic_number, ") has no IT92 X-ray form factor (Z must be 1..",
                       kMaxIt92AtomicNumber, ")"));
    }
    for (double f : site.frac) {
      if (!std::isfinite(f)) {
        return Invalid(source, absl::StrCat("site ", i + 1, " has a non-finite coordinate"));
      }
    }
    if (!(site.occupancy > 0 && site.occupancy <= 1)) {
      return Invalid(source, absl::StrCat("site ", i + 1, " has occupancy ", site.occupancy,
                                          " outside (0, 1]"));
    }
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return structure.sites[a].atomic_number < structure.sites[b].atomic_number;
  });
  AtomTable table;
  int current_z = 0;
  for (size_t idx : order) {
    const materials::Site& site = structure.sites[idx];
    if (site.atomic_number != current_z) {
      current_z = site.atomic_number;
      table.element_begin.push_back(table.x.size());
      const FormFactor* ff = &gemmi::IT92<double>::get(static_cast<gemmi::El>(current_z));
      table.form_factor.push_back(ff);
    }
    // Wrapping into [0, 1) keeps the phase arguments small; it does not change F.
    table.x.push_back(site.frac[0] - std::floor(site.frac[0]));
    table.y.push_back(site.frac[1] - std::floor(site.frac[1]));
    table.z.push_back(site.frac[2] - std::floor(site.frac[2]));
    table.occupancy.push_back(site.occupancy);
    table.f000 += site.occupancy * table.form_factor.back()->calculate_sf(0.0);
  }
  table.element_begin.push_back(table.x.size());
  return table;
}

// One enumerated hkl (one of a Friedel pair) with |G|^2 = 1/d^2 and |F|^2.
struct RawReflection {
  int h, k, l;
  double g2;
  double f2;
};

// Orders representative candidates: more non-negative indices first, then larger h, k, l.
bool BetterRepresentative(const std::array<int, 3>& a, const std::array<int, 3>& b) {
  const int na = (a[0] >= 0) + (a[1] >= 0) + (a[2] >= 0);
  const int nb = (b[0] >= 0) + (b[1] >= 0) + (b[2] >= 0);
  if (na != nb) return na > nb;
  return a > b;
}

double LorentzPolarization(double two_theta_deg) {
  const double theta = 0.5 * two_theta_deg * kRadPerDeg;
  const double c2 = std::cos(2 * theta);
  const double s = std::sin(theta);
  return (1 + c2 * c2) / (s * s * std::cos(theta));
}

}  // namespace

absl::Status SimulationOptions::Validate() const {
  auto bad = [](absl::string_view field, double value, absl::string_view range) {
    return absl::InvalidArgumentError(
        absl::StrCat("SimulationOptions.", field, " = ", value, " is outside ", range));
  };
  if (!(wavelength > 0.01 && wavelength <= 10)) return bad("wavelength", wavelength, "(0.01, 10]");
  if (!(two_theta_min >= 0 && two_theta_min < 179)) {
    return bad("two_theta_min", two_theta_min, "[0, 179)");
  }
  if (!(two_theta_max > two_theta_min && two_theta_max <= 179)) {
    return bad("two_theta_max", two_theta_max, "(two_theta_min, 179]");
  }
  if (!(step > 0) || !std::isfinite(step) || (two_theta_max - two_theta_min) / step < 1 ||
      (two_theta_max - two_theta_min) / step > kMaxPatternPoints) {
    return bad("step", step, absl::StrCat("the range giving 2 to ", kMaxPatternPoints, " points"));
  }
  if (!(fwhm > 0 && fwhm <= 10)) return bad("fwhm", fwhm, "(0, 10]");
  if (!std::isfinite(caglioti_u)) return bad("caglioti_u", caglioti_u, "finite values");
  if (!std::isfinite(caglioti_v)) return bad("caglioti_v", caglioti_v, "finite values");
  // FWHM^2 = U t^2 + V t + W with t = tan(theta) must stay positive over the range.
  const double t_lo = std::tan(0.5 * two_theta_min * kRadPerDeg);
  const double t_hi = std::tan(0.5 * two_theta_max * kRadPerDeg);
  auto w2 = [&](double t) { return caglioti_u * t * t + caglioti_v * t + fwhm * fwhm; };
  double min_w2 = std::min(w2(t_lo), w2(t_hi));
  if (caglioti_u > 0) {
    const double vertex = -caglioti_v / (2 * caglioti_u);
    if (vertex > t_lo && vertex < t_hi) min_w2 = std::min(min_w2, w2(vertex));
  }
  if (!(min_w2 > 1e-8) || !std::isfinite(std::max(w2(t_lo), w2(t_hi)))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SimulationOptions: Caglioti FWHM^2 = U tan^2 + V tan + fwhm^2 is not positive over "
        "the 2-theta range (U=",
        caglioti_u, ", V=", caglioti_v, ", fwhm=", fwhm, ")"));
  }
  if (!(eta >= 0 && eta <= 1)) return bad("eta", eta, "[0, 1]");
  if (!(b_iso >= 0 && b_iso <= 50)) return bad("b_iso", b_iso, "[0, 50]");
  if (!(kalpha2_ratio >= 0 && kalpha2_ratio <= 1)) {
    return bad("kalpha2_ratio", kalpha2_ratio, "[0, 1]");
  }
  if (!(kalpha2_wavelength > 0.01 && kalpha2_wavelength <= 10)) {
    return bad("kalpha2_wavelength", kalpha2_wavelength, "(0.01, 10]");
  }
  if (!(profile_cutoff >= 1 && profile_cutoff <= 1000)) {
    return bad("profile_cutoff", profile_cutoff, "[1, 1000]");
  }
  if (max_hkl < 1) return bad("max_hkl", max_hkl, "[1, inf)");
  return absl::OkStatus();
}

double SimulationOptions::FwhmAt(double two_theta) const {
  const double t = std::tan(0.5 * two_theta * kRadPerDeg);
  const double w2 = caglioti_u * t * t + caglioti_v * t + fwhm * fwhm;
  return std::sqrt(std::max(w2, 1e-8));
}

absl::StatusOr<std::vector<Reflection>> ComputeReflections(const Structure& structure,
                                                           const SimulationOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const std::string source = SourceOf(structure);
  if (!structure.periodic) {
    return Invalid(source, "a molecule (non-periodic structure) has no powder pattern");
  }
  const auto& rows = structure.lattice.vectors();
  const Vec3& a = rows[0];
  const Vec3& b = rows[1];
  const Vec3& c = rows[2];
  for (const Vec3& v : rows) {
    for (double x : v) {
      if (!std::isfinite(x)) return Invalid(source, "lattice has a non-finite component");
    }
  }
  const double volume = Dot(a, Cross(b, c));  // signed
  const double aa = Dot(a, a), bb = Dot(b, b), cc_len2 = Dot(c, c);
  if (!(std::fabs(volume) > 1e-6 * std::sqrt(aa * bb * cc_len2)) || !(std::fabs(volume) > 1e-3)) {
    return Invalid(source, absl::StrCat("degenerate cell (volume ", volume, " A^3)"));
  }
  MATALIGN_ASSIGN_OR_RETURN(const AtomTable atoms, MakeAtomTable(structure, source));

  // Reciprocal basis (crystallographer's, no 2 pi): G = h a* + k b* + l c*, |G| = 1/d.
  const Vec3 a_star = Scaled(Cross(b, c), 1 / volume);
  const Vec3 b_star = Scaled(Cross(c, a), 1 / volume);
  const Vec3 c_star = Scaled(Cross(a, b), 1 / volume);
  const double lambda = options.wavelength;
  const double g_max = 2 * std::sin(0.5 * options.two_theta_max * kRadPerDeg) / lambda;
  const double g_min = 2 * std::sin(0.5 * options.two_theta_min * kRadPerDeg) / lambda;
  const double g2_max = g_max * g_max;
  const double g2_min = g_min * g_min;
  const double estimated = 2.0 / 3.0 * kPi * g_max * g_max * g_max * std::fabs(volume);
  if (estimated > options.max_hkl) {
    return Invalid(source,
                   absl::StrCat("cell volume ", std::fabs(volume), " A^3 needs ~",
                                static_cast<int64_t>(estimated), " hkl up to 2-theta ",
                                options.two_theta_max, ", more than max_hkl = ", options.max_hkl));
  }

  const size_t n_atoms = atoms.x.size();
  const size_t n_elements = atoms.form_factor.size();
  const double f2_floor = 1e-10 * atoms.f000 * atoms.f000;
  std::vector<double> step_re(n_atoms), step_im(n_atoms);  // exp(2 pi i z_j)
  for (size_t j = 0; j < n_atoms; ++j) {
    step_re[j] = std::cos(2 * kPi * atoms.z[j]);
    step_im[j] = std::sin(2 * kPi * atoms.z[j]);
  }
  std::vector<double> p_re(n_atoms), p_im(n_atoms);  // occ_j exp(2 pi i (h x + k y + l z))
  // Multiplies atom j's phase factor by exp(2 pi i z_j): l -> l + 1.
  auto advance = [&](size_t j) {
    const double re = p_re[j] * step_re[j] - p_im[j] * step_im[j];
    p_im[j] = p_re[j] * step_im[j] + p_im[j] * step_re[j];
    p_re[j] = re;
  };
  std::vector<RawReflection> raw;
  int64_t enumerated = 0;

  // Enumerate the half-sphere h > 0, or h = 0 and k > 0, or h = k = 0 and l > 0. For each
  // h the k range is the projection of the disk {G : G.a = h, |G| <= g_max} onto b, and for
  // each (h, k) the l range solves |u + l c*|^2 <= g_max^2 with u = h a* + k b*.
  constexpr double kEps = 1e-9;
  // Index ranges are checked in double precision before conversion so that absurd cells
  // (a huge axis with a tiny volume) fail cleanly instead of overflowing int.
  const double h_max_d = std::floor(g_max * std::sqrt(aa) + kEps);
  if (h_max_d > options.max_hkl) {
    return Invalid(source,
                   absl::StrCat("|h| up to ", h_max_d, " exceeds max_hkl = ", options.max_hkl));
  }
  const int h_max = static_cast<int>(h_max_d);
  int64_t hk_pairs = 0;
  const Vec3 b_perp = Sum(b, Scaled(a, -Dot(a, b) / aa));
  const double b_perp_len = std::sqrt(Dot(b_perp, b_perp));
  const double cs2 = Dot(c_star, c_star);
  for (int h = 0; h <= h_max; ++h) {
    const double r2 = g2_max - static_cast<double>(h) * h / aa;
    if (r2 < 0) continue;
    const double k_centre = h * Dot(a, b) / aa;
    const double k_radius = std::sqrt(r2) * b_perp_len;
    const double k_lo_d = std::ceil(k_centre - k_radius - kEps);
    const double k_hi_d = std::floor(k_centre + k_radius + kEps);
    hk_pairs += static_cast<int64_t>(std::min(k_hi_d - k_lo_d + 1, 4.0e9));
    if (hk_pairs > options.max_hkl || std::fabs(k_lo_d) > 1e9 || std::fabs(k_hi_d) > 1e9) {
      return Invalid(source, absl::StrCat("more than max_hkl = ", options.max_hkl,
                                          " (h, k) pairs up to 2-theta ", options.two_theta_max));
    }
    int k_lo = static_cast<int>(k_lo_d);
    const int k_hi = static_cast<int>(k_hi_d);
    if (h == 0) k_lo = std::max(k_lo, 0);
    for (int k = k_lo; k <= k_hi; ++k) {
      const Vec3 u = Sum(Scaled(a_star, h), Scaled(b_star, k));
      const double uc = Dot(u, c_star);
      const double uu = Dot(u, u);
      const double disc = uc * uc - cs2 * (uu - g2_max);
      if (disc < 0) continue;
      const double root = std::sqrt(disc);
      const double l_lo_d = std::ceil((-uc - root) / cs2 - kEps);
      const double l_hi_d = std::floor((-uc + root) / cs2 + kEps);
      if (l_lo_d > l_hi_d) continue;
      enumerated += static_cast<int64_t>(std::min(l_hi_d - l_lo_d + 1, 4.0e9));
      if (enumerated > options.max_hkl || std::fabs(l_lo_d) > 1e9 || std::fabs(l_hi_d) > 1e9) {
        return Invalid(source, absl::StrCat("more than max_hkl = ", options.max_hkl,
                                            " hkl up to 2-theta ", options.two_theta_max));
      }
      int l_lo = static_cast<int>(l_lo_d);
      const int l_hi = static_cast<int>(l_hi_d);
      if (h == 0 && k == 0) l_lo = std::max(l_lo, 1);
      if (l_lo > l_hi) continue;
      for (size_t j = 0; j < n_atoms; ++j) {
        double t = h * atoms.x[j] + k * atoms.y[j] + l_lo * atoms.z[j];
        t -= std::floor(t);
        p_re[j] = atoms.occupancy[j] * std::cos(2 * kPi * t);
        p_im[j] = atoms.occupancy[j] * std::sin(2 * kPi * t);
      }
      for (int l = l_lo; l <= l_hi; ++l) {
        const double g2 = uu + 2.0 * l * uc + static_cast<double>(l) * l * cs2;
        if (!(g2 >= g2_min * (1 - kEps) && g2 <= g2_max * (1 + kEps) && g2 > 0)) {
          for (size_t j = 0; j < n_atoms; ++j) advance(j);
          continue;
        }
        const double stol2 = 0.25 * g2;  // (sin(theta) / lambda)^2
        const double debye_waller = std::exp(-options.b_iso * stol2);
        double f_re = 0, f_im = 0;
        for (size_t e = 0; e < n_elements; ++e) {
          // Sum this element's phase factors while advancing them to l + 1; two
          // accumulators each shorten the floating-point add dependency chain.
          double s_re[2] = {0, 0}, s_im[2] = {0, 0};
          const size_t end = atoms.element_begin[e + 1];
          size_t j = atoms.element_begin[e];
          for (; j + 1 < end; j += 2) {
            s_re[0] += p_re[j];
            s_im[0] += p_im[j];
            s_re[1] += p_re[j + 1];
            s_im[1] += p_im[j + 1];
            advance(j);
            advance(j + 1);
          }
          if (j < end) {
            s_re[0] += p_re[j];
            s_im[0] += p_im[j];
            advance(j);
          }
          const double f = atoms.form_factor[e]->calculate_sf(stol2) * debye_waller;
          f_re += f * (s_re[0] + s_re[1]);
          f_im += f * (s_im[0] + s_im[1]);
        }
        const double f2 = f_re * f_re + f_im * f_im;
        if (f2 > f2_floor) raw.push_back({h, k, l, g2, f2});
      }
    }
  }

  // Group into powder lines: equal d, then equal |F|^2.
  std::sort(raw.begin(), raw.end(),
            [](const RawReflection& x, const RawReflection& y) { return x.g2 < y.g2; });
  std::vector<Reflection> lines;
  for (size_t begin = 0; begin < raw.size();) {
    size_t end = begin + 1;
    while (end < raw.size() && raw[end].g2 - raw[begin].g2 <= 1e-7 * raw[begin].g2) ++end;
    std::sort(raw.begin() + begin, raw.begin() + end,
              [](const RawReflection& x, const RawReflection& y) { return x.f2 < y.f2; });
    for (size_t i = begin; i < end;) {
      size_t j = i + 1;
      while (j < end && raw[j].f2 - raw[i].f2 <= 1e-5 * raw[j].f2 + f2_floor) ++j;
      Reflection line;
      double g2_sum = 0, f2_sum = 0;
      bool first = true;
      for (size_t m = i; m < j; ++m) {
        g2_sum += raw[m].g2;
        f2_sum += raw[m].f2;
        for (int sign : {1, -1}) {
          const std::array<int, 3> hkl = {sign * raw[m].h, sign * raw[m].k, sign * raw[m].l};
          if (first || BetterRepresentative(hkl, line.hkl)) line.hkl = hkl;
          first = false;
        }
      }
      const double count = static_cast<double>(j - i);
      line.multiplicity = static_cast<int>(2 * (j - i));
      line.d = 1 / std::sqrt(g2_sum / count);
      const double sin_theta = lambda / (2 * line.d);
      if (sin_theta < 1) {
        line.two_theta = 2 * std::asin(sin_theta) / kRadPerDeg;
        line.f_squared = f2_sum / count;
        line.lp = LorentzPolarization(line.two_theta);
        line.intensity = line.multiplicity * line.f_squared * line.lp;
        lines.push_back(line);
      }
      i = j;
    }
    begin = end;
  }
  std::sort(lines.begin(), lines.end(), [](const Reflection& x, const Reflection& y) {
    if (x.two_theta != y.two_theta) return x.two_theta < y.two_theta;
    return x.intensity > y.intensity;
  });
  double max_intensity = 0;
  for (const Reflection& line : lines) max_intensity = std::max(max_intensity, line.intensity);
  for (Reflection& line : lines) {
    line.relative_intensity = max_intensity > 0 ? 100 * line.intensity / max_intensity : 0;
  }
  return lines;
}

absl::StatusOr<XrdPattern> ProfileFromReflections(const std::vector<Reflection>& reflections,
                                                  const SimulationOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const double span = options.two_theta_max - options.two_theta_min;
  const int n = static_cast<int>(std::floor(span / options.step + 1e-9)) + 1;
  XrdPattern pattern;
  pattern.wavelength = options.wavelength;
  pattern.two_theta.resize(n);
  pattern.intensity.assign(n, 0.0);
  for (int i = 0; i < n; ++i) pattern.two_theta[i] = options.two_theta_min + i * options.step;

  const double eta = options.eta;
  const double ln2 = std::log(2.0);
  auto add_peak = [&](double centre, double weight) {
    if (!(weight > 0) || !std::isfinite(weight) || !std::isfinite(centre)) return;
    const double fwhm = options.FwhmAt(centre);
    const double reach = options.profile_cutoff * fwhm;
    // Clamped in double precision before the conversion to int.
    const double lo_d =
        std::max(0.0, std::ceil((centre - reach - options.two_theta_min) / options.step));
    const double hi_d =
        std::min(n - 1.0, std::floor((centre + reach - options.two_theta_min) / options.step));
    if (!(lo_d <= hi_d)) return;
    const int lo = static_cast<int>(lo_d);
    const int hi = static_cast<int>(hi_d);
    // Area-normalized Gaussian and Lorentzian with the same FWHM.
    const double gauss_height = 2 / fwhm * std::sqrt(ln2 / kPi);
    const double gauss_rate = 4 * ln2 / (fwhm * fwhm);
    const double lorentz_height = 2 / (kPi * fwhm);
    const double lorentz_rate = 4 / (fwhm * fwhm);
    for (int i = lo; i <= hi; ++i) {
      const double dx = pattern.two_theta[i] - centre;
      const double dx2 = dx * dx;
      pattern.intensity[i] += weight * (eta * lorentz_height / (1 + lorentz_rate * dx2) +
                                        (1 - eta) * gauss_height * std::exp(-gauss_rate * dx2));
    }
  };
  for (const Reflection& r : reflections) {
    add_peak(r.two_theta, r.intensity);
    if (options.kalpha2_ratio > 0 && r.d > 0) {
      const double sin_theta2 = options.kalpha2_wavelength / (2 * r.d);
      if (sin_theta2 < 1) {
        add_peak(2 * std::asin(sin_theta2) / kRadPerDeg, options.kalpha2_ratio * r.intensity);
      }
    }
  }
  double max_value = 0;
  for (double v : pattern.intensity) max_value = std::max(max_value, v);
  if (max_value > 0) {
    for (double& v : pattern.intensity) v *= 100 / max_value;
  }
  return pattern;
}

absl::StatusOr<XrdPattern> SimulatePattern(const Structure& structure,
                                           const SimulationOptions& options) {
  MATALIGN_ASSIGN_OR_RETURN(const std::vector<Reflection> reflections,
                            ComputeReflections(structure, options));
  MATALIGN_ASSIGN_OR_RETURN(XrdPattern pattern, ProfileFromReflections(reflections, options));
  pattern.source = SourceOf(structure);
  return pattern;
}

}  // namespace matalign::xrd
