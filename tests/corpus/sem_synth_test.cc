#include "corpus/sem_synth.h"

#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "corpus/grain_growth.h"
#include "gtest/gtest.h"
#include "imaging/data_bar.h"
#include "tests/test_util.h"

namespace matalign::corpus {
namespace {

// ---- Grain growth and sintering ----

double Grain(std::vector<double> temps, std::vector<double> times) {
  auto d = GrainSizeUm(GrainGrowthParams{}, temps, times);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : -1;
}

double Porosity(std::vector<double> temps, std::vector<double> times) {
  auto p = PorosityAfter(GrainGrowthParams{}, SinteringParams{}, temps, times);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : -1;
}

TEST(GrainGrowthTest, DefaultsGiveTypicalCeramicGrainSizes) {
  EXPECT_NEAR(Grain({600}, {2}), 0.3, 0.05);
  EXPECT_GE(Grain({1000}, {10}), 1.0);
  EXPECT_LE(Grain({1000}, {10}), 3.0);
  EXPECT_GE(Grain({1400}, {12}), 5.0);
  EXPECT_LE(Grain({1400}, {12}), 20.0);
  EXPECT_DOUBLE_EQ(Grain({}, {}), GrainGrowthParams{}.d0_um);
  EXPECT_DOUBLE_EQ(Grain({1200}, {0}), GrainGrowthParams{}.d0_um);
}

TEST(GrainGrowthTest, MonotoneInTemperatureAndTime) {
  double last = 0;
  for (double t_c = 100; t_c <= 1600; t_c += 100) {
    const double d = Grain({t_c}, {5});
    EXPECT_GT(d, last) << t_c;
    last = d;
  }
  last = 0;
  for (double hours : {0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 24.0, 100.0}) {
    const double d = Grain({1100}, {hours});
    EXPECT_GT(d, last) << hours;
    last = d;
  }
}

TEST(GrainGrowthTest, StepsAccumulate) {
  // Two holds of t/2 equal one hold of t; a low-temperature calcination before the sintering
  // step adds a little; step order does not matter for the accumulated d^n.
  EXPECT_NEAR(Grain({1200, 1200}, {3, 3}), Grain({1200}, {6}), 1e-12);
  EXPECT_GT(Grain({800, 1300}, {4, 6}), Grain({1300}, {6}));
  EXPECT_NEAR(Grain({800, 1300}, {4, 6}), Grain({1300, 800}, {6, 4}), 1e-12);
  // Continuing from the previous size: d2^n = d1^n + K(T2) t2.
  GrainGrowthParams p;
  const double d1 = Grain({900}, {2});
  p.d0_um = d1;
  ASSERT_OK_AND_ASSIGN(const double continued, GrainSizeUm(p, {1250}, {8}));
  EXPECT_NEAR(continued, Grain({900, 1250}, {2, 8}), 1e-12);
}

TEST(GrainGrowthTest, PorosityFallsWithThermalBudgetAndIsClamped) {
  EXPECT_NEAR(Porosity({}, {}), 0.45, 1e-12);
  EXPECT_GT(Porosity({600}, {2}), 0.4);
  EXPECT_NEAR(Porosity({1000}, {10}), 0.2, 0.05);
  EXPECT_LT(Porosity({1400}, {12}), 0.05);
  EXPECT_GE(Porosity({1800}, {100}), 0.01);
  double last = 1;
  for (double t_c = 400; t_c <= 1600; t_c += 100) {
    const double p = Porosity({t_c}, {4});
    EXPECT_LT(p, last) << t_c;
    last = p;
  }
  // Clamping holds for parameters outside the physical window too.
  SinteringParams wide;
  wide.green_porosity = 0.9;
  wide.min_porosity = 0.0;
  ASSERT_OK_AND_ASSIGN(const double hi, PorosityAfter({}, wide, {}, {}));
  EXPECT_DOUBLE_EQ(hi, 0.45);
  ASSERT_OK_AND_ASSIGN(const double lo, PorosityAfter({}, wide, {2000}, {1000}));
  EXPECT_DOUBLE_EQ(lo, 0.01);
}

TEST(GrainGrowthTest, RejectsBadInput) {
  const GrainGrowthParams p;
  EXPECT_EQ(GrainSizeUm(p, {1000, 1100}, {1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrainSizeUm(p, {1000}, {-1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrainSizeUm(p, {-300}, {1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrainSizeUm(p, {NAN}, {1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(GrainSizeUm(p, {1000}, {INFINITY}).status().code(), absl::StatusCode::kInvalidArgument);
  GrainGrowthParams bad;
  bad.d0_um = 0;
  EXPECT_EQ(GrainSizeUm(bad, {}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  bad = {};
  bad.n = 0.5;
  EXPECT_EQ(bad.Validate().code(), absl::StatusCode::kInvalidArgument);
  SinteringParams sbad;
  sbad.min_porosity = 0.6;
  EXPECT_EQ(PorosityAfter(p, sbad, {}, {}).status().code(), absl::StatusCode::kInvalidArgument);
  const absl::Status s = GrainSizeUm(p, {1000}, {-1}).status();
  EXPECT_NE(s.message().find("step 0"), std::string::npos) << s;
}

// ---- Defect names and parameters ----

TEST(SemSynthTest, DefectNamesRoundTrip) {
  ASSERT_EQ(AllDefects().size(), 6u);
  for (Defect d : AllDefects()) {
    ASSERT_OK_AND_ASSIGN(const Defect parsed, ParseDefect(DefectName(d)));
    EXPECT_EQ(parsed, d);
  }
  EXPECT_EQ(DefectName(Defect::kAbnormalGrainGrowth), "abnormal_grain_growth");
  EXPECT_EQ(ParseDefect("scratch").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDefect("").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SemSynthTest, ParamsValidate) {
  EXPECT_OK(SemParams{}.Validate());
  auto code = [](auto mutate) {
    SemParams p;
    mutate(p);
    Rng rng(1);
    return RenderSem(p, rng).status().code();
  };
  constexpr auto kBad = absl::StatusCode::kInvalidArgument;
  EXPECT_EQ(code([](SemParams& p) { p.grain_size_um = 0; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.grain_size_um = NAN; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.porosity = 0.7; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.porosity = -0.1; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.width = 64; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.height = 5000; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.pixel_size_um = -1; }), kBad);
  EXPECT_EQ(code([](SemParams& p) { p.pixel_size_um = 1.0; }), kBad);  // 1 px grains
  EXPECT_EQ(code([](SemParams& p) { p.defect = static_cast<Defect>(17); }), kBad);
}

TEST(SemSynthTest, MagnificationResolvesGrains) {
  for (double d = 0.02; d <= 100; d *= 1.37) {
    const double mag = ChooseMagnification(d, 512);
    const double px = d / (kReferenceDisplayWidthUm / (mag * 512));
    EXPECT_GE(px, 12.0) << d << " um at x" << mag;
    EXPECT_LE(px, 32.0) << d << " um at x" << mag;
  }
}

// ---- Rendering ----

TEST(SemSynthTest, DeterministicForTheSameStream) {
  SemParams params;
  params.grain_size_um = 1.7;
  params.porosity = 0.12;
  params.defect = Defect::kCrack;
  Rng a = StreamFor(5, 3, 11), b = StreamFor(5, 3, 11), c = StreamFor(5, 4, 11);
  SemInfo ia, ib;
  ASSERT_OK_AND_ASSIGN(const imaging::Image x, RenderSem(params, a, &ia));
  ASSERT_OK_AND_ASSIGN(const imaging::Image y, RenderSem(params, b, &ib));
  ASSERT_OK_AND_ASSIGN(const imaging::Image z, RenderSem(params, c));
  EXPECT_EQ(x.width, 512);
  EXPECT_EQ(x.height, 512);
  EXPECT_OK(imaging::ValidateImage(x));
  EXPECT_EQ(x.pixels, y.pixels);
  EXPECT_EQ(ia.magnification, ib.magnification);
  EXPECT_EQ(ia.pore_fraction, ib.pore_fraction);
  EXPECT_NE(x.pixels, z.pixels);
  // The streams are left in the same state.
  EXPECT_EQ(a(), b());
  // Same bytes once encoded.
  ASSERT_OK_AND_ASSIGN(const std::string px, imaging::EncodePng(x));
  ASSERT_OK_AND_ASSIGN(const std::string py, imaging::EncodePng(y));
  EXPECT_EQ(px, py);
}

// The data bar is found exactly by the real-data detector, for every defect class and a
// range of grain sizes, and removing it leaves the micrograph.
class SemBarTest : public ::testing::TestWithParam<std::tuple<Defect, double>> {};

TEST_P(SemBarTest, DetectorFindsTheBar) {
  const auto [defect, grain_um] = GetParam();
  SemParams params;
  params.defect = defect;
  params.grain_size_um = grain_um;
  params.porosity = grain_um < 1 ? 0.3 : 0.04;
  Rng rng = StreamFor(21, static_cast<uint64_t>(defect), static_cast<uint64_t>(grain_um * 10));
  SemInfo info;
  ASSERT_OK_AND_ASSIGN(const imaging::Image image, RenderSem(params, rng, &info));
  EXPECT_GT(info.scale_bar_px, 0);
  EXPECT_LE(info.scale_bar_px, 0.22 * params.width + 1);
  EXPECT_NEAR(info.scale_bar_px * info.pixel_size_um, info.scale_bar_um, info.pixel_size_um);
  ASSERT_OK_AND_ASSIGN(const imaging::DataBar bar, imaging::DetectDataBar(image));
  ASSERT_TRUE(bar.found);
  EXPECT_EQ(bar.bottom_row, image.height - 1);
  EXPECT_EQ(bar.top_row, info.micrograph_rows);
  EXPECT_NEAR(bar.height(), 0.085 * image.height, 1.0);
  ASSERT_OK_AND_ASSIGN(const imaging::Image micrograph, imaging::RemoveDataBar(image, bar));
  EXPECT_EQ(micrograph.height, info.micrograph_rows);
  for (size_t i = 0; i < micrograph.pixels.size(); ++i) {
    ASSERT_EQ(micrograph.pixels[i], image.pixels[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(DefectsAndSizes, SemBarTest,
                         ::testing::Combine(::testing::ValuesIn(AllDefects()),
                                            ::testing::Values(0.25, 1.5, 8.0, 40.0)),
                         [](const ::testing::TestParamInfo<SemBarTest::ParamType>& info) {
                           return absl::StrCat(DefectName(std::get<0>(info.param)), "_",
                                               static_cast<int>(std::get<1>(info.param) * 100),
                                               "nm10");
                         });

TEST(SemSynthTest, BarFoundAtOtherImageSizes) {
  for (auto [w, h] : {std::pair{256, 256}, std::pair{640, 480}, std::pair{384, 768}}) {
    SemParams params;
    params.width = w;
    params.height = h;
    params.grain_size_um = 3.0;
    Rng rng = StreamFor(2, w, h);
    SemInfo info;
    ASSERT_OK_AND_ASSIGN(const imaging::Image image, RenderSem(params, rng, &info));
    ASSERT_EQ(image.width, w);
    ASSERT_EQ(image.height, h);
    ASSERT_OK_AND_ASSIGN(const imaging::DataBar bar, imaging::DetectDataBar(image));
    ASSERT_TRUE(bar.found) << w << "x" << h;
    EXPECT_EQ(bar.top_row, info.micrograph_rows) << w << "x" << h;
  }
}

TEST(SemSynthTest, MeasuredGrainSizeFollowsRequested) {
  double last = 0;
  for (double d : {0.3, 0.6, 1.2, 2.5, 5.0, 10.0, 20.0}) {
    SemParams params;
    params.grain_size_um = d;
    params.porosity = 0.05;
    Rng rng = StreamFor(9, static_cast<uint64_t>(d * 10), 0);
    SemInfo info;
    ASSERT_OK_AND_ASSIGN(const imaging::Image image, RenderSem(params, rng, &info));
    ASSERT_OK_AND_ASSIGN(const double measured, MeasureGrainSizeUm(image, info.pixel_size_um));
    EXPECT_GT(measured, last) << d;
    EXPECT_GT(measured, d / 1.5) << d;
    EXPECT_LT(measured, d * 1.5) << d;
    last = measured;
  }
}

TEST(SemSynthTest, MeasuredGrainSizeAtFixedPixelSize) {
  // Same magnification, growing grains: the intercept grows with them.
  double last = 0;
  for (double d : {0.3, 0.5, 0.8, 1.2}) {
    SemParams params;
    params.grain_size_um = d;
    params.pixel_size_um = 0.04;
    params.porosity = 0.1;
    Rng rng = StreamFor(10, static_cast<uint64_t>(d * 10), 0);
    ASSERT_OK_AND_ASSIGN(const imaging::Image image, RenderSem(params, rng));
    ASSERT_OK_AND_ASSIGN(const double measured, MeasureGrainSizeUm(image, 0.04));
    EXPECT_GT(measured, last) << d;
    EXPECT_GT(measured, d / 1.5) << d;
    EXPECT_LT(measured, d * 1.5) << d;
    last = measured;
  }
}

TEST(SemSynthTest, DarkAreaTracksPorosity) {
  double last = -1;
  for (double p : {0.01, 0.05, 0.1, 0.2, 0.3, 0.45}) {
    SemParams params;
    params.grain_size_um = 2.0;
    params.porosity = p;
    Rng rng = StreamFor(12, static_cast<uint64_t>(p * 100), 0);
    SemInfo info;
    ASSERT_OK_AND_ASSIGN(const imaging::Image image, RenderSem(params, rng, &info));
    EXPECT_NEAR(info.pore_fraction, p, 0.01);
    int dark = 0;
    const int n = info.micrograph_rows * image.width;
    for (int i = 0; i < n; ++i) dark += image.pixels[i] < 0.25f;
    const double fraction = static_cast<double>(dark) / n;
    EXPECT_NEAR(fraction, p, 0.04 + 0.1 * p) << p;
    EXPECT_GT(fraction, last) << p;
    last = fraction;
  }
}

TEST(SemSynthTest, EveryDefectChangesTheImage) {
  auto render = [](Defect d, SemInfo* info) {
    SemParams params;
    params.grain_size_um = 1.0;
    params.porosity = 0.05;
    params.defect = d;
    Rng rng = StreamFor(33, 0, 0);
    return RenderSem(params, rng, info);
  };
  SemInfo base_info;
  ASSERT_OK_AND_ASSIGN(const imaging::Image base, render(Defect::kNone, &base_info));
  const int n = base_info.micrograph_rows * base.width;
  for (Defect d : AllDefects()) {
    if (d == Defect::kNone) continue;
    SemInfo info;
    ASSERT_OK_AND_ASSIGN(const imaging::Image image, render(d, &info));
    // A defect changes a visible share of the micrograph by a visible amount.
    int changed = 0;
    for (int i = 0; i < n; ++i) changed += std::fabs(image.pixels[i] - base.pixels[i]) > 0.15f;
    EXPECT_GT(changed, n / 200) << DefectName(d);
  }
}

TEST(SemSynthTest, MeasureRejectsBadInput) {
  imaging::Image flat;
  flat.width = 64;
  flat.height = 64;
  flat.pixels.assign(64 * 64, 0.5f);
  EXPECT_EQ(MeasureGrainSizeUm(flat, 0.1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(MeasureGrainSizeUm(flat, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MeasureGrainSizeUm(flat, NAN).status().code(), absl::StatusCode::kInvalidArgument);
  imaging::Image tiny = flat;
  tiny.width = 8;
  tiny.height = 8;
  tiny.pixels.resize(64);
  EXPECT_EQ(MeasureGrainSizeUm(tiny, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
  imaging::Image broken = flat;
  broken.pixels.resize(10);
  EXPECT_EQ(MeasureGrainSizeUm(broken, 0.1).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::corpus
