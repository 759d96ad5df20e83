// `mmtrain bench-real xrd` (BenchRealXrd): hermetic runs on scans simulated into temp
// folders (known phases, known zero shifts) and, when present, the public measured scans.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "common/file.h"
#include "materials/structure_io.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"
#include "train/bench_real.h"
#include "xrd/pattern.h"
#include "xrd/simulate.h"

namespace matalign::train {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using ::matalign::testing::TempDir;

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

constexpr char kCsClCif[] = R"(data_CsCl
_symmetry_space_group_name_H-M 'P m -3 m'
_symmetry_Int_Tables_number 221
_cell_length_a 4.115
_cell_length_b 4.115
_cell_length_c 4.115
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Cs1 Cs 0 0 0
Cl1 Cl 0.5 0.5 0.5
)";

// LaB6 with the NIST SRM 660c lattice parameter, as the bench's built-in candidate.
constexpr char kLaB6Cif[] = R"(data_LaB6
_symmetry_space_group_name_H-M 'P m -3 m'
_cell_length_a 4.156826
_cell_length_b 4.156826
_cell_length_c 4.156826
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

// Rutile TiO2 (P4_2/mnm), a phase that is never among the candidates.
constexpr char kRutileCif[] = R"(data_TiO2
_symmetry_space_group_name_H-M 'P 42/m n m'
_cell_length_a 4.5937
_cell_length_b 4.5937
_cell_length_c 2.9587
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Ti1 Ti 0 0 0
O1 O 0.3048 0.3048 0
)";

// Writes the powder scan of `cif` as `path` (.xy): Cu K-alpha1 + K-alpha2, 10-90 degrees,
// displaced by `zero_shift`, on a sloped background with Gaussian counting noise (strongest
// peak ~5000 counts).
void WriteScan(const char* cif, const std::string& path, double zero_shift, unsigned seed) {
  ASSERT_OK_AND_ASSIGN(materials::Structure s, materials::ParseStructure(cif, "scan.cif"));
  xrd::SimulationOptions options;
  options.two_theta_min = 10;
  options.two_theta_max = 90;
  options.step = 0.02;
  options.fwhm = 0.12;
  options.kalpha2_ratio = 0.5;
  ASSERT_OK_AND_ASSIGN(xrd::XrdPattern p, xrd::SimulatePattern(s, options));
  std::mt19937 rng(seed);
  std::normal_distribution<double> gauss(0.0, 1.0);
  for (size_t i = 0; i < p.two_theta.size(); ++i) {
    const double counts = 50 * p.intensity[i] + 400 - 2 * p.two_theta[i];
    p.intensity[i] = counts + std::sqrt(counts) * gauss(rng);
    p.two_theta[i] += zero_shift;
  }
  p.wavelength = 0;  // as in a plain two-column file: the bench assumes Cu K-alpha1
  p.source = path;
  ASSERT_OK(xrd::WriteXy(p, path));
}

void WriteText(const std::string& path, const std::string& text) {
  ASSERT_OK(WriteFileAtomic(path, text));
}

const Json* FindScan(const Json& set, const std::string& file) {
  for (const Json& s : set["scans"]) {
    if (s["file"] == file) return &s;
  }
  return nullptr;
}

// A scan folder with NaCl, LaB6 and rutile scans and NaCl + CsCl structures in structures/.
class BenchRealXrdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    scans_ = dir_.Join("scans");
    fs::create_directories(scans_ + "/structures");
    WriteScan(kNaClCif, scans_ + "/NaCl.xy", 0.2, 1);
    WriteScan(kLaB6Cif, scans_ + "/LaB6_standard.xy", -0.15, 2);
    WriteScan(kRutileCif, scans_ + "/mystery.xy", 0.0, 3);
    WriteText(scans_ + "/broken.xy", "10 1\n11 2\nnot a number\n");
    WriteText(scans_ + "/structures/NaCl.cif", kNaClCif);
    WriteText(scans_ + "/structures/CsCl.cif", kCsClCif);
    options_.train = scans_;
    options_.out = dir_.Join("out");
    options_.threads = 1;
  }

  TempDir dir_;
  std::string scans_;
  BenchRealOptions options_;
};

TEST_F(BenchRealXrdTest, FindsKnownPhasesAndReportsScansWithoutGroundTruth) {
  ASSERT_OK_AND_ASSIGN(Json report, BenchRealXrd(options_));
  EXPECT_EQ(report["benchmark"], "xrd");
  EXPECT_EQ(report["evaluated"], "train");
  ASSERT_EQ(report["candidates"].size(), 3u);  // NaCl, CsCl, built-in LaB6
  const Json& train = report["sets"]["train"];

  const Json* nacl = FindScan(train, "NaCl.xy");
  ASSERT_NE(nacl, nullptr);
  EXPECT_EQ(nacl->at("wavelength_source"), "assumed Cu K-alpha1");
  EXPECT_EQ(nacl->at("expected_candidates"), Json::array({"NaCl"}));
  EXPECT_EQ(nacl->at("rank_of_expected"), 1);
  ASSERT_EQ(nacl->at("peak_match").size(), 1u);
  const Json& m = nacl->at("peak_match")[0];
  EXPECT_NEAR(m["zero_shift_deg"].get<double>(), 0.2, 0.01);
  // NaCl has 9 lines in 10-90 degrees; the weakest (under 2% of the strongest) lie below the
  // 2% prominence threshold of the peak search in the measured scan. Every other one is found.
  int strong = 0;
  for (const Json& p : m["peaks"]) {
    if (p["simulated_height"].get<double>() < 5) continue;
    ++strong;
    EXPECT_TRUE(p["matched"].get<bool>()) << p.dump();
  }
  EXPECT_EQ(strong, 7);
  EXPECT_GE(m["weighted_fraction"].get<double>(), 0.95);
  EXPECT_GE(m["measured_explained_fraction"].get<double>(), 0.9);  // K-alpha2 peaks included
  EXPECT_LT(m["mean_abs_offset_deg"].get<double>(), 0.02);
  EXPECT_NEAR(nacl->at("ranking")[0]["similarity_shift_deg"].get<double>(), 0.2, 0.021);

  const Json* lab6 = FindScan(train, "LaB6_standard.xy");
  ASSERT_NE(lab6, nullptr);
  EXPECT_EQ(lab6->at("expected_candidates"), Json::array({"builtin_LaB6"}));
  EXPECT_EQ(lab6->at("rank_of_expected"), 1);
  EXPECT_NEAR(lab6->at("peak_match")[0]["zero_shift_deg"].get<double>(), -0.15, 0.01);

  const Json* mystery = FindScan(train, "mystery.xy");
  ASSERT_NE(mystery, nullptr);
  EXPECT_FALSE(mystery->at("ground_truth").get<bool>());
  EXPECT_TRUE(mystery->at("rank_of_expected").is_null());
  EXPECT_EQ(mystery->at("ranking").size(), 3u);

  const Json& r = train["retrieval"];
  EXPECT_EQ(r["scans"], 3);
  EXPECT_EQ(r["with_ground_truth"], 2);
  EXPECT_EQ(r["top1_accuracy"], 1.0);
  EXPECT_EQ(r["scans_without_ground_truth"], Json::array({"mystery.xy"}));
  // The rutile scan resembles no candidate as much as the right phases resemble theirs.
  EXPECT_LT(r["highest_top1_similarity_without_ground_truth"].get<double>(),
            r["lowest_expected_similarity"].get<double>());
  ASSERT_EQ(train["skipped"].size(), 1u);
  EXPECT_EQ(train["skipped"][0]["file"], "broken.xy");

  for (const char* key : {"scans", "with_ground_truth", "retrieval_top1", "retrieval_top3",
                          "retrieval_mrr", "peak_match_mean_matched_fraction", "peak_match"}) {
    EXPECT_TRUE(report["metrics"].contains(key)) << key;
  }
  EXPECT_EQ(report["metrics"]["peak_match"].size(), 2u);

  ASSERT_OK_AND_ASSIGN(std::string json_text, ReadFile(options_.out + "/report.json"));
  EXPECT_EQ(Json::parse(json_text)["sets"], report["sets"]);
  ASSERT_OK_AND_ASSIGN(std::string md, ReadFile(options_.out + "/report.md"));
  EXPECT_NE(md.find("NaCl.xy"), std::string::npos);
  EXPECT_NE(md.find("no ground truth"), std::string::npos);
}

TEST_F(BenchRealXrdTest, ResultsDoNotDependOnTheThreadCount) {
  ASSERT_OK_AND_ASSIGN(Json one, BenchRealXrd(options_));
  options_.threads = 3;
  ASSERT_OK_AND_ASSIGN(Json three, BenchRealXrd(options_));
  EXPECT_EQ(one["sets"], three["sets"]);
}

TEST_F(BenchRealXrdTest, TestFolderIsEvaluatedAgainstTheTrainCandidates) {
  const std::string test = dir_.Join("heldout");
  fs::create_directories(test);
  WriteScan(kCsClCif, test + "/CsCl.xy", 0.1, 4);
  options_.test = test;
  ASSERT_OK_AND_ASSIGN(Json report, BenchRealXrd(options_));
  EXPECT_EQ(report["evaluated"], "test");
  ASSERT_TRUE(report["sets"].contains("test"));
  EXPECT_EQ(report["metrics"]["scans"], 1);
  EXPECT_EQ(report["metrics"]["retrieval_top1"], 1.0);
  const Json* cscl = FindScan(report["sets"]["test"], "CsCl.xy");
  ASSERT_NE(cscl, nullptr);
  EXPECT_EQ(cscl->at("expected_candidates"), Json::array({"CsCl"}));
  // A single scan file works as --test too.
  options_.test = test + "/CsCl.xy";
  ASSERT_OK_AND_ASSIGN(report, BenchRealXrd(options_));
  EXPECT_EQ(report["metrics"]["scans"], 1);
}

TEST_F(BenchRealXrdTest, FindsStructuresBesideTheScanFolder) {
  // The layout of ../shared/data/real: xrd/ next to structures/cif/.
  const std::string root = dir_.Join("real");
  fs::create_directories(root + "/xrd");
  fs::create_directories(root + "/structures/cif");
  fs::copy_file(scans_ + "/NaCl.xy", root + "/xrd/NaCl.xy");
  WriteText(root + "/structures/cif/NaCl.cif", kNaClCif);
  options_.train = root + "/xrd";
  ASSERT_OK_AND_ASSIGN(Json report, BenchRealXrd(options_));
  ASSERT_EQ(report["candidates"].size(), 2u);
  EXPECT_EQ(report["candidates"][0]["id"], "NaCl");
  EXPECT_EQ(report["metrics"]["retrieval_top1"], 1.0);
}

TEST_F(BenchRealXrdTest, ConfigChoosesStructuresAndSettings) {
  fs::create_directories(dir_.Join("cfg/only"));
  WriteText(dir_.Join("cfg/only/CsCl.cif"), kCsClCif);
  WriteText(dir_.Join("cfg/xrd.yaml"),
            "structures: [only]\nbuiltin_lab6: false\ntolerance: 0.05\nstrongest: 5\n");
  options_.config = dir_.Join("cfg/xrd.yaml");
  ASSERT_OK_AND_ASSIGN(Json report, BenchRealXrd(options_));
  ASSERT_EQ(report["candidates"].size(), 1u);
  EXPECT_EQ(report["candidates"][0]["id"], "CsCl");
  EXPECT_EQ(report["settings"]["tolerance_deg"], 0.05);
  EXPECT_EQ(report["metrics"]["with_ground_truth"], 0);
  EXPECT_TRUE(report["metrics"]["retrieval_top1"].is_null());

  WriteText(dir_.Join("cfg/bad.yaml"), "tolerence: 0.05\n");
  options_.config = dir_.Join("cfg/bad.yaml");
  absl::StatusOr<Json> bad = BenchRealXrd(options_);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("tolerence"), std::string::npos) << bad.status();

  WriteText(dir_.Join("cfg/range.yaml"), "fwhm: -1\n");
  options_.config = dir_.Join("cfg/range.yaml");
  EXPECT_EQ(BenchRealXrd(options_).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(BenchRealXrdTest, RejectsMissingInputs) {
  BenchRealOptions options = options_;
  options.train = dir_.Join("nope");
  EXPECT_EQ(BenchRealXrd(options).status().code(), absl::StatusCode::kNotFound);
  options = options_;
  options.test = dir_.Join("nope");
  EXPECT_EQ(BenchRealXrd(options).status().code(), absl::StatusCode::kNotFound);
  options = options_;
  options.train = scans_ + "/structures";  // structures but no scans
  EXPECT_EQ(BenchRealXrd(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = options_;
  options.out = "";
  EXPECT_EQ(BenchRealXrd(options).status().code(), absl::StatusCode::kInvalidArgument);
}

// The public scans: BiFeO3.xy against BiFeO3_R3c.cif and LaB6.dat against the built-in LaB6.
TEST(BenchRealXrdRealDataTest, BiFeO3AndLaB6MatchTheirStructures) {
  MATALIGN_REAL_DATA_OR_SKIP(xrd_dir, "xrd");
  MATALIGN_REAL_DATA_OR_SKIP(cif, "structures/cif/BiFeO3_R3c.cif");
  TempDir out;
  BenchRealOptions options;
  options.train = xrd_dir;
  options.out = out.path();
  ASSERT_OK_AND_ASSIGN(Json report, BenchRealXrd(options));
  const Json& train = report["sets"]["train"];
  for (const Json& m : report["metrics"]["peak_match"]) {
    std::printf(
        "%s vs %s: %d/%d matched, mean |offset| %s deg, zero shift %+.3f deg, "
        "similarity %.3f\n",
        m["scan"].get<std::string>().c_str(), m["structure"].get<std::string>().c_str(),
        m["num_matched"].get<int>(), m["scored"].get<int>(),
        m["mean_abs_offset_deg"].dump().c_str(), m["zero_shift_deg"].get<double>(),
        m["similarity"].get<double>());
  }
  std::printf("retrieval: %s\n", train["retrieval"].dump().c_str());

  const Json* bifeo3 = FindScan(train, "BiFeO3.xy");
  ASSERT_NE(bifeo3, nullptr);
  EXPECT_EQ(bifeo3->at("expected_candidates"), Json::array({"BiFeO3_R3c"}));
  ASSERT_EQ(bifeo3->at("peak_match").size(), 1u);
  const Json& b = bifeo3->at("peak_match")[0];
  // Measured: 10/10 of the strongest lines within 0.1 deg after a +0.32 deg zero shift.
  EXPECT_GE(b["matched_fraction"].get<double>(), 0.9);
  EXPECT_NEAR(b["zero_shift_deg"].get<double>(), 0.3, 0.1);
  EXPECT_LT(b["mean_abs_offset_deg"].get<double>(), 0.05);
  EXPECT_EQ(bifeo3->at("rank_of_expected"), 1);

  const Json* lab6 = FindScan(train, "LaB6.dat");
  ASSERT_NE(lab6, nullptr);
  EXPECT_EQ(lab6->at("expected_candidates"), Json::array({"builtin_LaB6"}));
  ASSERT_EQ(lab6->at("peak_match").size(), 1u);
  EXPECT_GE(lab6->at("peak_match")[0]["matched_fraction"].get<double>(), 0.9);
  EXPECT_EQ(lab6->at("rank_of_expected"), 1);

  // No candidate CIF is a precursor of the A-Lab scans: they have no ground truth.
  EXPECT_EQ(train["retrieval"]["with_ground_truth"], 2);
  EXPECT_EQ(train["retrieval"]["scans_without_ground_truth"].size(),
            train["retrieval"]["scans"].get<size_t>() - 2);
  for (const char* key : {"benchmark", "split", "settings", "candidates", "metrics", "sets"}) {
    EXPECT_TRUE(report.contains(key)) << key;
  }
}

}  // namespace
}  // namespace matalign::train
