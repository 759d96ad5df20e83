// Powder X-ray diffraction simulation from a periodic Structure: reflections (hkl, d,
// 2-theta, |F|^2, multiplicity, Lorentz-polarization) and a pseudo-Voigt profile.
//
// Model (kinematic, laboratory Bragg-Brentano geometry without monochromator):
//   I(hkl) = m * |F(hkl)|^2 * LP(theta),   LP = (1 + cos^2 2theta) / (sin^2 theta cos theta),
//   F(hkl) = sum_j occ_j f_j(s) exp(-B s^2) exp(2 pi i (h x_j + k y_j + l z_j)),
// with s = sin(theta) / lambda = 1 / (2 d), f_j the neutral-atom IT92 (International Tables
// Vol. C, 4-Gaussian) form factor of site j's element, occ_j its occupancy and B one
// isotropic Debye-Waller factor for all atoms. No absorption, preferred orientation,
// anomalous dispersion or extinction. Indices refer to the cell of the Structure as given
// (e.g. the hexagonal cell of an R-centred structure), and lattice centring shows up as
// systematic absences (|F|^2 = 0), which are dropped.
//
// Functions here are pure and thread-safe.
#ifndef MATALIGN_XRD_SIMULATE_H_
#define MATALIGN_XRD_SIMULATE_H_

#include <array>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "materials/structure.h"
#include "xrd/pattern.h"

namespace matalign::xrd {

// Characteristic wavelengths in Angstrom: Cu K-alpha1 from Hoelzer et al., Phys. Rev. A 56,
// 4554 (1997); Cu K-alpha2 from Maskil & Deutsch, Phys. Rev. A 38, 2947 (1988); Mo from
// Bearden, Rev. Mod. Phys. 39, 78 (1967).
inline constexpr double kCuKAlpha1 = 1.5405929;
inline constexpr double kCuKAlpha2 = 1.5444256;
inline constexpr double kMoKAlpha1 = 0.709300;
inline constexpr double kMoKAlpha2 = 0.713590;

struct SimulationOptions {
  // X-ray wavelength, Angstrom, in (0.01, 10]. Default: kCuKAlpha1 (1.5405929).
  double wavelength = kCuKAlpha1;
  // Range of 2-theta, degrees, 0 <= min < max <= 179: reflections outside it are not
  // computed and the pattern spans it. Default: 5 to 90.
  double two_theta_min = 5.0;
  double two_theta_max = 90.0;
  // Step of the simulated pattern, degrees. Default: 0.02.
  double step = 0.02;
  // Peak full width at half maximum in degrees 2-theta, via Caglioti:
  // FWHM^2 = caglioti_u * tan^2(theta) + caglioti_v * tan(theta) + fwhm^2; must be > 0 over
  // the range. Default: fwhm 0.1, caglioti_u 0, caglioti_v 0 (constant 0.1 degrees).
  double fwhm = 0.1;
  double caglioti_u = 0.0;
  double caglioti_v = 0.0;
  // Pseudo-Voigt Lorentzian fraction eta in [0, 1] (0 = Gaussian, 1 = Lorentzian).
  // Default: 0.5.
  double eta = 0.5;
  // Isotropic Debye-Waller factor B for every atom, A^2, in [0, 50]. Default: 0.5.
  double b_iso = 0.5;
  // Intensity of a K-alpha2 companion of every peak relative to K-alpha1, in [0, 1]; 0 = a
  // monochromatic (K-alpha1 only) pattern. Affects SimulatePattern only. Default: 0.
  double kalpha2_ratio = 0.0;
  // Wavelength of the K-alpha2 companion, Angstrom. Default: kCuKAlpha2.
  double kalpha2_wavelength = kCuKAlpha2;
  // Each peak profile is evaluated within +-profile_cutoff * FWHM of its centre, in
  // [1, 1000]. Default: 25 (the truncated Lorentzian tail holds ~1.3% of its area).
  double profile_cutoff = 25.0;
  // Most Miller indices that may be enumerated (half of the reciprocal-lattice sphere
  // |G| <= 2 sin(theta_max) / lambda), a guard against huge cells. Default: 2,000,000.
  int max_hkl = 2'000'000;

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
  // Peak FWHM (degrees 2-theta) at the given 2-theta (degrees).
  double FwhmAt(double two_theta) const;
};

// One powder line: a set of hkl with equal d and equal |F|^2.
struct Reflection {
  std::array<int, 3> hkl{};       // representative indices: most non-negative, then largest h, k, l
  int multiplicity = 0;           // number of hkl (Friedel mates included) in the line
  double d = 0;                   // interplanar spacing, Angstrom
  double two_theta = 0;           // Bragg angle 2-theta, degrees, for options.wavelength
  double f_squared = 0;           // |F(hkl)|^2 of one member, electrons^2, Debye-Waller included
  double lp = 0;                  // Lorentz-polarization factor at two_theta
  double intensity = 0;           // multiplicity * f_squared * lp
  double relative_intensity = 0;  // intensity scaled so that the strongest line is 100
};

// Computes all reflections with 2-theta in [options.two_theta_min, options.two_theta_max].
// Every hkl in the reciprocal-lattice sphere is enumerated (one of each Friedel pair, which
// has the same |F|^2), then hkl with equal d (relative 1e-7) and equal |F|^2 (relative 1e-5)
// are merged into one Reflection whose multiplicity counts them: symmetry-equivalent hkl
// always merge, accidentally coincident lines with different |F|^2 (e.g. cubic 333 and 511
// in some structures) stay separate entries at the same 2-theta. Lines with |F|^2 below
// 1e-10 * F(000)^2 (systematic absences) are dropped.
// Returns the reflections sorted by increasing 2-theta, or InvalidArgument (message starts
// with structure.source) if the options are invalid, the structure is not periodic, has no
// sites, a degenerate cell, an element without IT92 form factor (Z outside 1..98), a
// non-finite coordinate, an occupancy outside (0, 1], or would need more than
// options.max_hkl indices.
absl::StatusOr<std::vector<Reflection>> ComputeReflections(const materials::Structure& structure,
                                                           const SimulationOptions& options);

// Simulates the powder pattern: points at two_theta_min + i * step up to two_theta_max,
// each the sum of the area-normalized pseudo-Voigt profiles (FWHM from FwhmAt, mixing eta)
// of all reflections weighted by their intensity (plus K-alpha2 companions when
// kalpha2_ratio > 0), normalized so that the highest point is 100 (all zero if no
// reflection lies in the range). Tails of reflections outside the range are not included.
// Returns the pattern (wavelength = options.wavelength, source = structure.source, or its
// name when that is empty) or the errors of ComputeReflections.
absl::StatusOr<XrdPattern> SimulatePattern(const materials::Structure& structure,
                                           const SimulationOptions& options);

// As SimulatePattern, from reflections computed with the same options.
absl::StatusOr<XrdPattern> ProfileFromReflections(const std::vector<Reflection>& reflections,
                                                  const SimulationOptions& options);

}  // namespace matalign::xrd

#endif  // MATALIGN_XRD_SIMULATE_H_
