// Manifest records -> API records: files are read relative to the manifest, every field
// is carried over, and a missing file names the record and the file.
#include "client/records.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "corpus/manifest.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::client {
namespace {

using ::matalign::testing::TempDir;

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

class RecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteBytes(dir_.Join("s/a.cif"), "data_a\n_cell_length_a 4\n");
    WriteBytes(dir_.Join("img/a.png"), std::string("\x89PNG\0\x01\x02", 7));
    WriteBytes(dir_.Join("img/a_xrd.png"), "xrd-bytes");
    WriteBytes(
        dir_.Join("manifest.jsonl"),
        R"({"id":"a","class":"nano","split":"val","source":"synthetic",)"
        R"("composition":{"O":2,"Ti":1},"structure":{"path":"s/a.cif","format":"cif"},)"
        R"("synthesis":{"text":"TiCl4 was hydrolysed.","route":"sol-gel","precursors":["TiCl4"],)"
        R"("temperatures_c":[500],"times_h":[2],"atmosphere":"air","doi":"10.1/x"},)"
        R"("images":[{"path":"img/a.png","kind":"sem"},{"path":"img/a_xrd.png","kind":"xrd"}],)"
        R"("properties":{"band_gap":3.2},"labels":{"defect":"crack"}})"
        "\n"
        R"({"id":"b","class":"amorphous","split":"test","structure":{"inline":"data_b\n","format":"cif"}})"
        "\n");
  }
  std::vector<corpus::Record> Read() {
    auto records = corpus::ReadManifest(dir_.Join("manifest.jsonl"));
    EXPECT_TRUE(records.ok()) << records.status();
    return records.ok() ? *records : std::vector<corpus::Record>{};
  }

  TempDir dir_;
};

TEST_F(RecordsTest, CarriesEveryFieldAndLoadsFiles) {
  auto records = Read();
  ASSERT_EQ(records.size(), 2u);
  ASSERT_OK_AND_ASSIGN(v1::Record r, ToProtoRecord(records[0], dir_.path()));
  EXPECT_EQ(r.id(), "a");
  EXPECT_EQ(r.material_class(), "nano");
  EXPECT_EQ(r.source(), "synthetic");
  EXPECT_EQ(r.composition().at("Ti"), 1.0);
  EXPECT_EQ(r.composition().at("O"), 2.0);
  EXPECT_EQ(r.structure().content(), "data_a\n_cell_length_a 4\n");
  EXPECT_EQ(r.structure().format(), "cif");
  EXPECT_EQ(r.structure().name(), "s/a.cif");
  EXPECT_EQ(r.synthesis().text(), "TiCl4 was hydrolysed.");
  EXPECT_EQ(r.synthesis().route(), "sol-gel");
  EXPECT_EQ(r.synthesis().precursors(0), "TiCl4");
  EXPECT_EQ(r.synthesis().temperatures_c(0), 500.0);
  EXPECT_EQ(r.synthesis().times_h(0), 2.0);
  EXPECT_EQ(r.synthesis().atmosphere(), "air");
  EXPECT_EQ(r.synthesis().doi(), "10.1/x");
  ASSERT_EQ(r.images_size(), 2);
  EXPECT_EQ(r.images(0).data(), std::string("\x89PNG\0\x01\x02", 7));  // binary intact
  EXPECT_EQ(r.images(0).kind(), "sem");
  EXPECT_EQ(r.images(1).data(), "xrd-bytes");
  EXPECT_EQ(r.images(1).kind(), "xrd");
  EXPECT_EQ(r.properties().at("band_gap"), 3.2);
  EXPECT_EQ(r.labels().at("defect"), "crack");
}

TEST_F(RecordsTest, InlineStructureIsUsedAsItIs) {
  auto records = Read();
  ASSERT_EQ(records.size(), 2u);
  ASSERT_OK_AND_ASSIGN(v1::Record r, ToProtoRecord(records[1], "/nonexistent"));
  EXPECT_EQ(r.structure().content(), "data_b\n");
  EXPECT_EQ(r.material_class(), "amorphous");
  EXPECT_FALSE(r.has_synthesis());
  EXPECT_EQ(r.images_size(), 0);
}

TEST_F(RecordsTest, MissingImageNamesTheRecordAndTheFile) {
  auto records = Read();
  ASSERT_EQ(records.size(), 2u);
  std::filesystem::remove(dir_.Join("img/a_xrd.png"));
  auto r = ToProtoRecord(records[0], dir_.path());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "record 'a': image 2 (xrd): ")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "img/a_xrd.png")) << r.status();
}

TEST_F(RecordsTest, MissingStructureNamesTheRecordAndTheFile) {
  auto records = Read();
  ASSERT_EQ(records.size(), 2u);
  std::filesystem::remove(dir_.Join("s/a.cif"));
  auto r = ToProtoRecord(records[0], dir_.path());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StartsWith(r.status().message(), "record 'a': structure: ")) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), "s/a.cif")) << r.status();
}

TEST(InputFilesTest, StructureAndImage) {
  TempDir dir;
  WriteBytes(dir.Join("Fe.cif"), "data_Fe\n");
  ASSERT_OK_AND_ASSIGN(v1::StructureInput s, ReadStructureInput(dir.Join("Fe.cif")));
  EXPECT_EQ(s.content(), "data_Fe\n");
  EXPECT_EQ(s.format(), "");  // left to the server, which detects it from the name
  EXPECT_EQ(s.name(), "Fe.cif");
  ASSERT_OK_AND_ASSIGN(v1::StructureInput forced, ReadStructureInput(dir.Join("Fe.cif"), "xyz"));
  EXPECT_EQ(forced.format(), "xyz");
  EXPECT_EQ(ReadStructureInput(dir.Join("nope.cif")).status().code(), absl::StatusCode::kNotFound);

  WriteBytes(dir.Join("m.png"), "png");
  ASSERT_OK_AND_ASSIGN(v1::ImageInput image, ReadImageInput(dir.Join("m.png"), "sem"));
  EXPECT_EQ(image.data(), "png");
  EXPECT_EQ(image.kind(), "sem");
  EXPECT_EQ(image.name(), "m.png");
  auto bad_kind = ReadImageInput(dir.Join("m.png"), "tem");
  EXPECT_EQ(bad_kind.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(bad_kind.status().message(), "'tem'"));
}

}  // namespace
}  // namespace matalign::client
