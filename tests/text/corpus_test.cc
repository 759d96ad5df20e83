#include "text/corpus.h"

#include <lzma.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "tests/test_util.h"

namespace matalign::text {
namespace {

using ::matalign::testing::TempDir;

// Compresses `data` in the .xz format.
std::string Xz(const std::string& data) {
  std::string out(lzma_stream_buffer_bound(data.size()), '\0');
  std::size_t out_pos = 0;
  const lzma_ret ret = lzma_easy_buffer_encode(
      6, LZMA_CHECK_CRC64, nullptr, reinterpret_cast<const uint8_t*>(data.data()), data.size(),
      reinterpret_cast<uint8_t*>(out.data()), &out_pos, out.size());
  EXPECT_EQ(ret, LZMA_OK);
  out.resize(out_pos);
  return out;
}

// Asserts that `status` is InvalidArgument and its message contains every part.
template <typename T>
void ExpectInvalid(const absl::StatusOr<T>& result, const std::vector<std::string>& parts) {
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  for (const std::string& part : parts) {
    EXPECT_TRUE(absl::StrContains(result.status().message(), part))
        << "missing \"" << part << "\" in: " << result.status();
  }
}

std::string Record(const std::string& doi, const std::string& paragraph) {
  return absl::StrCat(R"({"doi": ")", doi, R"(", "targets_string": ["X"], "paragraph_string": ")",
                      paragraph, R"(", "operations": [{"token": "heated"}]})");
}

TEST(SynthesisParagraphTest, ParsesDoiTitleAndText) {
  ASSERT_OK_AND_ASSIGN(SynthesisText t,
                       ParseSynthesisParagraph(
                           "10.1002/adma.1\nA Title\nFirst line at 800 degC.\nSecond.\n", "a.txt"));
  EXPECT_EQ(t.source, "a.txt");
  EXPECT_EQ(t.doi, "10.1002/adma.1");
  EXPECT_EQ(t.title, "A Title");
  EXPECT_EQ(t.text, "First line at 800 degC.\nSecond.");
}

TEST(SynthesisParagraphTest, HandlesCrlfBomAndTrailingBlankLines) {
  ASSERT_OK_AND_ASSIGN(SynthesisText t,
                       ParseSynthesisParagraph("\xEF\xBB\xBF"
                                               "10.1000/x\r\nTitle\r\nText.\r\n\r\n\n",
                                               "b.txt"));
  EXPECT_EQ(t.doi, "10.1000/x");
  EXPECT_EQ(t.title, "Title");
  EXPECT_EQ(t.text, "Text.");
}

TEST(SynthesisParagraphTest, MalformedFilesAreInvalidArgument) {
  ExpectInvalid(ParseSynthesisParagraph("", "e.txt"), {"e.txt: expected at least 3 lines"});
  ExpectInvalid(ParseSynthesisParagraph("10.1000/x\nTitle\n", "e.txt"),
                {"e.txt: expected at least 3 lines", "found 2"});
  ExpectInvalid(ParseSynthesisParagraph("Title only\nmore\ntext\n", "e.txt"),
                {"e.txt:1: expected a DOI", "Title only"});
  ExpectInvalid(ParseSynthesisParagraph("10.5 g of powder\nmore\ntext\n", "e.txt"),
                {"e.txt:1: expected a DOI"});
  ExpectInvalid(ParseSynthesisParagraph("10.1000/x\nTitle\n  \n\t\nx\xFF\n", "e.txt"),
                {"e.txt: invalid UTF-8 at byte 22"});
}

TEST(SynthesisParagraphTest, WhitespaceOnlyParagraphIsInvalid) {
  // Three lines, but the paragraph itself is blank: the blank lines are trimmed away and
  // fewer than 3 remain.
  ExpectInvalid(ParseSynthesisParagraph("10.1000/x\nTitle\n   \n\t\n", "w.txt"),
                {"w.txt: expected at least 3 lines"});
  ExpectInvalid(ParseSynthesisParagraph("10.1000/x\nTitle\n   \n\t\n", "w.txt"), {"found 2"});
}

TEST(SynthesisParagraphTest, ReadsDirectoryInNameOrderAndSkipsOtherFiles) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("b.txt"), "10.1000/b\nB\nText b.\n"));
  ASSERT_OK(WriteFileAtomic(dir.Join("a.txt"), "10.1000/a\nA\nText a.\n"));
  ASSERT_OK(WriteFileAtomic(dir.Join("LICENSE"), "MIT License\n"));
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> texts, ReadSynthesisParagraphs(dir.path()));
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0].doi, "10.1000/a");
  EXPECT_EQ(texts[1].doi, "10.1000/b");
  EXPECT_EQ(texts[0].source, dir.Join("a.txt"));

  ASSERT_OK(WriteFileAtomic(dir.Join("c.txt"), "not a doi\nC\nText c.\n"));
  ExpectInvalid(ReadSynthesisParagraphs(dir.path()), {dir.Join("c.txt") + ":1"});
}

TEST(SynthesisParagraphTest, DirectoryErrors) {
  TempDir dir;
  EXPECT_EQ(ReadSynthesisParagraphs(dir.Join("missing")).status().code(),
            absl::StatusCode::kNotFound);
  ExpectInvalid(ReadSynthesisParagraphs(dir.path()), {dir.path(), "no .txt paragraph files"});
  ASSERT_OK(WriteFileAtomic(dir.Join("file.txt"), "10.1000/a\nA\nText a.\n"));
  ExpectInvalid(ReadSynthesisParagraphs(dir.Join("file.txt")), {"is not a directory"});
}

class RecipeFileTest : public ::testing::TestWithParam<bool> {
 protected:
  // Writes `contents` to `name` (with ".xz" appended and compressed when the parameter
  // is true) and returns the path.
  std::string Write(const std::string& name, const std::string& contents) {
    const bool xz = GetParam();
    const std::string path = dir_.Join(xz ? name + ".xz" : name);
    EXPECT_OK(WriteFileAtomic(path, xz ? Xz(contents) : contents));
    return path;
  }
  TempDir dir_;
};

TEST_P(RecipeFileTest, ReadsJsonLinesDroppingElisionsAndDuplicates) {
  const std::string path = Write(
      "r.jsonl", Record("10.1000/a", "Powders were mixed<...>and fired at 900 \\u00b0C.") + "\n" +
                     "\n" +  // blank lines are skipped
                     Record("10.1000/a", "Powders were mixed<...>and fired at 900 \\u00b0C.") +
                     "\n" + Record("10.1000/b", "Second paragraph <...> ends here.") + "\r\n");
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> texts, ReadRecipeParagraphs(path));
  ASSERT_EQ(texts.size(), 2u);
  EXPECT_EQ(texts[0].text, "Powders were mixed and fired at 900 \u00B0C.");
  EXPECT_EQ(texts[0].doi, "10.1000/a");
  EXPECT_EQ(texts[0].source, path + ":1");
  EXPECT_EQ(texts[0].title, "");
  EXPECT_EQ(texts[1].text, "Second paragraph   ends here.");
  EXPECT_EQ(texts[1].source, path + ":4");

  RecipeReaderOptions keep_all;
  keep_all.deduplicate = false;
  ASSERT_OK_AND_ASSIGN(texts, ReadRecipeParagraphs(path, keep_all));
  EXPECT_EQ(texts.size(), 3u);

  RecipeReaderOptions one;
  one.limit = 1;
  ASSERT_OK_AND_ASSIGN(texts, ReadRecipeParagraphs(path, one));
  EXPECT_EQ(texts.size(), 1u);
}

TEST_P(RecipeFileTest, JsonLinesErrorsNameFileAndLine) {
  const std::string good = Record("10.1000/a", "Fine text.");
  ExpectInvalid(ReadRecipeParagraphs(Write("bad1.jsonl", good + "\n" + good + "\n{\"doi\": \n")),
                {"bad1.jsonl", ":3: invalid JSON"});
  ExpectInvalid(ReadRecipeParagraphs(Write("bad2.jsonl", good + "\n{\"doi\": \"10.1000/x\"}\n")),
                {":2: record has no \"paragraph_string\" field"});
  ExpectInvalid(ReadRecipeParagraphs(Write("bad3.jsonl", "{\"paragraph_string\": 42}\n")),
                {":1: \"paragraph_string\" must be a string, found a number"});
  ExpectInvalid(ReadRecipeParagraphs(Write("bad4.jsonl", "[1, 2]\n")),
                {":1: expected a JSON object, found an array"});
  ExpectInvalid(ReadRecipeParagraphs(Write("bad5.jsonl", "{\"paragraph_string\": \"ok\xFF\"}\n")),
                {":1: invalid JSON", "ill-formed UTF-8", "\\xff"});
  ExpectInvalid(ReadRecipeParagraphs(Write("bad6.jsonl", "{\"paragraph_string\": \" <...> \"}\n")),
                {":1: empty \"paragraph_string\""});
  ExpectInvalid(ReadRecipeParagraphs(Write("bad7.jsonl", good + " trailing\n")),
                {":1: invalid JSON"});
  ExpectInvalid(ReadRecipeParagraphs(Write("empty.jsonl", "\n\n")), {"no recipe records"});
  ExpectInvalid(ReadRecipeParagraphs(Write("null.jsonl", "{\"paragraph_string\": null}\n")),
                {"must be a string, found null"});
}

TEST_P(RecipeFileTest, ReadsReactionsDocument) {
  const std::string path =
      Write("s.json", absl::StrCat(R"({"release_date": "2020-07-13", "reactions": [)",
                                   Record("10.1000/a", "LiMn2O4 powders <...> at 800 \u00b0C."),
                                   ", ", Record("10.1000/b", "Other text."), ", ",
                                   Record("10.1000/c", "Third text."), "]}"));
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> texts, ReadRecipeParagraphs(path));
  ASSERT_EQ(texts.size(), 3u);
  EXPECT_EQ(texts[0].text, "LiMn2O4 powders   at 800 \u00B0C.");
  EXPECT_EQ(texts[1].doi, "10.1000/b");
  EXPECT_EQ(texts[2].source, path + ": reactions[2]");

  RecipeReaderOptions two;
  two.limit = 2;
  ASSERT_OK_AND_ASSIGN(texts, ReadRecipeParagraphs(path, two));
  EXPECT_EQ(texts.size(), 2u);
}

TEST_P(RecipeFileTest, ReactionsDocumentErrors) {
  const std::string good = Record("10.1000/a", "Fine text.");
  ExpectInvalid(ReadRecipeParagraphs(Write(
                    "m.json", absl::StrCat(R"({"reactions": [)", good, R"(, {"doi": "x"}]})"))),
                {"m.json", ": reactions[1]: record has no \"paragraph_string\" field"});
  ExpectInvalid(
      ReadRecipeParagraphs(Write("n.json", absl::StrCat(R"({"reactions": [)", good, R"(, 7]})"))),
      {": reactions[1]: expected a record object, found a number"});
  ExpectInvalid(ReadRecipeParagraphs(Write("o.json", R"({"reactions": {"a": 1}})")),
                {"\"reactions\" must be an array, found an object"});
  ExpectInvalid(ReadRecipeParagraphs(Write("p.json", R"({"other": []})")),
                {"expected an object with a \"reactions\" array"});
  ExpectInvalid(ReadRecipeParagraphs(Write("q.json", R"([1])")),
                {"expected a JSON object with a \"reactions\" array, found an array"});
  ExpectInvalid(ReadRecipeParagraphs(Write("r.json", absl::StrCat(R"({"reactions": [)", good))),
                {"r.json", "invalid JSON"});
  ExpectInvalid(ReadRecipeParagraphs(Write("t.json", "")), {"invalid JSON"});
}

INSTANTIATE_TEST_SUITE_P(PlainAndXz, RecipeFileTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? std::string("Xz") : std::string("Plain");
                         });

TEST(RecipeXzTest, CorruptAndTruncatedXzAreInvalidArgument) {
  TempDir dir;
  std::string contents;
  for (int i = 0; i < 200; ++i) {
    absl::StrAppend(&contents, Record(absl::StrCat("10.1000/", i), absl::StrCat("Text ", i, ".")),
                    "\n");
  }
  const std::string xz = Xz(contents);

  const std::string truncated = dir.Join("truncated.jsonl.xz");
  ASSERT_OK(WriteFileAtomic(truncated, xz.substr(0, xz.size() - 20)));
  ExpectInvalid(ReadRecipeParagraphs(truncated), {truncated, "xz decompression failed"});

  std::string flipped = xz;
  flipped[flipped.size() / 2] ^= 0x55;
  const std::string corrupt = dir.Join("corrupt.jsonl.xz");
  ASSERT_OK(WriteFileAtomic(corrupt, flipped));
  auto result = ReadRecipeParagraphs(corrupt);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_TRUE(absl::StrContains(result.status().message(), corrupt)) << result.status();

  const std::string garbage_after = dir.Join("garbage.jsonl.xz");
  ASSERT_OK(WriteFileAtomic(garbage_after, xz + "garbage!"));
  ExpectInvalid(ReadRecipeParagraphs(garbage_after), {garbage_after});

  const std::string big = dir.Join("big.jsonl.xz");
  ASSERT_OK(WriteFileAtomic(big, xz));
  RecipeReaderOptions small_cap;
  small_cap.max_decompressed_bytes = 1000;
  ExpectInvalid(ReadRecipeParagraphs(big, small_cap), {big, "after decompression"});
  ASSERT_OK_AND_ASSIGN(std::vector<SynthesisText> all, ReadRecipeParagraphs(big));
  EXPECT_EQ(all.size(), 200u);
}

TEST(RecipeFileErrorsTest, MissingFileAndUnknownExtension) {
  TempDir dir;
  EXPECT_EQ(ReadRecipeParagraphs(dir.Join("none.jsonl")).status().code(),
            absl::StatusCode::kNotFound);
  ASSERT_OK(WriteFileAtomic(dir.Join("r.csv"), "a,b\n"));
  ExpectInvalid(ReadRecipeParagraphs(dir.Join("r.csv")), {"r.csv", "unknown recipe file type"});
  EXPECT_EQ(ReadRecipeParagraphs(dir.Join("x.json.xz")).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReadCorpusTest, DispatchesOnPathType) {
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("paras/a.txt"), "10.1000/a\nA\nText a.\n"));
  ASSERT_OK(WriteFileAtomic(dir.Join("paras/b.txt"), "10.1000/b\nB\nText b.\n"));
  ASSERT_OK(WriteFileAtomic(dir.Join("r.jsonl.xz"), Xz(Record("10.1000/c", "C.") + "\n" +
                                                       Record("10.1000/d", "D.") + "\n")));
  ASSERT_OK_AND_ASSIGN(auto paragraphs, ReadCorpus(dir.Join("paras")));
  EXPECT_EQ(paragraphs.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto limited, ReadCorpus(dir.Join("paras"), 1));
  EXPECT_EQ(limited.size(), 1u);
  ASSERT_OK_AND_ASSIGN(auto recipes, ReadCorpus(dir.Join("r.jsonl.xz")));
  EXPECT_EQ(recipes.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto single, ReadCorpus(dir.Join("paras/a.txt")));
  ASSERT_EQ(single.size(), 1u);
  EXPECT_EQ(single[0].text, "Text a.");
  // A .txt file without a DOI line holds one text per line.
  ASSERT_OK(WriteFileAtomic(dir.Join("lines.txt"),
                            "First protocol at 900 oC.\n\n  Second protocol.  \r\nThird.\n"));
  ASSERT_OK_AND_ASSIGN(auto lines, ReadCorpus(dir.Join("lines.txt")));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0].text, "First protocol at 900 oC.");
  EXPECT_EQ(lines[1].text, "Second protocol.");
  EXPECT_EQ(lines[1].source, dir.Join("lines.txt") + ":3");
  ASSERT_OK_AND_ASSIGN(auto two_lines, ReadCorpus(dir.Join("lines.txt"), 2));
  EXPECT_EQ(two_lines.size(), 2u);
  ASSERT_OK(WriteFileAtomic(dir.Join("blank.txt"), "\n \n"));
  ExpectInvalid(ReadCorpus(dir.Join("blank.txt")), {"blank.txt: no text lines"});
  ASSERT_OK(WriteFileAtomic(dir.Join("bad.txt"), "ok\n\xC3("));
  ExpectInvalid(ReadCorpus(dir.Join("bad.txt")), {"bad.txt: invalid UTF-8 at byte 3"});
  EXPECT_EQ(ReadCorpus(dir.Join("nothing.bin")).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(WriteFileAtomic(dir.Join("x.bin"), "x"));
  ExpectInvalid(ReadCorpus(dir.Join("x.bin")), {"unknown corpus type"});
}

}  // namespace
}  // namespace matalign::text
