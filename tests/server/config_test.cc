// mmserver's configuration: defaults without a file, a full file, and errors that name the
// key and what is wrong.
#include "server/config.h"

#include "common/file.h"
#include "tests/test_util.h"

namespace matalign::server {
namespace {

using ::matalign::testing::TempDir;

TEST(ServerConfigTest, EmptyFileGivesTheDocumentedDefaults) {
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseServerConfig("", "empty.yaml"));
  EXPECT_EQ(c.listen, "0.0.0.0:50051");
  EXPECT_EQ(c.data_dir, "./var");
  EXPECT_EQ(c.models_dir, "./models");
  EXPECT_EQ(c.durability, index::Durability::kSync);
  EXPECT_EQ(c.index_factory, "Flat");
  EXPECT_EQ(c.batching.max_batch_size, 32);
  EXPECT_FALSE(c.tls.enabled());
  EXPECT_OK(ServerConfig().Validate());
}

TEST(ServerConfigTest, EveryKeyIsRead) {
  const char* yaml = R"(
listen: "[::1]:6000"
data_dir: /srv/matalign
models_dir: /srv/models
model_version: "3"
device: cpu
threads: 4
max_message_bytes: 1048576
metrics_listen: ""
store: {durability: async, index_factory: HNSW32, snapshot_interval_seconds: 60}
batching: {max_batch_size: 16, max_delay_ms: 0.5, max_queue: 64, workers: 2}
ingest: {batch_records: 100}
reload: {poll_seconds: 0}
shutdown: {grace_seconds: 5}
tls: {cert_file: s.pem, key_file: s.key, client_ca_file: ca.pem}
auth: {tokens_file: t.txt, admin_tokens_file: a.txt}
)";
  ASSERT_OK_AND_ASSIGN(ServerConfig c, ParseServerConfig(yaml, "full.yaml"));
  EXPECT_EQ(c.listen, "[::1]:6000");
  EXPECT_EQ(c.model_version, "3");
  EXPECT_EQ(c.device, "cpu");
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.metrics_listen, "");
  EXPECT_EQ(c.durability, index::Durability::kAsync);
  EXPECT_EQ(c.index_factory, "HNSW32");
  EXPECT_EQ(c.batching.max_delay, absl::Microseconds(500));
  EXPECT_EQ(c.batching.workers, 2);
  EXPECT_EQ(c.ingest_batch_records, 100);
  EXPECT_EQ(c.tls.client_ca_file, "ca.pem");
  EXPECT_EQ(c.auth.admin_tokens_file, "a.txt");
  // Round trip through the JSON form.
  ASSERT_OK_AND_ASSIGN(ServerConfig again,
                       ParseServerConfig(ServerConfigToJson(c).dump(), "json.yaml"));
  EXPECT_EQ(ServerConfigToJson(again), ServerConfigToJson(c));

  std::string host;
  int port = 0;
  ASSERT_OK(ParseHostPort(c.listen, "listen", &host, &port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 6000);
}

TEST(ServerConfigTest, ErrorsNameTheKey) {
  struct Case {
    const char* yaml;
    const char* message;
  } cases[] = {
      {"listen: localhost", "listen: expected host:port"},
      {"listen: 50051", "listen: expected a string"},
      {"lsten: 0.0.0.0:1", "lsten: unknown key"},
      {"store: {durability: maybe}", "store.durability: unknown durability 'maybe'"},
      {"batching: {max_batch_size: 0}", "batching: "},
      {"device: tpu", "device: must be auto, cpu or cuda"},
      {"tls: {cert_file: a.pem}", "cert_file and key_file go together"},
      {"auth: {admin_tokens_file: a}", "needs auth.tokens_file"},
      {"threads: many", "threads"},
      {"max_message_bytes: 2147483648", "max_message_bytes: must be in [1 KiB, 2 GiB - 1]"},
      {"listen: [", "not valid YAML"},
  };
  for (const Case& c : cases) {
    auto r = ParseServerConfig(c.yaml, "bad.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << c.yaml;
    EXPECT_NE(r.status().message().find(c.message), std::string::npos)
        << c.yaml << " -> " << r.status();
    EXPECT_EQ(r.status().message().rfind("bad.yaml", 0), 0u) << r.status();
  }
  EXPECT_EQ(LoadServerConfig("/nonexistent/matalign.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ServerConfigTest, MaxMessageBytesFitsGrpcsInt) {
  // gRPC's builder takes an int: the largest int is accepted, one more is refused rather than
  // wrapped to a negative limit.
  ASSERT_OK_AND_ASSIGN(ServerConfig c,
                       ParseServerConfig("max_message_bytes: 2147483647", "max.yaml"));
  EXPECT_EQ(c.max_message_bytes, 2147483647);
  EXPECT_EQ(ParseServerConfig("max_message_bytes: 2147483648", "max.yaml").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ServerConfigTest, TokenFiles) {
  TempDir tmp;
  ASSERT_OK(WriteFileAtomic(tmp.Join("t.txt"), "# lab systems\nabc123\n\n  def456  \n"));
  ASSERT_OK_AND_ASSIGN(auto tokens, ReadTokenFile(tmp.Join("t.txt")));
  EXPECT_EQ(tokens, (std::vector<std::string>{"abc123", "def456"}));
  ASSERT_OK(WriteFileAtomic(tmp.Join("bad.txt"), "a b\n"));
  EXPECT_EQ(ReadTokenFile(tmp.Join("bad.txt")).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_OK(WriteFileAtomic(tmp.Join("empty.txt"), "# none\n"));
  EXPECT_EQ(ReadTokenFile(tmp.Join("empty.txt")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::server
