#include "corpus/importers.h"

#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "common/file.h"
#include "corpus/manifest.h"
#include "gtest/gtest.h"
#include "materials/structure_io.h"
#include "tests/test_util.h"
#include "xrd/pattern.h"

namespace matalign::corpus {
namespace {

using ::matalign::testing::TempDir;
namespace fs = std::filesystem;

void PrintSummary(const std::string& what, const ImportSummary& s) {
  std::cout << what << ": " << s.records << " records, " << s.skipped << " skipped\n";
  for (const auto& [kind, n] : s.skipped_by_kind) std::cout << "  " << kind << ": " << n << "\n";
  for (size_t i = 0; i < s.skipped_reasons.size() && i < 3; ++i) {
    std::cout << "  e.g. " << s.skipped_reasons[i] << "\n";
  }
}

// Reads the manifest back with every referenced file checked.
std::vector<Record> ReadBack(const ImportSummary& s) {
  ManifestReadOptions options;
  options.check_files = true;
  auto records = ReadManifest(s.manifest_path, options);
  EXPECT_TRUE(records.ok()) << records.status();
  if (!records.ok()) return {};
  EXPECT_EQ(records->size(), s.records);
  return *std::move(records);
}

void ExpectAllSplitsUsed(const std::vector<Record>& records) {
  std::set<Split> splits;
  for (const Record& r : records) splits.insert(r.split);
  EXPECT_EQ(splits.size(), 3u);
}

TEST(RenderRecipeTextTest, ReadsAsProse) {
  std::vector<RecipeStep> steps = {{"mixed", std::nullopt, std::nullopt, "", ""},
                                   {"ground", std::nullopt, std::nullopt, "", "acetone"},
                                   {"heated", 1200, 12, "air", ""},
                                   {"pressed", std::nullopt, std::nullopt, "", ""},
                                   {"sintered", 1350.5, 0.5, "", ""}};
  EXPECT_EQ(RenderRecipeText({"BaCO3", "Ta2O5", "Ho2O3"}, steps),
            "BaCO3, Ta2O5 and Ho2O3 were mixed, ground in acetone, and heated at 1200 \u00b0C "
            "for 12 h in air. The product was then pressed and sintered at 1350.5 \u00b0C for "
            "30 min.");
  EXPECT_EQ(RenderRecipeText({"TiO2"}, {}), "TiO2 was used.");
  EXPECT_EQ(RenderRecipeText({"A", "B"}, {steps[0], steps[0], steps[2], steps[2]}),
            "A and B were mixed and heated at 1200 \u00b0C for 12 h in air.");
  EXPECT_EQ(RenderRecipeText({}, {steps[2]}),
            "The starting materials were heated at 1200 \u00b0C for 12 h in air.");
}

TEST(ALabNameTest, ParsesPrecursorsTemperatureAndTime) {
  auto syn = ParseALabScanName("Fe3O4-3SrCO3_900C_60min");
  ASSERT_TRUE(syn.has_value());
  EXPECT_EQ(syn->precursors, (std::vector<std::string>{"Fe3O4", "SrCO3"}));
  EXPECT_EQ(syn->temperatures_c, std::vector<double>{900});
  EXPECT_EQ(syn->times_h, std::vector<double>{1});
  EXPECT_EQ(syn->route, "solid-state");
  EXPECT_EQ(syn->text, "Fe3O4 and SrCO3 were mixed and heated at 900 \u00b0C for 1 h.");
  EXPECT_FALSE(ParseALabScanName("BiFeO3").has_value());
  EXPECT_FALSE(ParseALabScanName("LaB6").has_value());
  EXPECT_FALSE(ParseALabScanName("Fe2O3-Xx2O3_900C_60min").has_value());
  EXPECT_FALSE(ParseALabScanName("Fe2O3_900F_60min").has_value());
  EXPECT_FALSE(ParseALabScanName("Fe2O3_900C_60parsecs").has_value());
}

TEST(SplitForKeyTest, IsDeterministicAndRoughly801010) {
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 10000; ++i) {
    const Split s = SplitForKey("material-" + std::to_string(i));
    EXPECT_EQ(s, SplitForKey("material-" + std::to_string(i)));
    ++counts[static_cast<int>(s)];
  }
  EXPECT_NEAR(counts[0], 8000, 200);
  EXPECT_NEAR(counts[1], 1000, 150);
  EXPECT_NEAR(counts[2], 1000, 150);
}

TEST(ImportersTest, SemFolderKeepsEveryColumnAsLabelAndSkipsMissingImages) {
  TempDir src, out;
  ASSERT_OK(WriteFileAtomic(src.Join("images/a.png"), "x"));
  ASSERT_OK(WriteFileAtomic(src.Join("b.png"), "x"));
  ASSERT_OK(WriteFileAtomic(src.Join("labels.csv"),
                            "grain,file,defect\r\n"
                            "small,a.png,none\r\n"
                            "large,b.png,\"crack, long\"\r\n"
                            "x,missing.png,none\r\n"
                            "too,many,fields,here\r\n"));
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportSemFolder(src.path(), out.Join("m")));
  EXPECT_EQ(s.records, 2u);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_EQ(s.skipped_by_kind["missing image"], 1u);
  EXPECT_EQ(s.skipped_by_kind["wrong field count"], 1u);
  std::vector<Record> records = ReadBack(s);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].id, "a");
  EXPECT_EQ(records[0].labels,
            (std::map<std::string, std::string>{{"grain", "small"}, {"defect", "none"}}));
  EXPECT_EQ(records[1].labels.at("defect"), "crack, long");
  ASSERT_EQ(records[0].images.size(), 1u);
  EXPECT_EQ(records[0].images[0].kind, "sem");
  EXPECT_EQ(records[0].images[0].path.rfind("../", 0), 0u) << records[0].images[0].path;
}

TEST(ImportersTest, SemFolderWithoutFileColumnIsInvalid) {
  TempDir src, out;
  ASSERT_OK(WriteFileAtomic(src.Join("labels.csv"), "name,class\na.png,x\n"));
  auto got = ImportSemFolder(src.path(), out.path());
  EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(got.status().message().find("labels.csv"), absl::string_view::npos);
  EXPECT_FALSE(fs::exists(out.Join("manifest.jsonl")));
}

TEST(ImportersTest, RecipeJsonLinesSkipsNonNumericAmountsAndConvertsUnits) {
  TempDir src, out;
  const std::string good =
      R"({"doi":"10.1/x","target":{"composition":[{"elements":{"Li":"1","Mn":"2","O":"4"}}]},)"
      R"("precursors":[{"material_formula":"Li2CO3"},{"material_formula":"MnO2"}],)"
      R"("operations":[{"type":"Mixing","token":"mixing","conditions":null},)"
      R"({"type":"HeatingOperation","token":"calcined","conditions":{"heating_temperature":)"
      R"([{"values":[1073.15],"units":"K"}],"heating_time":[{"values":[90],"units":"min"}],)"
      R"("heating_atmosphere":["O2"]}},)"
      R"({"type":"HeatingOperation","token":"heated","conditions":{"heating_temperature":)"
      R"([{"values":[5],"units":"C"}],"heating_time":[{"values":[2],"units":"days"}]}}]})";
  const std::string variable =
      R"({"doi":"10.1/y","target":{"composition":[{"elements":{"Li":"1-x","O":"2"}}]}})";
  ASSERT_OK(WriteFileAtomic(src.Join("r.jsonl"), good + "\n" + variable + "\nnot json\n"));
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportRecipes(src.Join("r.jsonl"), out.path()));
  EXPECT_EQ(s.records, 1u);
  EXPECT_EQ(s.skipped, 2u);
  EXPECT_EQ(s.skipped_by_kind["non-numeric amount"], 1u);
  EXPECT_EQ(s.skipped_by_kind["malformed record"], 1u);
  EXPECT_EQ(s.skipped_by_kind["dropped temperature"], 1u);  // 5 C: a heating rate
  std::vector<Record> records = ReadBack(s);
  ASSERT_EQ(records.size(), 1u);
  const Record& r = records[0];
  EXPECT_EQ(r.id, "r-0");
  EXPECT_EQ(r.source, "r.jsonl:1");
  EXPECT_EQ(r.composition, (std::map<std::string, double>{{"Li", 1}, {"Mn", 2}, {"O", 4}}));
  ASSERT_TRUE(r.synthesis.has_value());
  EXPECT_EQ(r.synthesis->route, "solid-state");
  EXPECT_EQ(r.synthesis->doi, "10.1/x");
  EXPECT_EQ(r.synthesis->atmosphere, "O2");
  ASSERT_EQ(r.synthesis->temperatures_c.size(), 1u);
  EXPECT_NEAR(r.synthesis->temperatures_c[0], 800, 1e-9);
  EXPECT_EQ(r.synthesis->times_h, (std::vector<double>{1.5, 48}));
  EXPECT_EQ(r.synthesis->text,
            "Li2CO3 and MnO2 were mixed and calcined at 800 \u00b0C for 1.5 h in O2. The "
            "product was then heated for 48 h.");
}

TEST(ImportersTest, RecipeFileWithUnknownExtensionIsInvalid) {
  TempDir src, out;
  ASSERT_OK(WriteFileAtomic(src.Join("r.csv"), "a,b\n"));
  EXPECT_EQ(ImportRecipes(src.Join("r.csv"), out.path()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- Real data (skipped when absent) ----

TEST(ImportersRealDataTest, Perov5) {
  MATALIGN_REAL_DATA_OR_SKIP(csv, "perov5/perov5_train.csv");
  TempDir out;
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportPerov5(csv, out.path()));
  PrintSummary("perov5", s);
  EXPECT_EQ(s.records, 3787u);
  EXPECT_EQ(s.skipped, 0u);
  std::vector<Record> records = ReadBack(s);
  ASSERT_EQ(records.size(), 3787u);
  ExpectAllSplitsUsed(records);
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    ASSERT_TRUE(r.structure.has_value());
    ASSERT_EQ(r.structure->format, "cif");
    ASSERT_EQ(r.source.rfind("perov5:", 0), 0u);
    ASSERT_EQ(r.properties.size(), 3u);
    ASSERT_FALSE(r.composition.empty());
    if (i % 97 == 0) {  // a sample: every inline CIF parses back
      materials::StructureReadOptions o;
      o.format = materials::StructureFormat::kCif;
      auto st = materials::ParseStructure(r.structure->text, r.id, o);
      ASSERT_TRUE(st.ok()) << st.status();
      EXPECT_EQ(st->sites.size(), 5u) << r.id;  // ABX3 cubic perovskite cells
    }
  }
}

TEST(ImportersRealDataTest, RecipesBothFilesWithLimit) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "recipes");
  TempDir out;
  ImportOptions options;
  options.limit = 2000;
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportRecipes({dir + "/solid_state_recipes.jsonl.xz",
                                                       dir + "/sol_gel_recipes.json.xz"},
                                                      out.path(), options));
  PrintSummary("recipes (limit 2000 per file)", s);
  EXPECT_EQ(s.records, 4000u);
  std::vector<Record> records = ReadBack(s);
  ASSERT_EQ(records.size(), 4000u);
  ExpectAllSplitsUsed(records);
  size_t with_temperature = 0, solid = 0, solgel = 0;
  std::map<std::string, Split> split_of_material;
  for (const Record& r : records) {
    ASSERT_TRUE(r.synthesis.has_value());
    EXPECT_FALSE(r.synthesis->text.empty());
    EXPECT_FALSE(r.synthesis->doi.empty());
    EXPECT_FALSE(r.composition.empty());
    solid += r.synthesis->route == "solid-state";
    solgel += r.synthesis->route == "sol-gel";
    for (double t : r.synthesis->temperatures_c) {
      EXPECT_GE(t, 20);
      EXPECT_LE(t, 2500) << r.id;
    }
    with_temperature += !r.synthesis->temperatures_c.empty();
    // The same material (composition) is never in two splits.
    std::string key;
    for (const auto& [el, n] : r.composition) key += el + std::to_string(n);
    auto [it, inserted] = split_of_material.emplace(key, r.split);
    EXPECT_EQ(it->second, r.split) << r.id;
  }
  EXPECT_EQ(solid, 2000u);
  EXPECT_EQ(solgel, 2000u);
  EXPECT_GT(with_temperature, 3000u);
  std::cout << "recipes: " << with_temperature << " of 4000 with a temperature\n"
            << "example: " << records[0].synthesis->text << "\n";
}

TEST(ImportersRealDataTest, SynthesisParagraphs) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "synthesis_text");
  TempDir out;
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportSynthesisParagraphs(dir, out.path()));
  PrintSummary("paragraphs", s);
  EXPECT_EQ(s.records, 215u);
  std::vector<Record> records = ReadBack(s);
  ASSERT_EQ(records.size(), 215u);
  for (const Record& r : records) {
    ASSERT_TRUE(r.synthesis.has_value());
    EXPECT_FALSE(r.synthesis->text.empty());
    EXPECT_EQ(r.synthesis->doi.rfind("10.", 0), 0u);
    EXPECT_TRUE(r.synthesis->route.empty());
    EXPECT_FALSE(r.structure.has_value());
  }
}

TEST(ImportersRealDataTest, ReimportIsByteIdentical) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "recipes/sol_gel_recipes.json.xz");
  TempDir a, b;
  ImportOptions options;
  options.limit = 300;
  ASSERT_OK_AND_ASSIGN(ImportSummary sa, ImportRecipes(dir, a.path(), options));
  ASSERT_OK_AND_ASSIGN(ImportSummary sb, ImportRecipes(dir, b.path(), options));
  ASSERT_OK_AND_ASSIGN(std::string ma, ReadFile(sa.manifest_path));
  ASSERT_OK_AND_ASSIGN(std::string mb, ReadFile(sb.manifest_path));
  EXPECT_EQ(sa.records, 300u);
  EXPECT_EQ(ma, mb);
}

TEST(ImportersRealDataTest, SemNcmFolder) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "sem_ncm/labels.csv");
  TempDir out;
  const std::string folder = fs::path(dir).parent_path().string();
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportSemFolder(folder, out.Join("sem")));
  PrintSummary("sem_ncm", s);
  EXPECT_EQ(s.records, 372u);
  std::vector<Record> records = ReadBack(s);  // check_files: every relative path resolves
  ASSERT_EQ(records.size(), 372u);
  ExpectAllSplitsUsed(records);
  for (const Record& r : records) {
    EXPECT_EQ(r.labels.count("composition"), 1u) << r.id;
    EXPECT_EQ(r.labels.count("state"), 1u) << r.id;
    ASSERT_EQ(r.images.size(), 1u);
    EXPECT_EQ(r.images[0].kind, "sem");
  }
}

TEST(ImportersRealDataTest, XrdFolder) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "xrd");
  TempDir out;
  ASSERT_OK_AND_ASSIGN(ImportSummary s, ImportXrdFolder(dir, out.path()));
  PrintSummary("xrd", s);
  EXPECT_EQ(s.records, 13u);
  EXPECT_EQ(s.skipped, 0u);
  std::vector<Record> records = ReadBack(s);
  ASSERT_EQ(records.size(), 13u);
  size_t with_synthesis = 0;
  for (const Record& r : records) {
    ASSERT_EQ(r.images.size(), 1u);
    EXPECT_EQ(r.images[0].kind, "xrd");
    EXPECT_OK(xrd::ReadPatternFile((fs::path(out.path()) / r.images[0].path).string()));
    if (r.synthesis) {
      ++with_synthesis;
      EXPECT_EQ(r.labels.at("format"), "xrdml");
      ASSERT_EQ(r.synthesis->temperatures_c.size(), 1u);
      EXPECT_EQ(r.synthesis->times_h, std::vector<double>{1});
    }
  }
  EXPECT_EQ(with_synthesis, 11u);  // all but BiFeO3.xy and LaB6.dat
}

}  // namespace
}  // namespace matalign::corpus
