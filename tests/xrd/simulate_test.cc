#include "xrd/simulate.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "materials/structure_io.h"
#include "tests/test_util.h"

namespace matalign::xrd {
namespace {

using materials::Lattice;
using materials::Structure;

constexpr double kRad = 3.14159265358979323846 / 180;

Structure Cubic(double a, const std::string& name) {
  Structure s;
  s.name = name;
  s.source = name;
  s.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
  return s;
}

void AddFcc(Structure* s, int z, double dx) {
  s->AddFractional(z, {dx, 0, 0});
  s->AddFractional(z, {dx, 0.5, 0.5});
  s->AddFractional(z, {dx + 0.5, 0, 0.5});
  s->AddFractional(z, {dx + 0.5, 0.5, 0});
}

Structure RockSalt(double a = 5.640) {
  Structure s = Cubic(a, "NaCl");
  AddFcc(&s, 11, 0.0);
  AddFcc(&s, 17, 0.5);
  return s;
}

// n x n x n supercell of `s`.
Structure Supercell(const Structure& s, int n) {
  const auto& v = s.lattice.vectors();
  Structure out;
  out.name = out.source = s.name + "_supercell";
  out.lattice = Lattice::FromVectors({{{v[0][0] * n, v[0][1] * n, v[0][2] * n},
                                       {v[1][0] * n, v[1][1] * n, v[1][2] * n},
                                       {v[2][0] * n, v[2][1] * n, v[2][2] * n}}});
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      for (int k = 0; k < n; ++k) {
        for (const auto& site : s.sites) {
          out.AddFractional(site.atomic_number, {(site.frac[0] + i) / n, (site.frac[1] + j) / n,
                                                 (site.frac[2] + k) / n});
        }
      }
    }
  }
  return out;
}

double BraggTwoTheta(double wavelength, double d) {
  return 2 * std::asin(wavelength / (2 * d)) / kRad;
}

// The cubic line whose sorted |h|,|k|,|l| equal (h, k, l) (h >= k >= l), or nullptr.
const Reflection* CubicLine(const std::vector<Reflection>& lines, int h, int k, int l) {
  for (const Reflection& r : lines) {
    std::array<int, 3> a = {std::abs(r.hkl[0]), std::abs(r.hkl[1]), std::abs(r.hkl[2])};
    std::sort(a.rbegin(), a.rend());
    if (a[0] == h && a[1] == k && a[2] == l) return &r;
  }
  return nullptr;
}

TEST(ComputeReflectionsTest, SimpleCubicFollowsBraggsLaw) {
  Structure s = Cubic(3.35, "Po");
  s.AddFractional(84, {0, 0, 0});
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> lines, ComputeReflections(s, {}));
  ASSERT_GE(lines.size(), 5u);
  for (const Reflection& r : lines) {
    const int n2 = r.hkl[0] * r.hkl[0] + r.hkl[1] * r.hkl[1] + r.hkl[2] * r.hkl[2];
    EXPECT_NEAR(r.d, 3.35 / std::sqrt(n2), 1e-9);
    EXPECT_NEAR(r.two_theta, BraggTwoTheta(kCuKAlpha1, 3.35 / std::sqrt(n2)), 1e-9);
    EXPECT_GE(r.two_theta, 5.0);
    EXPECT_LE(r.two_theta, 90.0);
    EXPECT_NEAR(r.intensity, r.multiplicity * r.f_squared * r.lp, 1e-9 * r.intensity);
  }
  EXPECT_TRUE(std::is_sorted(
      lines.begin(), lines.end(),
      [](const Reflection& a, const Reflection& b) { return a.two_theta < b.two_theta; }));
  const Reflection* r100 = CubicLine(lines, 1, 0, 0);
  const Reflection* r110 = CubicLine(lines, 1, 1, 0);
  const Reflection* r111 = CubicLine(lines, 1, 1, 1);
  ASSERT_NE(r100, nullptr);
  ASSERT_NE(r110, nullptr);
  ASSERT_NE(r111, nullptr);
  EXPECT_EQ(r100->hkl, (std::array<int, 3>{1, 0, 0}));
  EXPECT_EQ(r100->multiplicity, 6);
  EXPECT_EQ(r110->multiplicity, 12);
  EXPECT_EQ(r111->multiplicity, 8);
  EXPECT_NEAR(r100->two_theta, 26.58, 0.01);  // 2 asin(1.5406 / 6.70)
  // One atom: |F|^2 = (f exp(-B s^2))^2 <= Z^2, decreasing with angle.
  EXPECT_LT(r100->f_squared, 84.0 * 84.0);
  EXPECT_GT(r100->f_squared, r111->f_squared);
}

TEST(ComputeReflectionsTest, FccSystematicAbsences) {
  Structure s = Cubic(3.615, "Cu");
  AddFcc(&s, 29, 0.0);
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> lines, ComputeReflections(s, {}));
  EXPECT_EQ(CubicLine(lines, 1, 0, 0), nullptr);
  EXPECT_EQ(CubicLine(lines, 1, 1, 0), nullptr);
  EXPECT_EQ(CubicLine(lines, 2, 1, 0), nullptr);
  const Reflection* r111 = CubicLine(lines, 1, 1, 1);
  const Reflection* r200 = CubicLine(lines, 2, 0, 0);
  ASSERT_NE(r111, nullptr);
  ASSERT_NE(r200, nullptr);
  EXPECT_EQ(r111->multiplicity, 8);
  EXPECT_EQ(r200->multiplicity, 6);
  EXPECT_DOUBLE_EQ(r111->relative_intensity, 100.0);  // Cu (111) is the strongest line
  EXPECT_NEAR(r111->two_theta, 43.30, 0.02);
  for (const Reflection& r : lines) {  // fcc: h, k, l all even or all odd
    const int odd = (r.hkl[0] & 1) + (r.hkl[1] & 1) + (r.hkl[2] & 1);
    EXPECT_TRUE(odd == 0 || odd == 3) << r.hkl[0] << r.hkl[1] << r.hkl[2];
  }
}

TEST(ComputeReflectionsTest, RockSaltNaCl) {
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> lines, ComputeReflections(RockSalt(), {}));
  const Reflection* r111 = CubicLine(lines, 1, 1, 1);
  const Reflection* r200 = CubicLine(lines, 2, 0, 0);
  const Reflection* r220 = CubicLine(lines, 2, 2, 0);
  ASSERT_NE(r111, nullptr);
  ASSERT_NE(r200, nullptr);
  ASSERT_NE(r220, nullptr);
  EXPECT_EQ(CubicLine(lines, 1, 0, 0), nullptr);
  EXPECT_DOUBLE_EQ(r200->relative_intensity, 100.0);
  for (const Reflection& r : lines) EXPECT_LE(r.relative_intensity, 100.0);
  EXPECT_GT(r220->relative_intensity, 30.0);
  EXPECT_LT(r111->relative_intensity, 20.0);  // f(Cl) - f(Na) against f(Cl) + f(Na)
  EXPECT_GT(r111->relative_intensity, 1.0);
  EXPECT_NEAR(r200->two_theta, BraggTwoTheta(kCuKAlpha1, 5.640 / 2), 1e-9);
  EXPECT_NEAR(r200->two_theta, 31.70, 0.01);
}

TEST(ComputeReflectionsTest, CopperVersusMolybdenumFollowsBraggsLaw) {
  SimulationOptions cu;
  SimulationOptions mo;
  mo.wavelength = kMoKAlpha1;
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> cu_lines, ComputeReflections(RockSalt(), cu));
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> mo_lines, ComputeReflections(RockSalt(), mo));
  EXPECT_GT(mo_lines.size(), cu_lines.size());  // shorter wavelength reaches more lines
  int compared = 0;
  for (const Reflection& c : cu_lines) {
    for (const Reflection& m : mo_lines) {
      if (std::fabs(m.d - c.d) > 1e-9 * c.d) continue;
      ++compared;
      EXPECT_LT(m.two_theta, c.two_theta);
      EXPECT_NEAR(std::sin(0.5 * m.two_theta * kRad) / std::sin(0.5 * c.two_theta * kRad),
                  kMoKAlpha1 / kCuKAlpha1, 1e-9);
      EXPECT_EQ(m.multiplicity, c.multiplicity);
    }
  }
  EXPECT_EQ(compared, static_cast<int>(cu_lines.size()));
}

// The conventional cell is the oracle for a supercell: same lines, same relative
// intensities. The 5x5x5 cell has 1000 atoms.
TEST(ComputeReflectionsTest, SupercellGivesTheSameLines) {
  const Structure cell = RockSalt();
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> expected, ComputeReflections(cell, {}));
  for (int n : {2, 5}) {
    const Structure super = Supercell(cell, n);
    ASSERT_EQ(super.sites.size(), 8u * n * n * n);
    ASSERT_OK_AND_ASSIGN(std::vector<Reflection> got, ComputeReflections(super, {}));
    ASSERT_EQ(got.size(), expected.size()) << n;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i].two_theta, expected[i].two_theta, 1e-9);
      EXPECT_EQ(got[i].multiplicity, expected[i].multiplicity);
      EXPECT_NEAR(got[i].relative_intensity, expected[i].relative_intensity, 1e-6);
      EXPECT_NEAR(got[i].f_squared, expected[i].f_squared * std::pow(n, 6),
                  1e-6 * got[i].f_squared);
    }
  }
}

TEST(ComputeReflectionsTest, RealBiFeO3RhombohedralCentring) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "structures/cif/BiFeO3_R3c.cif");
  ASSERT_OK_AND_ASSIGN(Structure s, materials::ReadStructureFile(path));
  ASSERT_EQ(s.sites.size(), 30u);
  ASSERT_OK_AND_ASSIGN(std::vector<Reflection> lines, ComputeReflections(s, {}));
  for (const Reflection& r : lines) {  // R obverse: -h + k + l = 3n
    EXPECT_EQ(((-r.hkl[0] + r.hkl[1] + r.hkl[2]) % 3 + 3) % 3, 0)
        << r.hkl[0] << " " << r.hkl[1] << " " << r.hkl[2];
  }
  std::vector<Reflection> by_intensity = lines;
  std::sort(by_intensity.begin(), by_intensity.end(),
            [](const Reflection& a, const Reflection& b) { return a.intensity > b.intensity; });
  std::vector<std::array<int, 3>> top = {by_intensity[0].hkl, by_intensity[1].hkl};
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top[0], (std::array<int, 3>{1, 0, 4}));
  EXPECT_EQ(top[1], (std::array<int, 3>{1, 1, 0}));
  EXPECT_EQ(by_intensity[0].multiplicity, 6);
  EXPECT_EQ(by_intensity[1].multiplicity, 6);
  // Hexagonal d: 1/d^2 = 4/3 (h^2 + hk + k^2) / a^2 + l^2 / c^2.
  const double d104 = 1 / std::sqrt(4.0 / 3.0 / (5.5876 * 5.5876) + 16 / (13.867 * 13.867));
  for (const Reflection& r : lines) {
    if (r.hkl == std::array<int, 3>{1, 0, 4}) {
      EXPECT_NEAR(r.two_theta, BraggTwoTheta(kCuKAlpha1, d104), 1e-6);
    }
  }
}

TEST(ComputeReflectionsTest, BadInputsAreInvalidArgument) {
  Structure molecule = Cubic(10, "water.xyz");
  molecule.periodic = false;
  molecule.AddCartesian(8, {0, 0, 0});
  auto status = ComputeReflections(molecule, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("water.xyz"), absl::string_view::npos);

  EXPECT_EQ(ComputeReflections(Cubic(4, "empty"), {}).status().code(),
            absl::StatusCode::kInvalidArgument);

  Structure einsteinium = Cubic(4, "es");
  einsteinium.AddFractional(99, {0, 0, 0});
  status = ComputeReflections(einsteinium, {}).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("IT92"), absl::string_view::npos) << status;

  Structure flat;
  flat.source = "flat";
  flat.lattice = Lattice::FromVectors({{{1, 0, 0}, {0, 1, 0}, {1, 1, 0}}});
  flat.sites.push_back({});
  flat.sites.back().atomic_number = 8;
  EXPECT_EQ(ComputeReflections(flat, {}).status().code(), absl::StatusCode::kInvalidArgument);

  SimulationOptions small;
  small.max_hkl = 1000;
  status = ComputeReflections(Supercell(RockSalt(), 3), small).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("max_hkl"), absl::string_view::npos) << status;
}

TEST(SimulationOptionsTest, Validate) {
  EXPECT_OK(SimulationOptions{}.Validate());
  for (auto mutate : std::vector<void (*)(SimulationOptions&)>{
           [](SimulationOptions& o) { o.wavelength = 0; },
           [](SimulationOptions& o) { o.wavelength = std::nan(""); },
           [](SimulationOptions& o) { o.two_theta_min = 95; },
           [](SimulationOptions& o) { o.two_theta_max = 180; },
           [](SimulationOptions& o) { o.step = 0; },
           [](SimulationOptions& o) { o.step = 1e-7; },
           [](SimulationOptions& o) { o.fwhm = -1; },
           [](SimulationOptions& o) { o.caglioti_v = -1; },
           [](SimulationOptions& o) { o.eta = 1.5; },
           [](SimulationOptions& o) { o.b_iso = -1; },
           [](SimulationOptions& o) { o.kalpha2_ratio = 2; },
           [](SimulationOptions& o) { o.profile_cutoff = 0; },
           [](SimulationOptions& o) { o.max_hkl = 0; },
       }) {
    SimulationOptions bad;
    mutate(bad);
    EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(SimulatePattern(RockSalt(), bad).status().code(), absl::StatusCode::kInvalidArgument);
  }
  SimulationOptions caglioti;
  caglioti.caglioti_u = 0.01;
  EXPECT_OK(caglioti.Validate());
  EXPECT_NEAR(caglioti.FwhmAt(0), 0.1, 1e-12);
  EXPECT_GT(caglioti.FwhmAt(80), caglioti.FwhmAt(20));
}

TEST(SimulatePatternTest, NaClProfile) {
  SimulationOptions options;
  ASSERT_OK_AND_ASSIGN(XrdPattern p, SimulatePattern(RockSalt(), options));
  EXPECT_EQ(p.two_theta.size(), 4251u);  // 5..90 in 0.02 steps
  EXPECT_DOUBLE_EQ(p.wavelength, kCuKAlpha1);
  EXPECT_EQ(p.source, "NaCl");
  EXPECT_OK(ValidatePattern(p));
  const size_t peak = static_cast<size_t>(std::max_element(p.intensity.begin(), p.intensity.end()) -
                                          p.intensity.begin());
  EXPECT_DOUBLE_EQ(p.intensity[peak], 100.0);
  EXPECT_NEAR(p.two_theta[peak], BraggTwoTheta(kCuKAlpha1, 2.820), 0.011);
  for (double v : p.intensity) EXPECT_GE(v, 0.0);
}

TEST(SimulatePatternTest, KAlpha2Companion) {
  SimulationOptions options;
  options.fwhm = 0.04;
  options.step = 0.005;
  options.two_theta_min = 70;
  options.two_theta_max = 80;
  const double d420 = 5.640 / std::sqrt(20.0);
  const double t1 = BraggTwoTheta(kCuKAlpha1, d420);
  const double t2 = BraggTwoTheta(kCuKAlpha2, d420);
  ASSERT_GT(t2 - t1, 0.2);
  auto value_at = [](const XrdPattern& p, double t) {
    const size_t i = static_cast<size_t>(std::lround((t - p.two_theta[0]) / 0.005));
    return p.intensity[i];
  };
  ASSERT_OK_AND_ASSIGN(XrdPattern mono, SimulatePattern(RockSalt(), options));
  EXPECT_LT(value_at(mono, t2) / value_at(mono, t1), 0.05);
  options.kalpha2_ratio = 0.5;
  ASSERT_OK_AND_ASSIGN(XrdPattern doublet, SimulatePattern(RockSalt(), options));
  EXPECT_NEAR(value_at(doublet, t2) / value_at(doublet, t1), 0.5, 0.1);
}

}  // namespace
}  // namespace matalign::xrd
