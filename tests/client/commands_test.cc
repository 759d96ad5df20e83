// mmclient's commands against the fake server, and the mmclient program's exit codes.
#include "mmclient/commands.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/target.h"
#include "common/file.h"
#include "gtest/gtest.h"
#include "mmclient/exit_codes.h"
#include "tests/client/fake_server.h"
#include "tests/test_util.h"

namespace matalign::mmclient {
namespace {

using ::matalign::testing::BinaryPath;
using ::matalign::testing::FakeMatAlign;
using ::matalign::testing::FakeServer;
using ::matalign::testing::RunCommand;
using ::matalign::testing::TempDir;

GetEnv EnvOf(std::map<std::string, std::string> env) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(env));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// --- global flags ------------------------------------------------------------------------

TEST(ClientOptionsFromFlagsTest, EnvironmentGivesTheDefaults) {
  ASSERT_OK_AND_ASSIGN(client::ClientOptions o, MakeClientOptions({}, EnvOf({})));
  EXPECT_EQ(o.server, "localhost:50051");
  EXPECT_EQ(o.token, "");
  EXPECT_EQ(o.timeout, absl::Seconds(60));

  ASSERT_OK_AND_ASSIGN(
      o, MakeClientOptions({}, EnvOf({{"MATALIGN_SERVER", "db:1"}, {"MATALIGN_TOKEN", "t1\n"}})));
  EXPECT_EQ(o.server, "db:1");
  EXPECT_EQ(o.token, "t1");

  GlobalFlags flags;
  flags.server = "flag:2";
  flags.token = "t2";
  flags.timeout_seconds = 2.5;
  ASSERT_OK_AND_ASSIGN(
      o, MakeClientOptions(flags, EnvOf({{"MATALIGN_SERVER", "db:1"}, {"MATALIGN_TOKEN", "t1"}})));
  EXPECT_EQ(o.server, "flag:2");
  EXPECT_EQ(o.token, "t2");
  EXPECT_EQ(o.timeout, absl::Milliseconds(2500));
}

TEST(ClientOptionsFromFlagsTest, TokenFile) {
  TempDir dir;
  WriteText(dir.Join("token"), "  s3cret\n");
  GlobalFlags flags;
  flags.token_file = dir.Join("token");
  ASSERT_OK_AND_ASSIGN(client::ClientOptions o,
                       MakeClientOptions(flags, EnvOf({{"MATALIGN_TOKEN", "env"}})));
  EXPECT_EQ(o.token, "s3cret");  // the file beats the environment

  flags.token = "also";
  auto both = MakeClientOptions(flags, EnvOf({}));
  EXPECT_EQ(ExitCodeFor(both.status()), kExitUsage);

  flags.token.clear();
  flags.token_file = dir.Join("missing");
  auto missing = MakeClientOptions(flags, EnvOf({}));
  EXPECT_EQ(ExitCodeFor(missing.status()), kExitUsage);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "--token-file")) << missing.status();

  WriteText(dir.Join("two"), "a\nb\n");
  flags.token_file = dir.Join("two");
  EXPECT_EQ(ExitCodeFor(MakeClientOptions(flags, EnvOf({})).status()), kExitUsage);
}

TEST(ClientOptionsFromFlagsTest, BadValuesAreUsageErrors) {
  GlobalFlags flags;
  flags.timeout_seconds = 0;
  EXPECT_EQ(ExitCodeFor(MakeClientOptions(flags, EnvOf({})).status()), kExitUsage);
  flags.timeout_seconds = 5;
  flags.tls_cert = "c.pem";  // without key and CA
  EXPECT_EQ(ExitCodeFor(MakeClientOptions(flags, EnvOf({})).status()), kExitUsage);
}

TEST(ConnectClientTest, MissingCaFileIsAUsageError) {
  client::ClientOptions options;
  options.tls_ca_file = "/nonexistent/ca.pem";
  auto client = ConnectClient(options);
  EXPECT_EQ(ExitCodeFor(client.status()), kExitUsage);
  EXPECT_TRUE(absl::StrContains(FormatError(client.status(), ""), "/nonexistent/ca.pem"));
}

// --- request building --------------------------------------------------------------------

TEST(SearchRequestTest, ExactlyOneQuery) {
  SearchCommand none;
  EXPECT_EQ(ExitCodeFor(BuildSearchRequest(none).status()), kExitUsage);
  SearchCommand two;
  two.text = "x";
  two.record_id = "r";
  EXPECT_EQ(ExitCodeFor(BuildSearchRequest(two).status()), kExitUsage);
  SearchCommand modality_without_record;
  modality_without_record.text = "x";
  modality_without_record.query_modality = "text";
  EXPECT_EQ(ExitCodeFor(BuildSearchRequest(modality_without_record).status()), kExitUsage);
}

TEST(SearchRequestTest, TextQueryWithFiltersAndTargetModality) {
  SearchCommand command;
  command.text = "calcined at 900 C";
  command.target_modality = "structure";
  command.k = 7;
  command.filters.exclude_elements = {"Pb", "Cd"};
  command.filters.classes = {"nano"};
  ASSERT_OK_AND_ASSIGN(v1::SearchRequest r, BuildSearchRequest(command));
  EXPECT_EQ(r.text(), "calcined at 900 C");
  EXPECT_EQ(r.target_modality(), v1::MODALITY_STRUCTURE);
  EXPECT_EQ(r.k(), 7u);
  EXPECT_EQ(r.filter().excluded_elements_size(), 2);
  EXPECT_EQ(r.filter().material_classes(0), "nano");

  command.target_modality = "sound";
  auto bad = BuildSearchRequest(command);
  EXPECT_EQ(ExitCodeFor(bad.status()), kExitUsage);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "--in: unknown modality 'sound'"));
  command.target_modality.clear();
  command.k = 0;
  EXPECT_EQ(ExitCodeFor(BuildSearchRequest(command).status()), kExitUsage);
}

TEST(SearchRequestTest, TargetFileGivesDefaultsThatFlagsOverride) {
  TempDir dir;
  WriteText(dir.Join("t.json"),
            R"({"properties": {"band_gap_ev": 2}, "k": 4, "filters": {"routes": ["sol-gel"],)"
            R"( "exclude_elements": ["Pb"]}})");
  SearchCommand command;
  command.target_file = dir.Join("t.json");
  command.target_modality = "text";
  ASSERT_OK_AND_ASSIGN(v1::SearchRequest r, BuildSearchRequest(command));
  EXPECT_EQ(r.target().properties().at("band_gap_ev"), 2.0);
  EXPECT_EQ(r.k(), 4u);
  EXPECT_EQ(r.filter().routes(0), "sol-gel");
  command.k = 9;
  command.filters.routes = {"hydrothermal", "cvd"};
  ASSERT_OK_AND_ASSIGN(r, BuildSearchRequest(command));
  EXPECT_EQ(r.k(), 9u);
  ASSERT_EQ(r.filter().routes_size(), 2);
  EXPECT_EQ(r.filter().routes(0), "hydrothermal");
  EXPECT_EQ(r.filter().excluded_elements(0), "Pb");  // not given on the command line: kept
}

TEST(SearchRequestTest, RecordQueryAndFiles) {
  SearchCommand command;
  command.record_id = "syn-1";
  command.query_modality = "text";
  ASSERT_OK_AND_ASSIGN(v1::SearchRequest r, BuildSearchRequest(command));
  EXPECT_EQ(r.record_id(), "syn-1");
  EXPECT_EQ(r.query_modality(), v1::MODALITY_TEXT);

  SearchCommand structure;
  structure.structure_file = "/nonexistent/x.cif";
  auto missing = BuildSearchRequest(structure);
  EXPECT_EQ(ExitCodeFor(missing.status()), kExitUsage);
  EXPECT_TRUE(absl::StrContains(missing.status().message(), "/nonexistent/x.cif"));
}

// The target file's k and --k share the API's limit, client::kMaxK.
TEST(RecommendRequestTest, FileAndFlagShareTheKLimit) {
  TempDir dir;
  WriteText(dir.Join("max.json"),
            absl::StrCat(R"({"properties": {"x": 1}, "k": )", client::kMaxK, "}"));
  WriteText(dir.Join("over.json"),
            absl::StrCat(R"({"properties": {"x": 1}, "k": )", client::kMaxK + 1, "}"));
  RecommendCommand command;
  command.target_file = dir.Join("max.json");
  ASSERT_OK_AND_ASSIGN(v1::RecommendRequest r, BuildRecommendRequest(command));
  EXPECT_EQ(r.k(), client::kMaxK);
  command.k = client::kMaxK;
  EXPECT_OK(BuildRecommendRequest(command).status());
  command.k = client::kMaxK + 1;
  EXPECT_EQ(ExitCodeFor(BuildRecommendRequest(command).status()), kExitUsage);
  command.k.reset();
  command.target_file = dir.Join("over.json");
  EXPECT_EQ(ExitCodeFor(BuildRecommendRequest(command).status()), kExitUsage);
}

TEST(RecommendRequestTest, KOverridesTheFile) {
  TempDir dir;
  WriteText(dir.Join("t.json"), R"({"composition": {"Ba": 1, "Ti": 1, "O": 3}, "k": 4})");
  RecommendCommand command;
  command.target_file = dir.Join("t.json");
  ASSERT_OK_AND_ASSIGN(v1::RecommendRequest r, BuildRecommendRequest(command));
  EXPECT_EQ(r.k(), 4u);
  command.k = 12;
  ASSERT_OK_AND_ASSIGN(r, BuildRecommendRequest(command));
  EXPECT_EQ(r.k(), 12u);
  EXPECT_EQ(r.target().composition().at("Ti"), 1.0);

  WriteText(dir.Join("bad.json"), R"({"properties": {"x": 1}, "filter": {}})");
  command.target_file = dir.Join("bad.json");
  auto bad = BuildRecommendRequest(command);
  EXPECT_EQ(ExitCodeFor(bad.status()), kExitUsage);
  EXPECT_TRUE(absl::StrContains(bad.status().message(), "unknown key 'filter'"));
}

// --- against the fake server -------------------------------------------------------------

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>(&service_);
    ASSERT_TRUE(server_->ok());
    client_ = client::Client::FromChannel(server_->InProcessChannel(), {});
  }

  // A manifest of `ids`, each with a structure file and an SEM image.
  std::string WriteManifest(const std::vector<std::string>& ids) {
    std::string lines;
    for (const std::string& id : ids) {
      WriteText(dir_.Join("data/s/" + id + ".cif"), "data_" + id + "\n");
      WriteText(dir_.Join("data/img/" + id + ".png"), "png-" + id);
      absl::StrAppend(&lines, R"({"id":")", id, R"(","class":"crystalline","split":"train",)",
                      R"("structure":{"path":"s/)", id, R"(.cif","format":"cif"},)",
                      R"("images":[{"path":"img/)", id, R"(.png","kind":"sem"}]})", "\n");
    }
    const std::string path = dir_.Join("data/manifest.jsonl");
    WriteText(path, lines);
    return path;
  }

  IngestOutcome Ingest(const IngestCommand& command) {
    out_.str("");
    err_.str("");
    return RunIngest(*client_, command, out_, err_);
  }

  TempDir dir_;
  FakeMatAlign service_;
  std::unique_ptr<FakeServer> server_;
  std::unique_ptr<client::Client> client_;
  std::ostringstream out_, err_;
};

TEST_F(CommandsTest, RecommendPrintsATable) {
  WriteText(dir_.Join("t.json"), R"({"properties": {"band_gap_ev": 2.1}, "k": 3})");
  RecommendCommand command;
  command.target_file = dir_.Join("t.json");
  std::ostringstream out;
  ASSERT_OK(RunRecommend(*client_, command, out));
  EXPECT_EQ(service_.last_recommend().k(), 3u);
  EXPECT_TRUE(absl::StartsWith(out.str(), "model 7, 1 hit(s)\nrank  score  id")) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "hit-band_gap_ev  sol-gel")) << out.str();
  EXPECT_TRUE(absl::StrContains(out.str(), "Mixed and calcined.")) << out.str();

  command.json = true;
  std::ostringstream json;
  ASSERT_OK(RunRecommend(*client_, command, json));
  EXPECT_TRUE(absl::StrContains(json.str(), "\"model_version\": \"7\"")) << json.str();
}

TEST_F(CommandsTest, ServerRejectionKeepsItsMessageAndExitsThree) {
  WriteText(dir_.Join("t.json"), R"({"properties": {"bogus": 1}})");
  RecommendCommand command;
  command.target_file = dir_.Join("t.json");
  std::ostringstream out;
  const absl::Status status = RunRecommend(*client_, command, out);
  EXPECT_EQ(ExitCodeFor(status), kExitRejected);
  EXPECT_EQ(FormatError(status, "x"),
            "mmclient: INVALID_ARGUMENT: target.properties: unknown property 'bogus' (known: "
            "band_gap_ev)");
}

TEST_F(CommandsTest, GetUnknownIdExitsFour) {
  std::ostringstream out;
  EXPECT_EQ(ExitCodeFor(RunGet(*client_, "nope", false, false, out)), kExitNotFound);
  ASSERT_OK(RunGet(*client_, "known", false, false, out));
  EXPECT_TRUE(absl::StrContains(out.str(), "key       42")) << out.str();
}

TEST_F(CommandsTest, HealthIsServing) {
  std::ostringstream out;
  ASSERT_OK(RunHealth(*client_, "", out));
  EXPECT_EQ(out.str(), "SERVING\n");
  EXPECT_EQ(ExitCodeFor(RunHealth(*client_, "no.such.Service", out)), kExitNotFound);
}

TEST_F(CommandsTest, IngestListsRejectionsAndRecordsAcceptedIds) {
  const std::string manifest = WriteManifest({"m1", "bad2", "m3", "m4"});
  IngestCommand command;
  command.manifest = manifest;
  command.batch = 2;
  IngestOutcome outcome = Ingest(command);
  ASSERT_OK(outcome.status);
  EXPECT_EQ(outcome.summary.total, 4);
  EXPECT_EQ(outcome.summary.accepted, 3);
  EXPECT_EQ(outcome.summary.rejected, 1);
  EXPECT_EQ(outcome.summary.skipped, 0);
  EXPECT_EQ(IngestExitCode(outcome), kExitIngestRejected);
  EXPECT_TRUE(
      absl::StrContains(out_.str(), "rejected bad2: INVALID_ARGUMENT: structure: cannot parse\n"))
      << out_.str();
  EXPECT_TRUE(absl::StrContains(out_.str(), "3 accepted, 1 rejected, 0 skipped")) << out_.str();
  ASSERT_OK_AND_ASSIGN(std::string progress, ReadFile(manifest + ".ingested"));
  EXPECT_EQ(progress, "m1\nm3\nm4\n");
  // The records arrived with their files' contents.
  EXPECT_EQ(service_.last_record().id(), "m4");
  EXPECT_EQ(service_.last_record().structure().content(), "data_m4\n");
  EXPECT_EQ(service_.last_record().images(0).data(), "png-m4");
  // Plain (non-terminal) progress lines on err.
  EXPECT_TRUE(absl::StrContains(err_.str(), "ingest: 4/4 records (100%)")) << err_.str();
}

TEST_F(CommandsTest, IngestResumesAfterTheLastAcceptedRecord) {
  const std::string manifest = WriteManifest({"m1", "m2", "m3", "m4", "m5", "m6"});
  service_.ingest_fail_after = 2;  // the server goes away after two acknowledgements
  IngestCommand command;
  command.manifest = manifest;
  command.batch = 1;
  IngestOutcome first = Ingest(command);
  EXPECT_EQ(first.status.code(), absl::StatusCode::kUnavailable) << first.status;
  EXPECT_EQ(IngestExitCode(first), kExitUnavailable);
  EXPECT_EQ(first.summary.accepted, 2);
  EXPECT_TRUE(absl::StrContains(err_.str(), "run the same command to resume")) << err_.str();
  ASSERT_OK_AND_ASSIGN(std::string progress, ReadFile(manifest + ".ingested"));
  EXPECT_EQ(progress, "m1\nm2\n");

  service_.ingest_fail_after = -1;
  IngestOutcome second = Ingest(command);
  ASSERT_OK(second.status);
  EXPECT_EQ(IngestExitCode(second), kExitOk);
  EXPECT_EQ(second.summary.skipped, 2);
  EXPECT_EQ(second.summary.sent, 4);
  EXPECT_TRUE(
      absl::StrContains(err_.str(), "resuming: 2 of 6 already acknowledged; --restart to send all"))
      << err_.str();
  ASSERT_OK_AND_ASSIGN(progress, ReadFile(manifest + ".ingested"));
  EXPECT_EQ(progress, "m1\nm2\nm3\nm4\nm5\nm6\n");

  // Everything acknowledged: nothing is sent.
  IngestOutcome third = Ingest(command);
  ASSERT_OK(third.status);
  EXPECT_EQ(third.summary.sent, 0);
  EXPECT_EQ(third.summary.skipped, 6);

  // --restart sends everything again and starts a new progress file.
  command.restart = true;
  IngestOutcome fourth = Ingest(command);
  ASSERT_OK(fourth.status);
  EXPECT_EQ(fourth.summary.sent, 6);
  EXPECT_EQ(fourth.summary.skipped, 0);
  ASSERT_OK_AND_ASSIGN(progress, ReadFile(manifest + ".ingested"));
  EXPECT_EQ(progress, "m1\nm2\nm3\nm4\nm5\nm6\n");
  // The fake stored m1, m2 and m3 in the first run (m3's acknowledgement was lost with the
  // stream, so it is sent again: ingesting an id again replaces it), m3..m6 in the second
  // and all six in the fourth.
  EXPECT_EQ(service_.ingested_ids().size(), 3u + 4u + 6u);
}

TEST_F(CommandsTest, IngestProgressFileCanBeChosen) {
  const std::string manifest = WriteManifest({"m1"});
  IngestCommand command;
  command.manifest = manifest;
  command.progress_file = dir_.Join("elsewhere/progress.txt");
  std::filesystem::create_directories(dir_.Join("elsewhere"));
  ASSERT_OK(Ingest(command).status);
  ASSERT_OK_AND_ASSIGN(std::string progress, ReadFile(command.progress_file));
  EXPECT_EQ(progress, "m1\n");
  EXPECT_FALSE(std::filesystem::exists(manifest + ".ingested"));
}

TEST_F(CommandsTest, IngestWithAMissingFileIsAUsageErrorBeforeSending) {
  const std::string manifest = WriteManifest({"m1", "m2"});
  std::filesystem::remove(dir_.Join("data/img/m2.png"));
  IngestCommand command;
  command.manifest = manifest;
  IngestOutcome outcome = Ingest(command);
  EXPECT_EQ(IngestExitCode(outcome), kExitUsage);
  EXPECT_TRUE(absl::StrContains(outcome.status.message(), "img/m2.png")) << outcome.status;
  EXPECT_TRUE(service_.ingested_ids().empty());
}

TEST_F(CommandsTest, IngestMissingManifestIsAUsageError) {
  IngestCommand command;
  command.manifest = dir_.Join("nope.jsonl");
  EXPECT_EQ(IngestExitCode(Ingest(command)), kExitUsage);
}

// --- the program -------------------------------------------------------------------------

// The mmclient binary's exit code and output for `args`.
::matalign::testing::CommandResult Mmclient(const std::string& args) {
  return RunCommand(
      absl::StrCat("env -u MATALIGN_SERVER -u MATALIGN_TOKEN ", BinaryPath("mmclient"), " ", args));
}

TEST(MmclientProgramTest, UnreachableServerExitsSix) {
  // Bound but not listening: connections are refused.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string server = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  auto r = Mmclient(absl::StrCat("--server ", server, " --timeout 20 health"));
  ::close(fd);
  EXPECT_EQ(r.exit_code, kExitUnavailable) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "mmclient: UNAVAILABLE: ")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.out, "(server " + server + ")")) << r.out;
}

TEST(MmclientProgramTest, UsageErrorsExitTwo) {
  EXPECT_EQ(Mmclient("").exit_code, kExitUsage);
  EXPECT_EQ(Mmclient("no-such-command").exit_code, kExitUsage);
  EXPECT_EQ(Mmclient("recommend").exit_code, kExitUsage);  // --target is required
  EXPECT_EQ(Mmclient("search --text x --k 0").exit_code, kExitUsage);
  auto missing = Mmclient("recommend --target /nonexistent/t.json");
  EXPECT_EQ(missing.exit_code, kExitUsage) << missing.out;
  EXPECT_TRUE(absl::StrContains(missing.out, "mmclient: NOT_FOUND: /nonexistent/t.json"))
      << missing.out;
  EXPECT_EQ(Mmclient("--tls-ca /nonexistent/ca.pem health").exit_code, kExitUsage);
}

TEST(MmclientProgramTest, HelpListsTheExitCodes) {
  auto r = Mmclient("--help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.out, "7  ingest finished but some records were rejected"))
      << r.out;
}

TEST(MmclientProgramTest, AgainstTheFakeServer) {
  FakeMatAlign service;
  service.required_token = "s3cret";
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  TempDir dir;
  WriteText(dir.Join("s/a.cif"), "data_a\n");
  WriteText(
      dir.Join("manifest.jsonl"),
      R"({"id":"a","class":"crystalline","split":"train","structure":{"path":"s/a.cif","format":"cif"}})"
      "\n"
      R"({"id":"bad-b","class":"crystalline","split":"train"})"
      "\n");
  // Global options after the subcommand; health needs no token.
  auto health = Mmclient(absl::StrCat("health --server ", server.address()));
  EXPECT_EQ(health.exit_code, 0) << health.out;
  EXPECT_EQ(health.out, "SERVING\n");

  auto denied = Mmclient(absl::StrCat("ingest --manifest ", dir.Join("manifest.jsonl"),
                                      " --server ", server.address()));
  EXPECT_EQ(denied.exit_code, kExitDenied) << denied.out;
  EXPECT_TRUE(absl::StrContains(denied.out, "mmclient: UNAUTHENTICATED: fake: missing bearer"))
      << denied.out;

  auto ingest = RunCommand(absl::StrCat("MATALIGN_TOKEN=s3cret MATALIGN_SERVER=", server.address(),
                                        " ", BinaryPath("mmclient"), " ingest --manifest ",
                                        dir.Join("manifest.jsonl"), " 2>&1"));
  EXPECT_EQ(ingest.exit_code, kExitIngestRejected) << ingest.out;
  EXPECT_TRUE(absl::StrContains(ingest.out, "rejected bad-b: INVALID_ARGUMENT")) << ingest.out;
  EXPECT_TRUE(absl::StrContains(ingest.out, "1 accepted, 1 rejected")) << ingest.out;

  auto missing = Mmclient(absl::StrCat("--server ", server.address(), " --token s3cret get nope"));
  EXPECT_EQ(missing.exit_code, kExitNotFound) << missing.out;
  EXPECT_TRUE(absl::StrContains(missing.out, "mmclient: NOT_FOUND: record 'nope' not found"))
      << missing.out;
}

}  // namespace
}  // namespace matalign::mmclient
