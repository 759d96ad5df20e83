// Runs the real `mmdata` binary: `inspect --json` on every real structure file, the other
// subcommands end to end, and the exit status and message for bad input.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/file.h"
#include "nlohmann/json.hpp"
#include "tests/test_util.h"

namespace matalign::mmdata {
namespace {

namespace fs = std::filesystem;
using ::matalign::testing::TempDir;

using Result = ::matalign::testing::CommandResult;

std::string Binary() { return ::matalign::testing::BinaryPath("mmdata"); }

Result RunMmdata(const std::string& args) {
  return ::matalign::testing::RunCommand(Binary() + " " + args);
}

std::string Quote(const std::string& s) { return "'" + s + "'"; }

TEST(MmdataCliTest, InspectJsonOnEveryRealStructureFile) {
  MATALIGN_REAL_DATA_OR_SKIP(root, "structures");
  int files = 0;
  for (const char* sub : {"cif", "poscar"}) {
    for (const auto& e : fs::directory_iterator(root + "/" + sub)) {
      Result r = RunMmdata("inspect --json " + Quote(e.path().string()));
      ASSERT_EQ(r.exit_code, 0) << e.path() << ": " << r.out;
      const auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
      ASSERT_TRUE(j.is_object()) << r.out;
      EXPECT_GT(j["num_atoms"].get<int>(), 0);
      EXPECT_GT(j["density"].get<double>(), 0);
      EXPECT_GT(j["graph"]["num_edges"].get<int>(), 0);
      EXPECT_FALSE(j["formula"].get<std::string>().empty());
      ++files;
    }
  }
  EXPECT_EQ(files, 76);
}

TEST(MmdataCliTest, InspectPerov5RowsAsJsonLines) {
  MATALIGN_REAL_DATA_OR_SKIP(csv, "perov5/perov5_train.csv");
  Result one = RunMmdata("inspect --json --row 3 " + Quote(csv));
  ASSERT_EQ(one.exit_code, 0) << one.out;
  const auto j = nlohmann::json::parse(one.out);
  EXPECT_EQ(j["num_atoms"], 5);
  EXPECT_TRUE(j["labels"].contains("heat_all"));
  Result all = RunMmdata("inspect --json " + Quote(csv));
  ASSERT_EQ(all.exit_code, 0);
  size_t lines = 0;
  for (char c : all.out) lines += c == '\n';
  EXPECT_EQ(lines, 3787u);
}

TEST(MmdataCliTest, BadInputExitsOneWithFileAndReason) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("bad.cif"), "data_x\n_cell_length_a 4\n"));
  Result r = RunMmdata("inspect " + Quote(dir.Join("bad.cif")));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("bad.cif"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no data block with atom sites"), std::string::npos) << r.out;
  Result missing = RunMmdata("inspect " + Quote(dir.Join("nope.cif")));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("no such file"), std::string::npos) << missing.out;
  EXPECT_EQ(RunMmdata("inspect").exit_code, 2);  // usage error
  EXPECT_EQ(RunMmdata("inspect --help").exit_code, 0);
}

TEST(MmdataCliTest, JsonSurvivesNonUtf8Names) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("POSCAR"),
                            "caf\xe9 \xff\n1.0\n4 0 0\n0 4 0\n0 0 4\nNa Cl\n1 1\nDirect\n"
                            "0 0 0\n0.5 0.5 0.5\n"));
  Result r = RunMmdata("inspect --json " + Quote(dir.Join("POSCAR")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["num_atoms"], 2);
}

TEST(MmdataCliTest, XrdWritesAPatternThatReadsBack) {
  TempDir dir;
  const std::string cif = std::string(MATALIGN_SOURCE_DIR) + "/examples/NaCl.cif";
  Result r = RunMmdata("xrd " + Quote(cif) + " --out " + Quote(dir.Join("p.xy")) + " --png " +
                       Quote(dir.Join("p.png")) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  // NaCl (200) at 2-theta = 31.7 deg for Cu K-alpha1 is the strongest line.
  double best = 0, best_2t = 0;
  for (const auto& p : j["peaks"]) {
    if (p["relative_height"].get<double>() > best) {
      best = p["relative_height"];
      best_2t = p["two_theta"];
    }
  }
  EXPECT_NEAR(best_2t, 31.70, 0.05);
  Result back = RunMmdata("xrd " + Quote(dir.Join("p.xy")) + " --json");
  ASSERT_EQ(back.exit_code, 0) << back.out;
  EXPECT_EQ(nlohmann::json::parse(back.out)["kind"], "measured");
  EXPECT_TRUE(fs::exists(dir.Join("p.png")));
}

TEST(MmdataCliTest, TokenizerTrainsAndEncodes) {
  TempDir dir;
  const std::string corpus = std::string(MATALIGN_SOURCE_DIR) + "/examples/synthesis.txt";
  Result train = RunMmdata("tokenizer train --corpus " + Quote(corpus) + " --vocab 300 --out " +
                           Quote(dir.Join("bpe")) + " --json");
  ASSERT_EQ(train.exit_code, 0) << train.out;
  Result enc = RunMmdata("tokenizer encode --json --max-length 8 --model " +
                         Quote(dir.Join("bpe.model")) + " 'calcined at 900 oC for 12 hrs in air'");
  ASSERT_EQ(enc.exit_code, 0) << enc.out;
  const auto j = nlohmann::json::parse(enc.out);
  EXPECT_EQ(j["ids"][0], 2);  // [CLS]
  EXPECT_EQ(j["ids"].size(), 8u);
  EXPECT_TRUE(j["truncated"].get<bool>());
}

TEST(MmdataCliTest, ImageFindsTheSemDataBar) {
  MATALIGN_REAL_DATA_OR_SKIP(jpg, "sem_ncm/images/333_000.jpg");
  TempDir dir;
  Result r = RunMmdata("image --json " + Quote(jpg) + " --out " + Quote(dir.Join("x.png")));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["data_bar"]["found"].get<bool>());
  EXPECT_EQ(j["output"]["size"], 224);
  Result bad = RunMmdata("image " + Quote(std::string(MATALIGN_SOURCE_DIR) + "/examples/NaCl.cif"));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("NaCl.cif"), std::string::npos) << bad.out;
}

}  // namespace
}  // namespace matalign::mmdata
