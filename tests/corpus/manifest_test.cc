#include "corpus/manifest.h"

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::corpus {
namespace {

using ::matalign::testing::TempDir;

Record FullRecord() {
  Record r;
  r.id = "syn-000042";
  r.material_class = MaterialClass::kNano;
  r.composition = {{"Ba", 1}, {"Ti", 1}, {"O", 3}, {"Fe", 0.125}};
  r.structure = StructureRef{"", "data_x\n_cell_length_a 4.0\n\"quoted\" \\ tab\t", "cif"};
  SynthesisRecipe s;
  s.text = "BaCO3 and TiO2 were mixed, ground, and heated at 1200 \u00b0C for 12 h in air.";
  s.route = "solid-state";
  s.precursors = {"BaCO3", "TiO2"};
  s.temperatures_c = {450.5, 1200};
  s.times_h = {0.1 + 0.2, 12};  // 0.30000000000000004: shortest round-trip form
  s.atmosphere = "air";
  s.doi = "10.1016/j.materresbull.2007.07.027";
  r.synthesis = s;
  r.images = {{"images/syn-000042_sem.png", "sem"}, {"images/syn-000042_xrd.png", "xrd"}};
  r.properties = {{"band_gap", 3.2}, {"formation_energy", -1.0 / 3}, {"density", 6.02}};
  r.labels = {{"defect", "crack"}, {"note", "\u00fcnicode \u2103"}};
  r.split = Split::kVal;
  r.source = "synthetic";
  return r;
}

void ExpectSameRecord(const Record& a, const Record& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.material_class, b.material_class);
  EXPECT_EQ(a.composition, b.composition);
  ASSERT_EQ(a.structure.has_value(), b.structure.has_value());
  if (a.structure) {
    EXPECT_EQ(a.structure->path, b.structure->path);
    EXPECT_EQ(a.structure->text, b.structure->text);
    EXPECT_EQ(a.structure->format, b.structure->format);
  }
  ASSERT_EQ(a.synthesis.has_value(), b.synthesis.has_value());
  if (a.synthesis) {
    EXPECT_EQ(a.synthesis->text, b.synthesis->text);
    EXPECT_EQ(a.synthesis->route, b.synthesis->route);
    EXPECT_EQ(a.synthesis->precursors, b.synthesis->precursors);
    EXPECT_EQ(a.synthesis->temperatures_c, b.synthesis->temperatures_c);  // exact
    EXPECT_EQ(a.synthesis->times_h, b.synthesis->times_h);
    EXPECT_EQ(a.synthesis->atmosphere, b.synthesis->atmosphere);
    EXPECT_EQ(a.synthesis->doi, b.synthesis->doi);
  }
  ASSERT_EQ(a.images.size(), b.images.size());
  for (size_t i = 0; i < a.images.size(); ++i) {
    EXPECT_EQ(a.images[i].path, b.images[i].path);
    EXPECT_EQ(a.images[i].kind, b.images[i].kind);
  }
  EXPECT_EQ(a.properties, b.properties);  // exact doubles
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.split, b.split);
  EXPECT_EQ(a.source, b.source);
}

TEST(ManifestTest, FullRecordRoundTripsExactly) {
  const Record r = FullRecord();
  ASSERT_OK(ValidateRecord(r));
  const std::string line = RecordToJsonLine(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.rfind("{\"id\":\"syn-000042\",\"class\":\"nano\",\"split\":\"val\"", 0), 0u)
      << line;
  ASSERT_OK_AND_ASSIGN(Record back, ParseRecordJson(line, "m.jsonl", 1));
  ExpectSameRecord(r, back);
  EXPECT_EQ(RecordToJsonLine(back), line);  // deterministic
}

TEST(ManifestTest, StructurePathRoundTrips) {
  Record r;
  r.id = "a";
  r.structure = StructureRef{"structures/a.cif", "", "cif"};
  ASSERT_OK_AND_ASSIGN(Record back, ParseRecordJson(RecordToJsonLine(r), "m", 1));
  ExpectSameRecord(r, back);
}

TEST(ManifestTest, MinimalRecordsRoundTrip) {
  Record bare;
  bare.id = "bare";
  const std::string line = RecordToJsonLine(bare);
  EXPECT_EQ(line, R"({"id":"bare","class":"crystalline","split":"train"})");
  ASSERT_OK_AND_ASSIGN(Record back, ParseRecordJson(line, "m", 1));
  ExpectSameRecord(bare, back);

  // Each modality alone.
  Record only_text;
  only_text.id = "t";
  only_text.synthesis = SynthesisRecipe{};
  only_text.synthesis->text = "text only";
  only_text.material_class = MaterialClass::kAmorphous;
  only_text.split = Split::kTest;
  ASSERT_OK_AND_ASSIGN(back, ParseRecordJson(RecordToJsonLine(only_text), "m", 1));
  ExpectSameRecord(only_text, back);

  Record only_image;
  only_image.id = "i";
  only_image.images = {{"x.png", "xrd"}};
  ASSERT_OK_AND_ASSIGN(back, ParseRecordJson(RecordToJsonLine(only_image), "m", 1));
  ExpectSameRecord(only_image, back);
}

TEST(ManifestTest, WriterThenReaderRoundTripsAndIsAtomic) {
  TempDir dir;
  const std::string path = dir.Join("out/manifest.jsonl");
  ASSERT_OK_AND_ASSIGN(auto writer, ManifestWriter::Create(path));
  Record a = FullRecord();
  Record b;
  b.id = "b";
  ASSERT_OK(writer->Append(a));
  ASSERT_OK(writer->Append(b));
  EXPECT_FALSE(std::filesystem::exists(path)) << "final manifest must not exist before Close";
  EXPECT_TRUE(std::filesystem::exists(path + ".tmp"));
  // A duplicate id and an invalid record are refused and not written.
  EXPECT_EQ(writer->Append(b).code(), absl::StatusCode::kInvalidArgument);
  Record bad;
  bad.id = "bad";
  bad.properties["x"] = std::numeric_limits<double>::quiet_NaN();
  absl::Status s = writer->Append(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("properties.x"), absl::string_view::npos) << s;
  EXPECT_EQ(writer->count(), 2u);
  ASSERT_OK(writer->Close());
  EXPECT_TRUE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  EXPECT_EQ(writer->Append(b).code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_OK_AND_ASSIGN(std::vector<Record> records, ReadManifest(path));
  ASSERT_EQ(records.size(), 2u);
  ExpectSameRecord(records[0], a);
  ExpectSameRecord(records[1], b);
}

TEST(ManifestTest, WriterDestroyedWithoutCloseLeavesNothing) {
  TempDir dir;
  const std::string path = dir.Join("manifest.jsonl");
  {
    ASSERT_OK_AND_ASSIGN(auto writer, ManifestWriter::Create(path));
    Record r;
    r.id = "x";
    ASSERT_OK(writer->Append(r));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

struct BadLine {
  std::string json;
  std::string reason;  // expected substring of the error
};

// Each bad line, on line 2 of a manifest whose line 1 is good, is reported as
// "<file>:2: <reason>".
TEST(ManifestTest, EveryValidationErrorNamesFileLineAndReason) {
  const std::vector<BadLine> cases = {
      {R"({"id":"x","class":"crystalline","split":"train")", "invalid JSON"},
      {R"([1,2])", "must be a JSON object"},
      {R"({"class":"crystalline","split":"train"})", "missing required field 'id'"},
      {R"({"id":"x","split":"train"})", "missing required field 'class'"},
      {R"({"id":"x","class":"crystalline"})", "missing required field 'split'"},
      {R"({"id":"","class":"crystalline","split":"train"})", "id is empty"},
      {R"({"id":7,"class":"crystalline","split":"train"})", "id must be a string"},
      {R"({"id":"x","class":"glassy","split":"train"})", "unknown material class 'glassy'"},
      {R"({"id":"x","class":"nano","split":"dev"})", "unknown split 'dev'"},
      {R"({"id":"x","class":"nano","split":"test","colour":"red"})", "unknown key 'colour'"},
      {R"({"id":"x","class":"nano","split":"test","structure":{"format":"cif"}})",
       "exactly one of 'path' and 'inline'"},
      {R"({"id":"x","class":"nano","split":"test","structure":{"path":"a","inline":"b","format":"cif"}})",
       "exactly one of 'path' and 'inline'"},
      {R"({"id":"x","class":"nano","split":"test","structure":{"path":"a.pdb","format":"pdb"}})",
       "unknown structure.format 'pdb'"},
      {R"({"id":"x","class":"nano","split":"test","structure":{"path":"/abs/a.cif","format":"cif"}})",
       "is absolute"},
      {R"({"id":"x","class":"nano","split":"test","images":[{"path":"a.png","kind":"tem"}]})",
       "unknown images[0].kind 'tem'"},
      {R"({"id":"x","class":"nano","split":"test","images":[{"path":"a.png"}]})",
       "needs 'path' and 'kind'"},
      {R"({"id":"x","class":"nano","split":"test","properties":{"gap":"big"}})",
       "properties.gap must be a number"},
      {R"({"id":"x","class":"nano","split":"test","properties":{"gap":1e999}})", "number overflow"},
      {R"({"id":"x","class":"nano","split":"test","synthesis":{"text":"t","temperatures_c":[-5]}})",
       "temperatures_c[0] must be finite and >= 0"},
      {R"({"id":"x","class":"nano","split":"test","synthesis":{"text":"t","times_h":[1,-1]}})",
       "times_h[1] must be finite and >= 0"},
      {R"({"id":"x","class":"nano","split":"test","synthesis":{"text":"t","speed":1}})",
       "unknown key 'speed' in synthesis"},
      {R"({"id":"x","class":"nano","split":"test","composition":{"Xq":1}})",
       "unknown element symbol 'Xq'"},
      {R"({"id":"x","class":"nano","split":"test","composition":{"fe":1}})",
       "unknown element symbol 'fe'"},
      {R"({"id":"x","class":"nano","split":"test","composition":{"Fe":0}})",
       "composition.Fe must be a finite number > 0"},
      {R"({"id":"x","class":"nano","split":"test","labels":{"defect":3}})",
       "labels.defect must be a string"},
  };
  TempDir dir;
  const std::string good = R"({"id":"good","class":"crystalline","split":"train"})";
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].json);
    const std::string path = dir.Join("bad" + std::to_string(i) + ".jsonl");
    ASSERT_OK(WriteFileAtomic(path, good + "\n" + cases[i].json + "\n"));
    auto got = ReadManifest(path);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    const std::string message(got.status().message());
    EXPECT_NE(message.find(path + ":2: "), std::string::npos) << message;
    EXPECT_NE(message.find(cases[i].reason), std::string::npos) << message;
    EXPECT_NE(message.find("1 invalid line(s)"), std::string::npos) << message;
  }
}

TEST(ManifestTest, DuplicateIdsAreReportedWithBothLines) {
  TempDir dir;
  const std::string path = dir.Join("dup.jsonl");
  ASSERT_OK(WriteFileAtomic(path, R"({"id":"a","class":"crystalline","split":"train"})"
                                  "\n\n"  // a blank line is skipped but counted
                                  R"({"id":"b","class":"crystalline","split":"train"})"
                                  "\n"
                                  R"({"id":"a","class":"nano","split":"test"})"
                                  "\n"));
  auto got = ReadManifest(path);
  ASSERT_FALSE(got.ok());
  const std::string message(got.status().message());
  EXPECT_NE(message.find(path + ":4: duplicate id 'a' (first on line 1)"), std::string::npos)
      << message;
}

TEST(ManifestTest, ReportsFirstTenOfManyBadLinesAndTheCount) {
  TempDir dir;
  const std::string path = dir.Join("many.jsonl");
  std::string content;
  for (int i = 0; i < 25; ++i) content += "not json\n";
  ASSERT_OK(WriteFileAtomic(path, content));
  auto got = ReadManifest(path);
  ASSERT_FALSE(got.ok());
  const std::string message(got.status().message());
  EXPECT_NE(message.find("25 invalid line(s), first 10"), std::string::npos) << message;
  EXPECT_NE(message.find(path + ":10: "), std::string::npos);
  EXPECT_EQ(message.find(path + ":11: "), std::string::npos);
}

TEST(ManifestTest, CheckFilesStatsPathsRelativeToTheManifest) {
  TempDir dir;
  const std::string path = dir.Join("sub/manifest.jsonl");
  ASSERT_OK(WriteFileAtomic(dir.Join("sub/img/a.png"), "png"));
  ASSERT_OK(WriteFileAtomic(
      path,
      R"({"id":"a","class":"crystalline","split":"train","images":[{"path":"img/a.png","kind":"sem"}]})"
      "\n"
      R"({"id":"b","class":"crystalline","split":"train","structure":{"path":"s/b.cif","format":"cif"}})"
      "\n"));
  ASSERT_OK_AND_ASSIGN(auto records, ReadManifest(path));  // not checked by default
  EXPECT_EQ(records.size(), 2u);
  ManifestReadOptions options;
  options.check_files = true;
  auto got = ReadManifest(path, options);
  ASSERT_FALSE(got.ok());
  const std::string message(got.status().message());
  EXPECT_NE(message.find(path + ":2: missing file(s): structure.path 's/b.cif'"), std::string::npos)
      << message;
  EXPECT_EQ(message.find(path + ":1:"), std::string::npos) << message;
}

TEST(ManifestTest, DerivedManifestRebasesFilePathsToItsOwnDirectory) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("corpus/img/a.png"), "png"));
  ASSERT_OK(WriteFileAtomic(dir.Join("corpus/s/a.cif"), "data_a"));
  Record a;
  a.id = "a";
  a.images.push_back({"img/a.png", "sem"});
  a.structure = StructureRef{"s/a.cif", "", "cif"};
  Record b;
  b.id = "b";
  b.structure = StructureRef{"", "data_b", "cif"};  // inline: nothing to rebase
  for (const std::string& where : {"elsewhere/deep/m.jsonl", "corpus/m2.jsonl"}) {
    const std::string path = dir.Join(where);
    ASSERT_OK(WriteDerivedManifest(path, {a, b}, dir.Join("corpus")));
    ManifestReadOptions options;
    options.check_files = true;  // every rebased path resolves from the new manifest
    ASSERT_OK_AND_ASSIGN(std::vector<Record> got, ReadManifest(path, options));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[1].structure->text, "data_b");
    if (where == std::string("corpus/m2.jsonl")) {
      EXPECT_EQ(got[0].images[0].path, "img/a.png");
    } else {
      EXPECT_EQ(got[0].images[0].path, "../../corpus/img/a.png");
      EXPECT_EQ(got[0].structure->path, "../../corpus/s/a.cif");
    }
  }
}

TEST(ManifestTest, MissingManifestIsNotFound) {
  TempDir dir;
  EXPECT_EQ(ReadManifest(dir.Join("nope.jsonl")).status().code(), absl::StatusCode::kNotFound);
}

TEST(ManifestTest, ArbitraryBytesNeverCrash) {
  const std::vector<std::string> inputs = {
      "",
      "{",
      "\xff\xfe{}",
      "{\"id\":\"\xff\",\"class\":\"nano\",\"split\":\"val\"}",
      "null",
      "{\"id\":\"x\",\"class\":\"nano\",\"split\":\"val\",\"images\":{}}",
      "{\"id\":\"x\",\"class\":\"nano\",\"split\":\"val\",\"synthesis\":[]}"};
  for (const std::string& in : inputs) {
    auto got = ParseRecordJson(in, "fuzz", 3);
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_EQ(got.status().message().rfind("fuzz:3: ", 0), 0u) << got.status();
    }
  }
}

}  // namespace
}  // namespace matalign::corpus
