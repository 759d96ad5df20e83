#include "common/file.h"

#include "common/status_macros.h"
#include "tests/test_util.h"

namespace matalign {
namespace {

using ::matalign::testing::TempDir;

TEST(FileTest, WriteThenReadRoundTrips) {
  TempDir dir;
  const std::string path = dir.Join("sub/dir/file.bin");
  std::string payload("a\0b\xff", 4);
  ASSERT_OK(WriteFileAtomic(path, payload));
  ASSERT_OK_AND_ASSIGN(std::string got, ReadFile(path));
  EXPECT_EQ(got, payload);
}

TEST(FileTest, MissingFileIsNotFound) {
  TempDir dir;
  auto got = ReadFile(dir.Join("nope"));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(got.status().message().find("nope"), std::string_view::npos);
}

TEST(FileTest, DirectoryAndOversizeAreInvalidArgument) {
  TempDir dir;
  EXPECT_EQ(ReadFile(dir.path()).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK(WriteFileAtomic(dir.Join("big"), std::string(100, 'x')));
  EXPECT_EQ(ReadFile(dir.Join("big"), 10).status().code(), absl::StatusCode::kInvalidArgument);
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return absl::InvalidArgumentError("odd");
  return x / 2;
}
absl::StatusOr<int> Quarter(int x) {
  MATALIGN_ASSIGN_OR_RETURN(int h, Half(x));
  MATALIGN_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusMacrosTest, PropagatesFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().message(), "odd");
}

TEST(FileTest, ExtensionAndBasename) {
  EXPECT_EQ(LowercaseExtension("a/b/X.CIF"), "cif");
  EXPECT_EQ(LowercaseExtension("POSCAR"), "");
  EXPECT_EQ(Basename("a/b/c.xy"), "c.xy");
}

}  // namespace
}  // namespace matalign
