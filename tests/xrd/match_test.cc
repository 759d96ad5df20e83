#include "xrd/match.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "materials/structure_io.h"
#include "tests/test_util.h"
#include "xrd/simulate.h"

namespace matalign::xrd {
namespace {

// LaB6 (Pm-3m, NIST SRM 660c lattice parameter; B on 6f x 1/2 1/2), written as a CIF so
// that the symmetry expansion of the reader is exercised too.
constexpr char kLaB6Cif[] = R"(data_LaB6
_symmetry_space_group_name_H-M 'P m -3 m'
_symmetry_Int_Tables_number 221
_cell_length_a 4.15683
_cell_length_b 4.15683
_cell_length_c 4.15683
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
La1 La 0 0 0
B1 B 0.1996 0.5 0.5
)";

// NaCl (Fm-3m), a = 5.640.
constexpr char kNaClCif[] = R"(data_NaCl
_symmetry_space_group_name_H-M 'F m -3 m'
_symmetry_Int_Tables_number 225
_cell_length_a 5.640
_cell_length_b 5.640
_cell_length_c 5.640
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0 0 0
Cl1 Cl 0.5 0.5 0.5
)";

absl::StatusOr<XrdPattern> Simulate(const char* cif, const std::string& name) {
  absl::StatusOr<materials::Structure> structure = materials::ParseStructure(cif, name + ".cif");
  if (!structure.ok()) return structure.status();
  SimulationOptions options;
  options.two_theta_min = 10;
  options.two_theta_max = 100;
  options.step = 0.01;
  return SimulatePattern(*structure, options);
}

// `pattern` (strongest point 100) displaced by `shift` degrees on a background of a sloped
// line and a broad amorphous hump, plus Gaussian counting noise of `noise` times the square
// root of the counts when `noise` > 0: what a scan with a zero error looks like.
XrdPattern AsMeasured(const XrdPattern& pattern, double shift, double noise = 0,
                      unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  XrdPattern measured = pattern;
  measured.source = "measured";
  for (size_t i = 0; i < measured.two_theta.size(); ++i) {
    const double t = measured.two_theta[i];
    measured.two_theta[i] = t + shift;
    double& y = measured.intensity[i];
    y += 8 - 0.05 * t + 2 * std::exp(-0.5 * (t - 25) * (t - 25) / 25);
    if (noise > 0) y += noise * std::sqrt(y) * gauss(rng);
  }
  return measured;
}

class MatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(lab6_, Simulate(kLaB6Cif, "LaB6"));
    ASSERT_OK_AND_ASSIGN(nacl_, Simulate(kNaClCif, "NaCl"));
    ASSERT_OK_AND_ASSIGN(lab6_peaks_, FindPeaks(lab6_, SimulatedPeakOptions()));
    ASSERT_OK_AND_ASSIGN(nacl_peaks_, FindPeaks(nacl_, SimulatedPeakOptions()));
    ASSERT_GE(lab6_peaks_.size(), 15u);
    ASSERT_GE(nacl_peaks_.size(), 8u);
  }

  XrdPattern lab6_, nacl_;
  std::vector<Peak> lab6_peaks_, nacl_peaks_;
};

TEST_F(MatchTest, LaB6CifExpandsToOneFormulaUnit) {
  ASSERT_OK_AND_ASSIGN(materials::Structure s, materials::ParseStructure(kLaB6Cif, "LaB6.cif"));
  EXPECT_EQ(s.sites.size(), 7u);
  EXPECT_EQ(s.ReducedFormula(), "B6La");
}

TEST_F(MatchTest, RecoversAKnownZeroShiftAndMatchesEveryStrongPeak) {
  constexpr double kShift = 0.237;
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> measured, FindPeaks(AsMeasured(lab6_, kShift)));
  ASSERT_OK_AND_ASSIGN(PeakMatchResult r, MatchPeakLists(lab6_peaks_, measured));
  EXPECT_NEAR(r.zero_shift, kShift, 0.003);
  ASSERT_EQ(r.peaks.size(), 10u);
  EXPECT_EQ(r.num_matched, 10);
  EXPECT_DOUBLE_EQ(r.matched_fraction, 1.0);
  EXPECT_DOUBLE_EQ(r.weighted_fraction, 1.0);
  EXPECT_LT(r.mean_abs_offset, 0.005);
  EXPECT_DOUBLE_EQ(r.measured_explained_fraction, 1.0);
  EXPECT_EQ(r.num_measured_scored, 10);
  for (size_t i = 0; i < r.peaks.size(); ++i) {
    const MatchedPeak& p = r.peaks[i];
    EXPECT_TRUE(p.matched) << p.simulated_two_theta;
    EXPECT_NEAR(p.measured_two_theta - p.simulated_two_theta, kShift, 0.005);
    if (i > 0) {
      EXPECT_LE(p.simulated_height, r.peaks[i - 1].simulated_height);
    }
  }
}

TEST_F(MatchTest, WithoutTheShiftSearchTheDisplacedPeaksAreMissed) {
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> measured, FindPeaks(AsMeasured(lab6_, 0.237)));
  PeakMatchOptions options;
  options.fit_zero_shift = false;
  ASSERT_OK_AND_ASSIGN(PeakMatchResult r, MatchPeakLists(lab6_peaks_, measured, options));
  EXPECT_EQ(r.zero_shift, 0);
  EXPECT_EQ(r.num_matched, 0);
  EXPECT_EQ(r.mean_abs_offset, 0);
  // A wider tolerance accepts them again.
  options.tolerance = 0.3;
  ASSERT_OK_AND_ASSIGN(r, MatchPeakLists(lab6_peaks_, measured, options));
  EXPECT_EQ(r.num_matched, 10);
  EXPECT_NEAR(r.mean_abs_offset, 0.237, 0.005);
}

TEST_F(MatchTest, AWrongStructureExplainsFewPeaks) {
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> measured, FindPeaks(AsMeasured(lab6_, 0.237)));
  ASSERT_OK_AND_ASSIGN(PeakMatchResult r, MatchPeakLists(nacl_peaks_, measured));
  EXPECT_LE(r.matched_fraction, 0.5);
  EXPECT_LE(r.measured_explained_fraction, 0.5);
  EXPECT_GE(r.unexplained_measured.size(), 5u);
}

TEST_F(MatchTest, KAlpha2CompanionsCountAsExplained) {
  ASSERT_OK_AND_ASSIGN(materials::Structure s, materials::ParseStructure(kLaB6Cif, "LaB6.cif"));
  SimulationOptions options;
  options.two_theta_min = 10;
  options.two_theta_max = 100;
  options.step = 0.01;
  options.fwhm = 0.05;  // K-alpha2 resolved from about 40 degrees up
  options.kalpha2_ratio = 0.5;
  ASSERT_OK_AND_ASSIGN(XrdPattern doublet, SimulatePattern(s, options));
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> measured, FindPeaks(AsMeasured(doublet, 0.1)));
  PeakMatchOptions match;
  match.strongest_measured = 0;
  ASSERT_OK_AND_ASSIGN(PeakMatchResult plain, MatchPeakLists(lab6_peaks_, measured, match));
  match.companion_wavelength_ratio = kCuKAlpha2 / kCuKAlpha1;
  ASSERT_OK_AND_ASSIGN(PeakMatchResult with, MatchPeakLists(lab6_peaks_, measured, match));
  EXPECT_LT(plain.measured_explained_fraction, 0.8);
  EXPECT_FALSE(plain.unexplained_measured.empty());
  EXPECT_DOUBLE_EQ(with.measured_explained_fraction, 1.0);
  EXPECT_TRUE(with.unexplained_measured.empty());
  EXPECT_EQ(with.num_matched, plain.num_matched);
  match.companion_wavelength_ratio = 0.5;
  EXPECT_EQ(match.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(MatchTest, StrongestZeroScoresEveryPeak) {
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> measured, FindPeaks(AsMeasured(lab6_, 0.1)));
  PeakMatchOptions options;
  options.strongest = 0;
  options.strongest_measured = 0;
  ASSERT_OK_AND_ASSIGN(PeakMatchResult r, MatchPeakLists(lab6_peaks_, measured, options));
  EXPECT_EQ(r.peaks.size(), lab6_peaks_.size());
  EXPECT_EQ(r.num_measured_scored, static_cast<int>(measured.size()));
}

TEST_F(MatchTest, RejectsEmptyListsAndBadOptions) {
  EXPECT_EQ(MatchPeakLists({}, lab6_peaks_).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MatchPeakLists(lab6_peaks_, {}).status().code(), absl::StatusCode::kInvalidArgument);
  std::vector<Peak> bad = lab6_peaks_;
  bad[0].two_theta = std::nan("");
  EXPECT_EQ(MatchPeakLists(bad, lab6_peaks_).status().code(), absl::StatusCode::kInvalidArgument);
  PeakMatchOptions options;
  options.tolerance = 0;
  EXPECT_EQ(MatchPeakLists(lab6_peaks_, lab6_peaks_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.min_shift = 2;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options.fit_zero_shift = false;  // the range is then not used
  EXPECT_OK(options.Validate());
}

TEST_F(MatchTest, SimilarityOfAPatternWithItselfIsOne) {
  ASSERT_OK_AND_ASSIGN(SimilarityResult r, PatternSimilarity(lab6_, lab6_));
  EXPECT_NEAR(r.cosine, 1.0, 1e-9);
  EXPECT_EQ(r.shift, 0);
  EXPECT_EQ(r.num_points, 4501);
}

TEST_F(MatchTest, ShiftedCopyOnABackgroundIsFoundWithItsShift) {
  const XrdPattern measured = AsMeasured(lab6_, 0.3);
  ASSERT_OK_AND_ASSIGN(SimilarityResult r, PatternSimilarity(measured, lab6_));
  // Not 1: SNIP leaves a little of the hump, and the shift moves 0.3 degrees at each end of
  // the common range out of the comparison.
  EXPECT_GT(r.cosine, 0.98);
  EXPECT_NEAR(r.shift, 0.3, 0.011);
  // The argument order only flips the sign of the shift.
  ASSERT_OK_AND_ASSIGN(SimilarityResult flipped, PatternSimilarity(lab6_, measured));
  EXPECT_NEAR(flipped.cosine, r.cosine, 1e-9);
  EXPECT_NEAR(flipped.shift, -r.shift, 1e-9);
  // Without the shift search the same pair scores far lower.
  SimilarityOptions no_shift;
  no_shift.max_shift = 0;
  ASSERT_OK_AND_ASSIGN(SimilarityResult fixed, PatternSimilarity(measured, lab6_, no_shift));
  EXPECT_LT(fixed.cosine, r.cosine - 0.3);
}

TEST_F(MatchTest, NoisyScanStillPrefersTheRightStructure) {
  // Noise of 0.5 sqrt(y) on a strongest point of 100: like a scan of ~400 counts at most.
  const XrdPattern measured = AsMeasured(lab6_, -0.2, 0.5);
  ASSERT_OK_AND_ASSIGN(SimilarityResult right, PatternSimilarity(measured, lab6_));
  ASSERT_OK_AND_ASSIGN(SimilarityResult wrong, PatternSimilarity(measured, nacl_));
  EXPECT_GT(right.cosine, 0.8);
  EXPECT_NEAR(right.shift, -0.2, 0.021);
  EXPECT_LT(wrong.cosine, right.cosine - 0.3);
  ASSERT_OK_AND_ASSIGN(std::vector<Peak> peaks, FindPeaks(measured));
  ASSERT_OK_AND_ASSIGN(PeakMatchResult r, MatchPeakLists(lab6_peaks_, peaks));
  EXPECT_NEAR(r.zero_shift, -0.2, 0.01);
  EXPECT_EQ(r.num_matched, 10);
}

TEST_F(MatchTest, DifferentStructureIsLessSimilar) {
  const XrdPattern measured = AsMeasured(lab6_, 0.3);
  ASSERT_OK_AND_ASSIGN(SimilarityResult right, PatternSimilarity(measured, lab6_));
  ASSERT_OK_AND_ASSIGN(SimilarityResult wrong, PatternSimilarity(measured, nacl_));
  EXPECT_LT(wrong.cosine, 0.6);
  EXPECT_LT(wrong.cosine, right.cosine - 0.3);
  // Also in the linear variant without background removal or broadening.
  SimilarityOptions plain;
  plain.sqrt_intensity = false;
  plain.background_window = 0;
  plain.broadening_sigma = 0;
  ASSERT_OK_AND_ASSIGN(right, PatternSimilarity(lab6_, lab6_, plain));
  ASSERT_OK_AND_ASSIGN(wrong, PatternSimilarity(lab6_, nacl_, plain));
  EXPECT_NEAR(right.cosine, 1.0, 1e-9);
  EXPECT_LT(wrong.cosine, 0.5);
}

TEST_F(MatchTest, SimilarityRejectsDisjointRangesEmptyProfilesAndBadOptions) {
  XrdPattern far = lab6_;
  for (double& t : far.two_theta) t += 95;
  EXPECT_EQ(PatternSimilarity(lab6_, far).status().code(), absl::StatusCode::kInvalidArgument);

  XrdPattern flat = lab6_;
  for (double& v : flat.intensity) v = 5;  // all background
  absl::StatusOr<SimilarityResult> r = PatternSimilarity(lab6_, flat);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);

  SimilarityOptions options;
  options.step = 0;
  EXPECT_EQ(PatternSimilarity(lab6_, lab6_, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = {};
  options.broadening_sigma = -1;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.two_theta_min = 50;
  options.two_theta_max = 40;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::xrd
