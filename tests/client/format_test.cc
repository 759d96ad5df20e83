// mmclient's output: tables, truncation, summaries, JSON; and its exit codes.
#include "mmclient/format.h"

#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "mmclient/exit_codes.h"
#include "tests/test_util.h"

namespace matalign::mmclient {
namespace {

TEST(TruncateTest, CutsAtCodePointsAndFlattensLines) {
  EXPECT_EQ(Truncate("short", 10), "short");
  EXPECT_EQ(Truncate("exactly10!", 10), "exactly10!");
  EXPECT_EQ(Truncate("a longer text", 8), "a lon...");
  EXPECT_EQ(Truncate("two\nlines\tand tab", 100), "two lines and tab");
  // "°" and "é" are two bytes each: never cut inside one.
  const std::string celsius = "1200 °C for 12 h, é";
  EXPECT_EQ(DisplayWidth(celsius), 19u);
  EXPECT_EQ(Truncate(celsius, 9), "1200 °...");
  EXPECT_EQ(Truncate("abc", 2), "..");
}

v1::Hit MakeHit(const std::string& id, float score) {
  v1::Hit hit;
  hit.set_id(id);
  hit.set_score(score);
  hit.set_route("solid-state");
  hit.add_precursors("BaCO3");
  hit.add_precursors("TiO2");
  (*hit.mutable_properties())["density"] = 6.02;
  (*hit.mutable_properties())["band_gap"] = 3.1;
  hit.set_source("synthetic");
  hit.set_synthesis_text("BaCO3 and TiO2 were mixed, ground,\nand heated at 1200 °C for 12 h.");
  return hit;
}

TEST(HitsTableTest, OneRowPerHitWithItsText) {
  google::protobuf::RepeatedPtrField<v1::Hit> hits;
  *hits.Add() = MakeHit("syn-000042", 0.91234f);
  v1::Hit second = MakeHit("perov5-7", 0.5f);
  second.set_doi("10.1021/abc");
  second.clear_precursors();
  second.clear_route();
  *hits.Add() = second;

  const std::string table = FormatHitsTable(hits);
  const std::vector<std::string> lines = absl::StrSplit(table, '\n');
  ASSERT_EQ(lines.size(), 6u) << table;  // header, 2 x (row, text), trailing ""
  EXPECT_EQ(lines[0], "rank  score  id          route        precursors    properties" +
                          std::string(15 + 2, ' ') + "source");
  EXPECT_EQ(lines[1],
            "   1  0.912  syn-000042  solid-state  BaCO3 + TiO2  band_gap=3.1 density=6.02  "
            "synthetic");
  EXPECT_EQ(lines[2], "      BaCO3 and TiO2 were mixed, ground, and heated at 1200 °C for 12 h.");
  // The DOI is shown instead of the source; missing route and precursors are "-".
  EXPECT_EQ(lines[3],
            "   2  0.500  perov5-7    -            -             band_gap=3.1 density=6.02  "
            "10.1021/abc");
  EXPECT_EQ(lines[5], "");
}

TEST(HitsTableTest, TruncatesLongCellsAndText) {
  google::protobuf::RepeatedPtrField<v1::Hit> hits;
  v1::Hit hit = MakeHit(std::string(40, 'x'), 0.1f);
  hit.set_synthesis_text(std::string(300, 'y'));
  for (int i = 0; i < 5; ++i) (*hit.mutable_properties())["p" + std::to_string(i)] = i;
  *hits.Add() = hit;
  HitsTableOptions options;
  options.max_text = 20;
  options.max_cell = 10;
  options.max_properties = 2;
  const std::string table = FormatHitsTable(hits, options);
  EXPECT_TRUE(absl::StrContains(table, "xxxxxxx... ")) << table;
  EXPECT_FALSE(absl::StrContains(table, std::string(11, 'x'))) << table;
  EXPECT_TRUE(absl::StrContains(table, "band_gap=3.1 density=6.02 (+5)")) << table;
  EXPECT_TRUE(absl::StrContains(table, std::string(17, 'y') + "...\n")) << table;
  EXPECT_FALSE(absl::StrContains(table, std::string(18, 'y'))) << table;
}

TEST(HitsTableTest, NoHits) { EXPECT_EQ(FormatHitsTable({}), "no hits\n"); }

TEST(FormatTest, EmbeddingShowsTheFirstValues) {
  v1::EmbedResponse response;
  response.set_model_version("3");
  for (int i = 0; i < 10; ++i) response.add_vector(i * 0.5f);
  EXPECT_EQ(FormatEmbedding(response, 3),
            "model 3, dim 10\n[0.00000, 0.50000, 1.00000, ... (7 more)]\n");
  EXPECT_TRUE(absl::StrContains(FormatEmbedding(response, 0), "4.50000]"));
}

TEST(FormatTest, ClassificationMostProbableFirst) {
  v1::ClassifyDefectResponse response;
  response.set_model_version("3");
  response.set_label("crack");
  (*response.mutable_probabilities())["pristine"] = 0.2;
  (*response.mutable_probabilities())["crack"] = 0.7;
  (*response.mutable_probabilities())["void"] = 0.1;
  EXPECT_EQ(FormatClassification(response),
            "model 3\nlabel crack\ncrack     0.700\npristine  0.200\nvoid      0.100\n");
}

TEST(FormatTest, PredictionAndModelInfo) {
  v1::PredictPropertiesResponse prediction;
  prediction.set_model_version("3");
  (*prediction.mutable_properties())["density"] = 5.5;
  (*prediction.mutable_properties())["band_gap_ev"] = 2.25;
  EXPECT_EQ(FormatPrediction(prediction), "model 3\nband_gap_ev  2.25\ndensity      5.5\n");

  v1::ModelInfoResponse info;
  info.set_model_version("3");
  info.set_embed_dim(256);
  info.add_property_names("band_gap_ev");
  (*info.mutable_index_sizes())["text"] = 10;
  (*info.mutable_index_sizes())["structure"] = 12;
  const std::string text = FormatModelInfo(info);
  EXPECT_TRUE(absl::StrContains(text, "model version         3\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "index sizes           structure 12, text 10\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "target properties     band_gap_ev\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "defect classes        -\n")) << text;
}

TEST(FormatTest, RecordWithRawStructure) {
  v1::GetResponse response;
  response.set_key(7);
  response.add_embedded(v1::MODALITY_STRUCTURE);
  response.add_embedded(v1::MODALITY_TEXT);
  v1::Record* r = response.mutable_record();
  r->set_id("syn-1");
  r->mutable_structure()->set_format("cif");
  r->mutable_structure()->set_content("data_x\n");
  r->add_images()->set_kind("sem");
  const std::string text = FormatRecord(response);
  EXPECT_TRUE(absl::StrContains(text, "embedded   structure, text\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "structure  cif, 7 bytes\n")) << text;
  EXPECT_TRUE(absl::StrContains(text, "image 1    sem\n")) << text;
  EXPECT_TRUE(absl::EndsWith(text, "\ndata_x\n")) << text;
}

TEST(FormatTest, JsonUsesProtoFieldNamesAndPrintsDefaults) {
  v1::ReloadModelResponse response;
  response.set_version("4");
  const std::string json = ToJson(response);
  EXPECT_TRUE(absl::StrContains(json, "\"previous_version\": \"\"")) << json;
  EXPECT_TRUE(absl::StrContains(json, "\"version\": \"4\"")) << json;
  EXPECT_TRUE(absl::EndsWith(json, "\n"));
}

TEST(ExitCodeTest, EveryCodeAsDocumented) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::FailedPreconditionError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::OutOfRangeError("x")), 3);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("x")), 4);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("x")), 5);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("x")), 5);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("x")), 6);
  EXPECT_EQ(ExitCodeFor(absl::DeadlineExceededError("x")), 6);
  EXPECT_EQ(ExitCodeFor(absl::ResourceExhaustedError("x")), 6);
  EXPECT_EQ(ExitCodeFor(absl::InternalError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::UnimplementedError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::UnknownError("x")), 1);
  EXPECT_EQ(ExitCodeFor(absl::CancelledError("x")), 1);
}

TEST(ExitCodeTest, UsageErrorsAreTwoWhateverTheirCode) {
  const absl::Status missing = AsUsageError(absl::NotFoundError("x.cif: no such file"));
  EXPECT_TRUE(IsUsageError(missing));
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "x.cif: no such file");
  EXPECT_EQ(ExitCodeFor(missing), 2);
  EXPECT_EQ(ExitCodeFor(AsUsageError(absl::InvalidArgumentError("k"))), 2);
  EXPECT_FALSE(IsUsageError(absl::NotFoundError("x")));
  EXPECT_OK(AsUsageError(absl::OkStatus()));
}

TEST(ExitCodeTest, ErrorLineHasTheCodeName) {
  EXPECT_EQ(FormatError(absl::NotFoundError("record 'x' not found"), "h:1"),
            "mmclient: NOT_FOUND: record 'x' not found");
  EXPECT_EQ(FormatError(absl::UnavailableError("failed to connect"), "h:1"),
            "mmclient: UNAVAILABLE: failed to connect (server h:1)");
}

}  // namespace
}  // namespace matalign::mmclient
