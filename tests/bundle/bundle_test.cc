#include "bundle/bundle.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::bundle {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using ::matalign::testing::TempDir;

// Sorted names in `dir` (hidden ones included).
std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void Spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Passes if `status` has `code` and its message contains every one of `parts`.
::testing::AssertionResult Fails(const absl::Status& status, absl::StatusCode code,
                                 const std::vector<std::string>& parts) {
  if (status.code() != code) {
    return ::testing::AssertionFailure()
           << "expected code " << absl::StatusCodeToString(code) << ", got " << status;
  }
  for (const std::string& part : parts) {
    if (status.message().find(part) == absl::string_view::npos) {
      return ::testing::AssertionFailure() << "message lacks \"" << part << "\": " << status;
    }
  }
  return ::testing::AssertionSuccess();
}

class BundleTest : public ::testing::Test {
 protected:
  // Weights with NUL and high bytes, to show contents are opaque.
  static std::map<std::string, std::string> SampleFiles() {
    std::string weights(3000, '\0');
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = static_cast<char>(i * 7 % 256);
    return {{"graph_encoder.pt", weights},
            {"text_encoder.pt", std::string("PK\x03\x04\0\xff tail", 12)},
            {"tokenizer.model", "sentencepiece bytes"}};
  }

  static json SampleManifest() {
    return {{"embedding_dim", 256}, {"trainer", {{"epochs", 3}, {"temperature", 0.07}}}};
  }

  // Writes a sample bundle and returns its directory.
  std::string WriteSample(const WriteBundleOptions& options = {}) {
    auto dir = WriteBundle(models_, SampleManifest(), SampleFiles(), options);
    EXPECT_TRUE(dir.ok()) << dir.status();
    return dir.value_or("");
  }

  TempDir tmp_;
  std::string models_ = tmp_.Join("models");
};

TEST(Sha256HexTest, KnownVectors) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string("a\0b", 3)).size(), 64u);
  EXPECT_NE(Sha256Hex(std::string("a\0b", 3)), Sha256Hex("a"));
}

TEST_F(BundleTest, RoundTrip) {
  ASSERT_OK_AND_ASSIGN(const std::string dir,
                       WriteBundle(models_, SampleManifest(), SampleFiles()));
  EXPECT_EQ(dir, models_ + "/1");
  EXPECT_EQ(Entries(models_), std::vector<std::string>{"1"});
  EXPECT_EQ(Entries(dir), (std::vector<std::string>{"graph_encoder.pt", "manifest.json",
                                                    "text_encoder.pt", "tokenizer.model"}));

  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
  EXPECT_EQ(b.dir, dir);
  EXPECT_EQ(b.version, "1");
  EXPECT_EQ(b.files, SampleFiles());
  // The caller's keys survive; the library's keys are filled in.
  EXPECT_EQ(b.manifest["embedding_dim"], 256);
  EXPECT_EQ(b.manifest["trainer"]["epochs"], 3);
  EXPECT_EQ(b.manifest["format_version"], kBundleFormatVersion);
  EXPECT_EQ(b.manifest["version"], "1");
  EXPECT_TRUE(std::regex_match(b.manifest["created"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")))
      << b.manifest["created"];
  for (const auto& [name, bytes] : SampleFiles()) {
    EXPECT_EQ(b.manifest["files"][name]["bytes"], bytes.size()) << name;
    EXPECT_EQ(b.manifest["files"][name]["sha256"], Sha256Hex(bytes)) << name;
  }
  EXPECT_EQ(b.manifest["files"].size(), 3u);
}

TEST_F(BundleTest, ManifestIsIndentedJson) {
  const std::string dir = WriteSample();
  const std::string text = Slurp(dir + "/manifest.json");
  EXPECT_EQ(text.rfind("{\n  \"", 0), 0u) << text;
  EXPECT_EQ(text.back(), '\n');
  EXPECT_TRUE(json::accept(text));
}

TEST_F(BundleTest, InvalidUtf8InManifestIsReplaced) {
  json manifest = {{"note", std::string("bad \xff byte")}};
  ASSERT_OK_AND_ASSIGN(const std::string dir, WriteBundle(models_, manifest, {}));
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
  EXPECT_EQ(b.manifest["note"], "bad \xEF\xBF\xBD byte");
}

TEST_F(BundleTest, EmptyFileMapAndNullManifestAreAllowed) {
  ASSERT_OK_AND_ASSIGN(const std::string dir, WriteBundle(models_, json(), {}));
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
  EXPECT_TRUE(b.files.empty());
  EXPECT_TRUE(b.manifest["files"].is_object());
  EXPECT_TRUE(b.manifest["files"].empty());
}

TEST_F(BundleTest, ReadsDirectoryWithTrailingSlash) {
  const std::string dir = WriteSample();
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir + "/"));
  EXPECT_EQ(b.version, "1");
}

TEST_F(BundleTest, CallerValuesOfLibraryKeysAreReplaced) {
  json manifest = {{"version", "99"}, {"format_version", 42}, {"files", "junk"}, {"x", 1}};
  ASSERT_OK_AND_ASSIGN(const std::string dir, WriteBundle(models_, manifest, {{"a.bin", "abc"}}));
  EXPECT_EQ(dir, models_ + "/1");
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
  EXPECT_EQ(b.manifest["version"], "1");
  EXPECT_EQ(b.manifest["format_version"], kBundleFormatVersion);
  EXPECT_EQ(b.manifest["files"]["a.bin"]["bytes"], 3);
  EXPECT_EQ(b.manifest["x"], 1);
}

TEST_F(BundleTest, CopyForwardOfAReadManifest) {
  ASSERT_OK_AND_ASSIGN(const Bundle first, ReadBundle(WriteSample()));
  ASSERT_OK_AND_ASSIGN(const std::string dir,
                       WriteBundle(models_, first.manifest, {{"only.bin", "x"}}));
  ASSERT_OK_AND_ASSIGN(const Bundle second, ReadBundle(dir));
  EXPECT_EQ(second.version, "2");
  EXPECT_EQ(second.manifest["embedding_dim"], 256);
  EXPECT_EQ(second.manifest["files"].size(), 1u);
}

TEST_F(BundleTest, FileAccessor) {
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(WriteSample()));
  ASSERT_OK_AND_ASSIGN(const absl::string_view tok, b.File("tokenizer.model"));
  EXPECT_EQ(tok, "sentencepiece bytes");
  EXPECT_TRUE(Fails(b.File("image_encoder.pt").status(), absl::StatusCode::kNotFound,
                    {b.dir, "image_encoder.pt", "graph_encoder.pt, text_encoder.pt"}));
}

TEST_F(BundleTest, AutoVersionsCountUp) {
  EXPECT_EQ(WriteSample(), models_ + "/1");
  EXPECT_EQ(WriteSample(), models_ + "/2");
  EXPECT_EQ(WriteSample(), models_ + "/3");
  ASSERT_OK_AND_ASSIGN(const auto versions, ListVersions(models_));
  EXPECT_EQ(versions, (std::vector<std::string>{"1", "2", "3"}));
  ASSERT_OK_AND_ASSIGN(const std::string latest, LatestBundleDir(models_));
  EXPECT_EQ(latest, models_ + "/3");
  for (const std::string v : {"1", "2", "3"}) {
    ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(models_ + "/" + v));
    EXPECT_EQ(b.version, v);
  }
}

TEST_F(BundleTest, AutoVersionFollowsTheLargestExisting) {
  WriteBundleOptions options;
  options.version = "9";
  EXPECT_EQ(WriteSample(options), models_ + "/9");
  EXPECT_EQ(WriteSample(), models_ + "/10");
  EXPECT_EQ(WriteSample(), models_ + "/11");
}

TEST_F(BundleTest, ExplicitVersionThatExistsIsAlreadyExists) {
  WriteBundleOptions options;
  options.version = "4";
  const std::string dir = WriteSample(options);
  ASSERT_EQ(dir, models_ + "/4");
  auto again = WriteBundle(models_, json::object(), {{"other.pt", "other"}}, options);
  EXPECT_TRUE(Fails(again.status(), absl::StatusCode::kAlreadyExists, {"4", models_}));
  // The existing bundle is untouched and nothing is left behind.
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
  EXPECT_EQ(b.files, SampleFiles());
  EXPECT_EQ(Entries(models_), std::vector<std::string>{"4"});
}

TEST_F(BundleTest, ExplicitVersionOntoAnEmptyDirectoryIsAlreadyExists) {
  // rename(2) would silently replace an empty directory; the writer must not.
  fs::create_directories(models_ + "/2");
  WriteBundleOptions options;
  options.version = "2";
  EXPECT_TRUE(Fails(WriteBundle(models_, {}, SampleFiles(), options).status(),
                    absl::StatusCode::kAlreadyExists, {"2"}));
  EXPECT_EQ(Entries(models_), std::vector<std::string>{"2"});
  EXPECT_TRUE(Entries(models_ + "/2").empty());
}

TEST_F(BundleTest, BadOptionsAreRejectedBeforeWriting) {
  for (const std::string bad : {"0", "01", "abc", "-1", "1.5", " 1", "1234567890123456789"}) {
    WriteBundleOptions options;
    options.version = bad;
    EXPECT_TRUE(Fails(options.Validate(), absl::StatusCode::kInvalidArgument, {"version"})) << bad;
    EXPECT_TRUE(Fails(WriteBundle(models_, {}, SampleFiles(), options).status(),
                      absl::StatusCode::kInvalidArgument, {"version"}))
        << bad;
  }
  EXPECT_FALSE(fs::exists(models_));
  WriteBundleOptions ok;
  ok.version = "123456789012345678";
  EXPECT_OK(ok.Validate());
}

TEST_F(BundleTest, BadFileNamesAreRejected) {
  const std::vector<std::string> bad = {"",
                                        "a/b",
                                        "../x",
                                        "..",
                                        ".",
                                        "manifest.json",
                                        ".hidden",
                                        "/abs",
                                        "dir/",
                                        std::string("a\0b", 3),
                                        std::string(256, 'n')};
  for (const std::string& name : bad) {
    EXPECT_TRUE(
        Fails(ValidateFileName(name), absl::StatusCode::kInvalidArgument, {"bad bundle file name"}))
        << name;
    auto files = SampleFiles();
    files[name] = "payload";
    EXPECT_TRUE(Fails(WriteBundle(models_, {}, files).status(), absl::StatusCode::kInvalidArgument,
                      {"bad bundle file name"}))
        << name;
  }
  EXPECT_FALSE(fs::exists(models_));
  for (const std::string good : {"graph_encoder.pt", "tokenizer.model", "a..b", "x"}) {
    EXPECT_OK(ValidateFileName(good));
  }
  EXPECT_OK(ValidateFileName(std::string(255, 'n')));
}

TEST_F(BundleTest, NonObjectManifestIsRejected) {
  for (const json& m : {json::array({1, 2}), json("text"), json(3)}) {
    EXPECT_TRUE(Fails(WriteBundle(models_, m, SampleFiles()).status(),
                      absl::StatusCode::kInvalidArgument, {"JSON object"}))
        << m;
  }
  EXPECT_FALSE(fs::exists(models_));
}

TEST_F(BundleTest, ModelsDirThatIsAFileIsAnError) {
  Spit(models_, "not a directory");
  EXPECT_FALSE(WriteBundle(models_, {}, SampleFiles()).ok());
  EXPECT_EQ(Slurp(models_), "not a directory");
  EXPECT_TRUE(Fails(ListVersions(models_).status(), absl::StatusCode::kInvalidArgument, {models_}));
  EXPECT_FALSE(LatestBundleDir(models_).ok());
}

TEST_F(BundleTest, FailedWriteLeavesNoTemporaryDirectory) {
  // Make writes past 1 KiB fail with EFBIG (instead of SIGXFSZ) so the failure happens
  // after the temporary directory and some files exist.
  struct rlimit old_limit;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old_limit), 0);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit limit = old_limit;
  limit.rlim_cur = 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limit), 0);
  std::map<std::string, std::string> files = {{"a_small.bin", "fits"},
                                              {"b_big.bin", std::string(4096, 'w')}};
  auto written = WriteBundle(models_, {}, files);
  setrlimit(RLIMIT_FSIZE, &old_limit);
  std::signal(SIGXFSZ, old_handler);

  ASSERT_FALSE(written.ok()) << *written;
  EXPECT_NE(written.status().message().find("b_big.bin"), absl::string_view::npos)
      << written.status();
  EXPECT_TRUE(Entries(models_).empty());
  // The next write works and gets version 1.
  EXPECT_EQ(WriteSample(), models_ + "/1");
}

TEST_F(BundleTest, CorruptedByteIsDataLossNamingTheFile) {
  const std::string dir = WriteSample();
  const std::string path = dir + "/graph_encoder.pt";
  std::string bytes = Slurp(path);
  const std::string expected = Sha256Hex(bytes);
  bytes[1234] ^= 0x01;
  Spit(path, bytes);
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), absl::StatusCode::kDataLoss,
                    {dir, "graph_encoder.pt", "sha256", expected, Sha256Hex(bytes)}));
}

TEST_F(BundleTest, TruncatedFileIsDataLoss) {
  const std::string dir = WriteSample();
  const std::string path = dir + "/graph_encoder.pt";
  fs::resize_file(path, 2999);
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), absl::StatusCode::kDataLoss,
                    {dir, "graph_encoder.pt", "expected 3000 bytes", "actual 2999"}));
}

TEST_F(BundleTest, MissingFileIsDataLoss) {
  const std::string dir = WriteSample();
  fs::remove(dir + "/tokenizer.model");
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), absl::StatusCode::kDataLoss,
                    {dir, "tokenizer.model", "missing"}));
}

TEST_F(BundleTest, ListedFileThatIsADirectoryIsDataLoss) {
  const std::string dir = WriteSample();
  fs::remove(dir + "/tokenizer.model");
  fs::create_directory(dir + "/tokenizer.model");
  EXPECT_TRUE(
      Fails(ReadBundle(dir).status(), absl::StatusCode::kDataLoss, {dir, "tokenizer.model"}));
}

TEST_F(BundleTest, UnlistedFilesAreIgnored) {
  const std::string dir = WriteSample();
  Spit(dir + "/README.txt", "notes");
  fs::create_directory(dir + "/extra");
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
  EXPECT_EQ(b.files, SampleFiles());
}

TEST_F(BundleTest, MissingDirectoryOrManifestIsNotFound) {
  EXPECT_TRUE(
      Fails(ReadBundle(models_ + "/5").status(), absl::StatusCode::kNotFound, {models_ + "/5"}));
  const std::string dir = WriteSample();
  fs::remove(dir + "/manifest.json");
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), absl::StatusCode::kNotFound, {dir, "manifest.json"}));
}

TEST_F(BundleTest, BundlePathThatIsAFileIsInvalidArgument) {
  Spit(tmp_.Join("file"), "x");
  EXPECT_TRUE(Fails(ReadBundle(tmp_.Join("file")).status(), absl::StatusCode::kInvalidArgument,
                    {tmp_.Join("file")}));
}

TEST_F(BundleTest, TruncatedManifestIsDataLoss) {
  const std::string dir = WriteSample();
  const std::string text = Slurp(dir + "/manifest.json");
  Spit(dir + "/manifest.json", text.substr(0, text.size() / 2));
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), absl::StatusCode::kDataLoss,
                    {dir, "manifest.json", "not valid JSON"}));
  Spit(dir + "/manifest.json", "");
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), absl::StatusCode::kDataLoss, {dir, "manifest.json"}));
}

TEST_F(BundleTest, NewerFormatVersionIsRefused) {
  const std::string dir = WriteSample();
  json m = json::parse(Slurp(dir + "/manifest.json"));
  m["format_version"] = 7;
  m["files"] = "a future layout this build cannot parse";
  Spit(dir + "/manifest.json", m.dump(2));
  const absl::Status s = ReadBundle(dir).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_EQ(s.message(), absl::StrCat("bundle ", dir, " has format_version 7; this build reads 1"));
}

TEST_F(BundleTest, VersionMustMatchTheDirectoryName) {
  const std::string dir = WriteSample();
  fs::rename(dir, models_ + "/5");
  EXPECT_TRUE(Fails(ReadBundle(models_ + "/5").status(), absl::StatusCode::kFailedPrecondition,
                    {models_ + "/5", "version 1", "version 5"}));
  // Under a name that is not a version (a staging copy), the manifest's version stands.
  fs::rename(models_ + "/5", tmp_.Join("staging"));
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(tmp_.Join("staging")));
  EXPECT_EQ(b.version, "1");
}

// A manifest edit and the error ReadBundle must give for it.
constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

struct ManifestCase {
  std::string name;
  std::function<void(json&)> edit;
  absl::StatusCode code;
  std::string message_part;
};

class ManifestSchemaTest : public BundleTest, public ::testing::WithParamInterface<ManifestCase> {};

TEST_P(ManifestSchemaTest, IsRejected) {
  const std::string dir = WriteSample();
  json m = json::parse(Slurp(dir + "/manifest.json"));
  GetParam().edit(m);
  Spit(dir + "/manifest.json", m.dump(2));
  // Schema errors point at the manifest; content errors at the file.
  std::vector<std::string> parts = {dir, GetParam().message_part};
  if (GetParam().code == kInvalid) parts.push_back("manifest.json");
  EXPECT_TRUE(Fails(ReadBundle(dir).status(), GetParam().code, parts));
}

INSTANTIATE_TEST_SUITE_P(
    Bundle, ManifestSchemaTest,
    ::testing::Values(
        ManifestCase{"NotAnObject", [](json& m) { m = json::array(); }, kInvalid, "object"},
        ManifestCase{"NoFormatVersion", [](json& m) { m.erase("format_version"); }, kInvalid,
                     "format_version"},
        ManifestCase{"FormatVersionString", [](json& m) { m["format_version"] = "1"; }, kInvalid,
                     "format_version"},
        ManifestCase{"FormatVersionZero", [](json& m) { m["format_version"] = 0; }, kInvalid,
                     "format_version"},
        ManifestCase{"FormatVersionNegative", [](json& m) { m["format_version"] = -1; }, kInvalid,
                     "format_version"},
        ManifestCase{"FormatVersionFloat", [](json& m) { m["format_version"] = 1.5; }, kInvalid,
                     "format_version"},
        ManifestCase{"NoVersion", [](json& m) { m.erase("version"); }, kInvalid, "version"},
        ManifestCase{"VersionInteger", [](json& m) { m["version"] = 1; }, kInvalid, "version"},
        ManifestCase{"VersionLeadingZero", [](json& m) { m["version"] = "01"; }, kInvalid,
                     "version"},
        ManifestCase{"NoCreated", [](json& m) { m.erase("created"); }, kInvalid, "created"},
        ManifestCase{"NoFiles", [](json& m) { m.erase("files"); }, kInvalid, "files"},
        ManifestCase{"FilesArray", [](json& m) { m["files"] = json::array(); }, kInvalid, "files"},
        ManifestCase{"EntryNotObject", [](json& m) { m["files"]["tokenizer.model"] = 19; },
                     kInvalid, "tokenizer.model"},
        ManifestCase{"BytesNegative", [](json& m) { m["files"]["tokenizer.model"]["bytes"] = -19; },
                     kInvalid, "bytes"},
        ManifestCase{"BytesString", [](json& m) { m["files"]["tokenizer.model"]["bytes"] = "19"; },
                     kInvalid, "bytes"},
        ManifestCase{"Sha256Uppercase",
                     [](json& m) {
                       std::string sha = m["files"]["tokenizer.model"]["sha256"];
                       for (char& c : sha) c = static_cast<char>(std::toupper(c));
                       m["files"]["tokenizer.model"]["sha256"] = sha;
                     },
                     kInvalid, "sha256"},
        ManifestCase{"Sha256Short",
                     [](json& m) { m["files"]["tokenizer.model"]["sha256"] = "abc"; }, kInvalid,
                     "sha256"},
        ManifestCase{
            "PathEscapingName",
            [](json& m) { m["files"]["../../etc/passwd"] = m["files"]["tokenizer.model"]; },
            kInvalid, "bad bundle file name"},
        ManifestCase{"ManifestListsItself",
                     [](json& m) { m["files"]["manifest.json"] = m["files"]["tokenizer.model"]; },
                     kInvalid, "bad bundle file name"},
        ManifestCase{"SizeDisagrees", [](json& m) { m["files"]["tokenizer.model"]["bytes"] = 20; },
                     absl::StatusCode::kDataLoss, "tokenizer.model"},
        ManifestCase{
            "HashDisagrees",
            [](json& m) { m["files"]["tokenizer.model"]["sha256"] = Sha256Hex("something else"); },
            absl::StatusCode::kDataLoss, "tokenizer.model"},
        ManifestCase{
            "ListsAFileThatIsNotThere",
            [](json& m) { m["files"]["image_encoder.pt"] = m["files"]["tokenizer.model"]; },
            absl::StatusCode::kDataLoss, "image_encoder.pt"}),
    [](const ::testing::TestParamInfo<ManifestCase>& info) { return info.param.name; });

TEST_F(BundleTest, LatestBundleDirSortsNumericallyAndSkipsOtherNames) {
  for (const std::string v : {"2", "9", "10"}) {
    WriteBundleOptions options;
    options.version = v;
    WriteSample(options);
  }
  fs::create_directories(models_ + "/.tmp-11-123-abcdef");
  fs::create_directories(models_ + "/abc");
  fs::create_directories(models_ + "/010");
  fs::create_directories(models_ + "/99x");
  fs::create_directories(models_ + "/-12");
  Spit(models_ + "/12", "a file, not a directory");
  ASSERT_OK_AND_ASSIGN(const auto versions, ListVersions(models_));
  EXPECT_EQ(versions, (std::vector<std::string>{"2", "9", "10"}));
  ASSERT_OK_AND_ASSIGN(const std::string latest, LatestBundleDir(models_));
  EXPECT_EQ(latest, models_ + "/10");
  // The next automatic version follows the largest real one.
  EXPECT_EQ(WriteSample(), models_ + "/11");
}

TEST_F(BundleTest, HalfWrittenTemporaryDirectoryIsNotPicked) {
  WriteSample();
  WriteSample();
  // What a writer killed mid-way leaves behind.
  const std::string partial = models_ + "/.tmp-3-4242-0123456789abcdef";
  fs::create_directories(partial);
  Spit(partial + "/graph_encoder.pt", "half of the wei");
  Spit(partial + "/manifest.json", "{\"format_version\": 1, \"vers");
  ASSERT_OK_AND_ASSIGN(const std::string latest, LatestBundleDir(models_));
  EXPECT_EQ(latest, models_ + "/2");
  EXPECT_OK(ReadBundle(latest).status());
  EXPECT_EQ(WriteSample(), models_ + "/3");
  ASSERT_OK_AND_ASSIGN(const std::string newest, LatestBundleDir(models_));
  EXPECT_EQ(newest, models_ + "/3");
  ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(newest));
  EXPECT_EQ(b.files, SampleFiles());
}

TEST_F(BundleTest, NoVersionsIsNotFound) {
  EXPECT_TRUE(Fails(LatestBundleDir(models_).status(), absl::StatusCode::kNotFound, {models_}));
  EXPECT_TRUE(Fails(ListVersions(models_).status(), absl::StatusCode::kNotFound, {models_}));
  fs::create_directories(models_ + "/.tmp-1-1-1");
  fs::create_directories(models_ + "/latest");
  ASSERT_OK_AND_ASSIGN(const auto versions, ListVersions(models_));
  EXPECT_TRUE(versions.empty());
  EXPECT_TRUE(Fails(LatestBundleDir(models_).status(), absl::StatusCode::kNotFound,
                    {"no model bundle in " + models_}));
}

TEST_F(BundleTest, ConcurrentWritersGetDistinctReadableVersions) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 3;
  // results[t][i]: the directory (or error) of writer t's i-th bundle.
  std::vector<std::vector<absl::StatusOr<std::string>>> results(kThreads);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &results, &ready] {
      // Start together so that writers pick the same next version and collide.
      ready.fetch_add(1);
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = absl::StrCat(t, "/", i);
        results[t].push_back(
            WriteBundle(models_, {{"writer", id}}, {{"weights.pt", "weights of " + id}}));
      }
    });
  }
  for (std::thread& th : threads) th.join();

  std::set<std::string> dirs;
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      ASSERT_OK(results[t][i]);
      const std::string& dir = *results[t][i];
      dirs.insert(dir);
      ASSERT_OK_AND_ASSIGN(const Bundle b, ReadBundle(dir));
      const std::string id = absl::StrCat(t, "/", i);
      EXPECT_EQ(b.manifest["writer"], id) << dir;
      EXPECT_EQ(b.files.at("weights.pt"), "weights of " + id) << dir;
    }
  }
  EXPECT_EQ(dirs.size(), static_cast<size_t>(kThreads * kPerThread));
  std::vector<std::string> expected;
  for (int v = 1; v <= kThreads * kPerThread; ++v) expected.push_back(absl::StrCat(v));
  ASSERT_OK_AND_ASSIGN(const auto versions, ListVersions(models_));
  EXPECT_EQ(versions, expected);
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(Entries(models_), expected);  // No temporary directory left.
}

}  // namespace
}  // namespace matalign::bundle
