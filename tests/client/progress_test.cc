// The resume file of `mmclient ingest` and its progress display.
#include "mmclient/progress.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::mmclient {
namespace {

using ::matalign::testing::TempDir;

TEST(ProgressFileTest, AbsentFileHasNoIds) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto ids, ProgressFile::ReadIds(dir.Join("m.jsonl.ingested")));
  EXPECT_TRUE(ids.empty());
}

TEST(ProgressFileTest, AppendsAreVisibleAtOnceAndReadBack) {
  TempDir dir;
  const std::string path = dir.Join("m.ingested");
  ASSERT_OK_AND_ASSIGN(auto file, ProgressFile::Open(path, /*truncate=*/false));
  ASSERT_OK(file->Append("a"));
  ASSERT_OK(file->Append("b c"));
  // Flushed per id: readable while the file is still open (a crash would keep it).
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(path));
  EXPECT_EQ(text, "a\nb c\n");
  ASSERT_OK(file->Append("multi\nline"));  // cannot be stored: skipped
  ASSERT_OK(file->Append(""));
  file.reset();
  ASSERT_OK_AND_ASSIGN(auto ids, ProgressFile::ReadIds(path));
  EXPECT_EQ(ids, (std::unordered_set<std::string>{"a", "b c"}));
}

TEST(ProgressFileTest, TornLastLineIsIgnoredAndCutBeforeAppending) {
  TempDir dir;
  const std::string path = dir.Join("m.ingested");
  // A crash while writing "syn-10" left "syn-1" without its newline: it must not count
  // as the id syn-1.
  std::ofstream(path) << "syn-8\nsyn-9\n\nsyn-1";
  ASSERT_OK_AND_ASSIGN(auto ids, ProgressFile::ReadIds(path));
  EXPECT_EQ(ids, (std::unordered_set<std::string>{"syn-8", "syn-9"}));
  {
    ASSERT_OK_AND_ASSIGN(auto file, ProgressFile::Open(path, /*truncate=*/false));
    ASSERT_OK(file->Append("syn-10"));
  }
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(path));
  EXPECT_EQ(text, "syn-8\nsyn-9\n\nsyn-10\n");
  ASSERT_OK_AND_ASSIGN(ids, ProgressFile::ReadIds(path));
  EXPECT_EQ(ids, (std::unordered_set<std::string>{"syn-8", "syn-9", "syn-10"}));
}

TEST(ProgressFileTest, TruncateStartsOver) {
  TempDir dir;
  const std::string path = dir.Join("m.ingested");
  std::ofstream(path) << "a\nb\n";
  {
    ASSERT_OK_AND_ASSIGN(auto file, ProgressFile::Open(path, /*truncate=*/true));
    ASSERT_OK(file->Append("c"));
  }
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFile(path));
  EXPECT_EQ(text, "c\n");
}

TEST(ProgressFileTest, UnwritableDirectoryIsAnError) {
  auto file = ProgressFile::Open("/nonexistent-dir/m.ingested", false);
  EXPECT_FALSE(file.ok());
  EXPECT_TRUE(absl::StrContains(file.status().message(), "/nonexistent-dir/m.ingested"));
}

// A clock that advances one second per reading.
std::function<absl::Time()> SteppingClock() {
  auto t = std::make_shared<absl::Time>(absl::UnixEpoch());
  return [t] { return *t += absl::Seconds(1); };
}

TEST(ProgressDisplayTest, PlainOutputPrintsEveryTenPercent) {
  std::ostringstream err;
  ProgressDisplay display(err, 20, /*tty=*/false, /*quiet=*/false, SteppingClock());
  for (int i = 1; i <= 20; ++i) display.Update(i);
  display.Finish();
  const std::vector<std::string> lines = absl::StrSplit(err.str(), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 10u) << err.str();
  EXPECT_TRUE(absl::StartsWith(lines[0], "ingest: 2/20 records (10%), ")) << lines[0];
  EXPECT_TRUE(absl::StartsWith(lines[9], "ingest: 20/20 records (100%), ")) << lines[9];
  EXPECT_TRUE(absl::EndsWith(lines[9], " records/s")) << lines[9];
  EXPECT_EQ(err.str().find('\r'), std::string::npos);
}

TEST(ProgressDisplayTest, TerminalRedrawsOneLine) {
  std::ostringstream err;
  ProgressDisplay display(err, 4, /*tty=*/true, /*quiet=*/false, SteppingClock());
  display.Update(1);
  display.Update(2);
  std::ostringstream out;
  display.Note(out, "rejected x: INVALID_ARGUMENT: bad");
  display.Update(4);
  display.Finish();
  EXPECT_EQ(out.str(), "rejected x: INVALID_ARGUMENT: bad\n");
  const std::string s = err.str();
  EXPECT_TRUE(absl::StrContains(s, "\r\033[K[#######.......................] 1/4 records (25%)"))
      << s;
  EXPECT_TRUE(absl::StrContains(s, "[##############################] 4/4 records (100%)")) << s;
  EXPECT_TRUE(absl::EndsWith(s, "\n"));
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1);  // one line, redrawn in place
}

TEST(ProgressDisplayTest, QuietShowsOnlyNotes) {
  std::ostringstream err, out;
  ProgressDisplay display(err, 10, /*tty=*/false, /*quiet=*/true, SteppingClock());
  for (int i = 1; i <= 10; ++i) display.Update(i);
  display.Note(out, "rejected y: reason");
  display.Finish();
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(out.str(), "rejected y: reason\n");
}

}  // namespace
}  // namespace matalign::mmclient
