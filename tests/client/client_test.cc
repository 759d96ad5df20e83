// The client library without a real server: options, Connect, the status mapping, an
// unreachable server, and every unary path and the Ingest helper against the fake server
// of fake_server.h (in-process channel).
#include "client/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/grpc_status.h"
#include "gtest/gtest.h"
#include "tests/client/fake_server.h"
#include "tests/test_util.h"

namespace matalign::client {
namespace {

using ::matalign::testing::FakeMatAlign;
using ::matalign::testing::FakeServer;
using ::matalign::testing::TempDir;

// A loopback port on which nothing listens: bound (so no one else takes it) but never
// listening, so a connection attempt is refused. Closed by the destructor.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port_ = ntohs(addr.sin_port);
    }
  }
  ~RefusingPort() {
    if (fd_ >= 0) ::close(fd_);
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST(ClientOptionsTest, DefaultsAreValid) {
  ClientOptions options;
  EXPECT_OK(options.Validate());
  EXPECT_EQ(options.server, "localhost:50051");
  EXPECT_EQ(options.timeout, absl::Seconds(60));
}

TEST(ClientOptionsTest, RejectsEachBadField) {
  struct Case {
    const char* name;
    void (*mutate)(ClientOptions*);
    const char* message;
  };
  const Case cases[] = {
      {"empty server", [](ClientOptions* o) { o->server = ""; }, "server"},
      {"space in server", [](ClientOptions* o) { o->server = "host :1"; }, "whitespace"},
      {"cert without key",
       [](ClientOptions* o) {
         o->tls_ca_file = "ca.pem";
         o->tls_cert_file = "c.pem";
       },
       "tls_cert_file and tls_key_file"},
      {"mtls without ca",
       [](ClientOptions* o) {
         o->tls_cert_file = "c.pem";
         o->tls_key_file = "k.pem";
       },
       "tls_ca_file"},
      {"token with space", [](ClientOptions* o) { o->token = "a b"; }, "token"},
      {"token with newline", [](ClientOptions* o) { o->token = "abc\n"; }, "token"},
      {"zero timeout", [](ClientOptions* o) { o->timeout = absl::ZeroDuration(); }, "timeout"},
      {"infinite timeout", [](ClientOptions* o) { o->timeout = absl::InfiniteDuration(); },
       "timeout"},
      {"zero message size", [](ClientOptions* o) { o->max_message_bytes = 0; },
       "max_message_bytes"},
  };
  for (const Case& c : cases) {
    ClientOptions options;
    c.mutate(&options);
    const absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_TRUE(absl::StrContains(status.message(), c.message)) << c.name << ": " << status;
  }
}

TEST(IngestOptionsTest, NeedsAtLeastOneInFlight) {
  IngestOptions options;
  EXPECT_OK(options.Validate());
  options.max_in_flight = 0;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(GrpcStatusTest, KeepsCodeAndMessage) {
  EXPECT_OK(FromGrpcStatus(grpc::Status::OK));
  for (int code = 1; code <= 16; ++code) {
    const absl::Status s =
        FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "the server's words"));
    EXPECT_EQ(static_cast<int>(s.code()), code);
    EXPECT_EQ(s.message(), "the server's words");
  }
  const absl::Status odd = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(99), "x"));
  EXPECT_EQ(odd.code(), absl::StatusCode::kUnknown);
  EXPECT_EQ(odd.message(), "x");
}

TEST(ConnectTest, MissingCaFileIsNotFoundNamingIt) {
  ClientOptions options;
  options.tls_ca_file = "/nonexistent/ca.pem";
  auto client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(client.status().message(), "/nonexistent/ca.pem"))
      << client.status();
  EXPECT_TRUE(absl::StrContains(client.status().message(), "TLS CA file")) << client.status();
}

TEST(ConnectTest, EmptyCaFileIsInvalid) {
  TempDir dir;
  std::ofstream(dir.Join("ca.pem")).flush();
  ClientOptions options;
  options.tls_ca_file = dir.Join("ca.pem");
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kInvalidArgument) << client.status();
}

TEST(ConnectTest, MissingClientKeyIsNotFound) {
  TempDir dir;
  std::ofstream(dir.Join("ca.pem")) << "-----BEGIN CERTIFICATE-----\n";
  std::ofstream(dir.Join("cert.pem")) << "-----BEGIN CERTIFICATE-----\n";
  ClientOptions options;
  options.tls_ca_file = dir.Join("ca.pem");
  options.tls_cert_file = dir.Join("cert.pem");
  options.tls_key_file = dir.Join("key.pem");
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(absl::StrContains(client.status().message(), "TLS key file")) << client.status();
}

TEST(ConnectTest, InvalidOptionsAreRejectedBeforeConnecting) {
  ClientOptions options;
  options.timeout = absl::Seconds(-1);
  EXPECT_EQ(Client::Connect(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ConnectTest, UnreachableServerIsUnavailableOnFirstCall) {
  RefusingPort port;
  ASSERT_GT(port.port(), 0);
  ClientOptions options;
  options.server = absl::StrCat("127.0.0.1:", port.port());
  options.timeout = absl::Seconds(20);  // a refused connection fails long before this
  // Connect does not need the server.
  ASSERT_OK_AND_ASSIGN(auto client, Client::Connect(options));
  auto health = client->Health();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.status().code(), absl::StatusCode::kUnavailable) << health.status();
  auto info = client->ModelInfo();
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnavailable) << info.status();
}

// --- against the fake server -------------------------------------------------------------

class FakeServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<FakeServer>(&service_);
    ASSERT_TRUE(server_->ok());
  }
  std::unique_ptr<Client> MakeClient(const std::string& token = "") {
    ClientOptions options;
    options.token = token;
    options.timeout = absl::Seconds(30);
    return Client::FromChannel(server_->InProcessChannel(), options);
  }

  FakeMatAlign service_;
  std::unique_ptr<FakeServer> server_;
};

TEST_F(FakeServerTest, HealthSpeaksTheStandardProtocol) {
  auto client = MakeClient();
  ASSERT_OK_AND_ASSIGN(std::string status, client->Health());
  EXPECT_EQ(status, "SERVING");
  // gRPC's health service answers NOT_FOUND for a service it does not know.
  EXPECT_EQ(client->Health("no.such.Service").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FakeServerTest, HealthOverTcp) {
  ClientOptions options;
  options.server = server_->address();
  ASSERT_OK_AND_ASSIGN(auto client, Client::Connect(options));
  ASSERT_OK_AND_ASSIGN(std::string status, client->Health());
  EXPECT_EQ(status, "SERVING");
}

TEST_F(FakeServerTest, SendsTokenAndDeadline) {
  service_.required_token = "s3cret";
  auto with_token = MakeClient("s3cret");
  ASSERT_OK_AND_ASSIGN(v1::ModelInfoResponse info, with_token->ModelInfo());
  EXPECT_EQ(info.model_version(), "7");
  // The deadline is the options' 30 s, not infinite.
  EXPECT_GT(service_.last_deadline_seconds(), 0);
  EXPECT_LE(service_.last_deadline_seconds(), 30.5);

  auto without = MakeClient();
  auto denied = without->ModelInfo();
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(denied.status().message(), "fake: missing bearer token");
  auto wrong = MakeClient("other");
  EXPECT_EQ(wrong->ModelInfo().status().message(), "fake: unknown bearer token");
}

TEST_F(FakeServerTest, KeepsTheServersErrorMessage) {
  auto client = MakeClient();
  v1::GetRequest get;
  get.set_id("nope");
  auto missing = client->Get(get);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "record 'nope' not found");
  get.set_id("known");
  ASSERT_OK_AND_ASSIGN(v1::GetResponse found, client->Get(get));
  EXPECT_EQ(found.key(), 42u);

  v1::RecommendRequest recommend;
  (*recommend.mutable_target()->mutable_properties())["bogus"] = 1;
  auto rejected = client->Recommend(recommend);
  EXPECT_EQ(rejected.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(rejected.status().message(), "known: band_gap_ev"));
}

TEST_F(FakeServerTest, UnimplementedRpcIsUnimplemented) {
  auto client = MakeClient();
  v1::EmbedTextRequest request;
  request.set_text("x");
  EXPECT_EQ(client->EmbedText(request).status().code(), absl::StatusCode::kUnimplemented);
}

// A source of `n` records "r0", "r1", ... (ids in `bad` get the "bad" prefix the fake
// rejects) that also checks the in-flight bound each time it is asked for a record.
struct CountingSource {
  int n = 0;
  std::vector<int> bad;
  int sent = 0;
  std::atomic<int> acked{0};
  int max_in_flight_seen = 0;

  RecordSource Source() {
    return [this](v1::Record* record) -> absl::StatusOr<bool> {
      if (sent == n) return false;
      max_in_flight_seen = std::max(max_in_flight_seen, sent - acked.load());
      const bool is_bad = std::find(bad.begin(), bad.end(), sent) != bad.end();
      record->set_id(absl::StrCat(is_bad ? "bad" : "r", sent));
      ++sent;
      return true;
    };
  }
};

TEST_F(FakeServerTest, IngestAcknowledgesEveryRecordInOrder) {
  service_.ingest_hold = 4;  // the fake answers in groups: the client's window fills up
  auto client = MakeClient();
  CountingSource source;
  source.n = 50;
  source.bad = {7, 31};
  std::vector<std::string> seen;
  IngestOptions options;
  options.max_in_flight = 4;
  IngestResult result = client->Ingest(
      source.Source(),
      [&](const v1::IngestResponse& r) {
        seen.push_back(r.id());
        ++source.acked;
        return absl::OkStatus();
      },
      options);
  ASSERT_OK(result.status);
  EXPECT_EQ(result.sent, 50);
  EXPECT_EQ(result.acknowledged, 50);
  EXPECT_EQ(result.accepted, 48);
  EXPECT_EQ(result.rejected, 2);
  ASSERT_EQ(seen.size(), 50u);
  EXPECT_EQ(seen[0], "r0");
  EXPECT_EQ(seen[7], "bad7");
  EXPECT_EQ(seen[49], "r49");
  EXPECT_EQ(service_.ingested_ids().size(), 48u);
  // The window was used to the full and never exceeded: when the source is asked for the
  // next record, at most max_in_flight - 1 are unacknowledged.
  EXPECT_EQ(source.max_in_flight_seen, 3);
}

TEST_F(FakeServerTest, IngestOfNothingIsOk) {
  auto client = MakeClient();
  IngestResult result =
      client->Ingest([](v1::Record*) -> absl::StatusOr<bool> { return false; }, nullptr);
  ASSERT_OK(result.status);
  EXPECT_EQ(result.sent, 0);
}

TEST_F(FakeServerTest, IngestReturnsTheStreamsStatusAndTheCountSoFar) {
  service_.ingest_fail_after = 5;
  auto client = MakeClient();
  CountingSource source;
  source.n = 20;
  int callbacks = 0;
  IngestResult result = client->Ingest(source.Source(), [&](const v1::IngestResponse&) {
    ++callbacks;
    return absl::OkStatus();
  });
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable) << result.status;
  EXPECT_EQ(result.status.message(), "fake: store went away");
  EXPECT_EQ(result.acknowledged, 5);
  EXPECT_EQ(callbacks, 5);
}

TEST_F(FakeServerTest, IngestWithoutTokenIsUnauthenticated) {
  service_.required_token = "s3cret";
  auto client = MakeClient();
  CountingSource source;
  source.n = 3;
  IngestResult result = client->Ingest(source.Source(), nullptr);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnauthenticated) << result.status;
  EXPECT_EQ(result.acknowledged, 0);

  auto with_token = MakeClient("s3cret");
  CountingSource again;
  again.n = 3;
  EXPECT_OK(with_token->Ingest(again.Source(), nullptr).status);
}

TEST_F(FakeServerTest, IngestDetectsOutOfOrderAcknowledgements) {
  service_.ingest_hold = 2;
  service_.ingest_out_of_order = true;
  auto client = MakeClient();
  CountingSource source;
  source.n = 4;
  IngestResult result = client->Ingest(source.Source(), nullptr);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInternal) << result.status;
  EXPECT_TRUE(absl::StrContains(result.status.message(), "'r0' was next")) << result.status;
  EXPECT_EQ(result.acknowledged, 0);
}

TEST_F(FakeServerTest, IngestStopsAtTheSourcesError) {
  auto client = MakeClient();
  int calls = 0;
  IngestResult result = client->Ingest(
      [&](v1::Record* record) -> absl::StatusOr<bool> {
        if (++calls == 3) return absl::NotFoundError("record 'r2': x.cif: no such file");
        record->set_id(absl::StrCat("r", calls));
        return true;
      },
      nullptr);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(result.status.message(), "record 'r2': x.cif: no such file");
  EXPECT_EQ(result.sent, 2);
}

TEST_F(FakeServerTest, IngestStopsAtTheCallbacksError) {
  auto client = MakeClient();
  CountingSource source;
  source.n = 100;
  IngestResult result = client->Ingest(source.Source(), [](const v1::IngestResponse& r) {
    return r.id() == "r3" ? absl::InternalError("progress file: disk full") : absl::OkStatus();
  });
  EXPECT_EQ(result.status.message(), "progress file: disk full");
  EXPECT_EQ(result.acknowledged, 4);
  EXPECT_LT(result.sent, 100);
}

TEST_F(FakeServerTest, IngestRefusesARecordOverTheMessageLimit) {
  ClientOptions options;
  options.max_message_bytes = 1000;
  auto client = Client::FromChannel(server_->InProcessChannel(), options);
  int calls = 0;
  IngestResult result = client->Ingest(
      [&](v1::Record* record) -> absl::StatusOr<bool> {
        record->set_id(absl::StrCat("r", calls));
        if (calls++ == 1) record->mutable_structure()->set_content(std::string(2000, 'x'));
        return true;
      },
      nullptr);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(result.status.message(), "record 'r1'")) << result.status;
  EXPECT_EQ(result.sent, 1);
}

TEST_F(FakeServerTest, IngestGivesUpWhenNoAcknowledgementComes) {
  service_.ingest_never_answer = true;
  ClientOptions options;
  options.timeout = absl::Milliseconds(200);
  auto client = Client::FromChannel(server_->InProcessChannel(), options);
  CountingSource source;
  source.n = 10;
  IngestOptions ingest;
  ingest.max_in_flight = 2;
  IngestResult result = client->Ingest(source.Source(), nullptr, ingest);
  EXPECT_EQ(result.status.code(), absl::StatusCode::kDeadlineExceeded) << result.status;
  EXPECT_EQ(result.sent, 2);
  EXPECT_EQ(result.acknowledged, 0);
}

}  // namespace
}  // namespace matalign::client
