// The MatAlign C++ client: one method per RPC of matalign.v1.MatAlign
// (proto/matalign/v1/matalign.proto), the standard health check, and a streaming Ingest
// helper. Used by `mmclient` and by LIMS integrations; no LibTorch, no server code.
//
//   ClientOptions options;
//   options.server = "mmserver.lab:50051";
//   options.token = "...";
//   MATALIGN_ASSIGN_OR_RETURN(auto client, Client::Connect(options));
//   v1::RecommendRequest request;
//   (*request.mutable_target()->mutable_properties())["band_gap_ev"] = 2.1;
//   MATALIGN_ASSIGN_OR_RETURN(v1::RecommendResponse response, client->Recommend(request));
//
// Errors: every method returns the server's gRPC status as an absl::Status with the same
// code and message (client/grpc_status.h). A server that cannot be reached is Unavailable;
// a call that outlives ClientOptions::timeout is DeadlineExceeded.
#ifndef MATALIGN_CLIENT_CLIENT_H_
#define MATALIGN_CLIENT_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/matalign/v1/matalign.pb.h"

namespace grpc {
class Channel;
}  // namespace grpc

namespace matalign::client {

struct ClientOptions {
  // The server's address: "host:port", or any gRPC target ("unix:/path", "dns:///h:p").
  // Default: "localhost:50051".
  std::string server = "localhost:50051";
  // PEM file of the CA that signed the server's certificate. Non-empty = TLS.
  // Default: "" (plaintext).
  std::string tls_ca_file;
  // PEM client certificate chain and private key for mutual TLS; both or neither, and only
  // with tls_ca_file. Default: "" (no client certificate).
  std::string tls_cert_file;
  std::string tls_key_file;
  // Bearer token sent with every call as "authorization: Bearer <token>". Printable ASCII
  // without spaces. Default: "" (no token; enough for a server without authentication).
  std::string token;
  // Deadline of each unary call; for Ingest, the longest wait for the next acknowledgement
  // while records are in flight. Default: 60 s.
  absl::Duration timeout = absl::Seconds(60);
  // Largest message sent or received, bytes; match the server's max_message_bytes.
  // Default: 64 MiB.
  int max_message_bytes = 64 << 20;

  // InvalidArgument naming the field if: server is empty or contains whitespace; a client
  // certificate or key is given without the other or without tls_ca_file; the token has
  // characters outside printable ASCII or spaces; timeout is not positive and finite;
  // max_message_bytes is not positive.
  absl::Status Validate() const;
};

// Options of Client::Ingest.
struct IngestOptions {
  // Records sent whose IngestResponse has not arrived yet, at most: bounds the client's
  // memory while keeping the server's write batches full. Default: 64.
  int max_in_flight = 64;

  // InvalidArgument unless max_in_flight >= 1.
  absl::Status Validate() const;
};

// Produces the records to ingest, one per call: fills `record` and returns true, or
// returns false when there are no more. An error stops the ingest (the stream is
// cancelled) and becomes IngestResult::status. Called on the thread that called Ingest.
using RecordSource = std::function<absl::StatusOr<bool>(v1::Record* record)>;

// Receives each IngestResponse, in the order the records were sent, on Ingest's reader
// thread (one call at a time). A non-OK return cancels the stream and becomes
// IngestResult::status.
using IngestCallback = std::function<absl::Status(const v1::IngestResponse& response)>;

// What an Ingest did. acknowledged == accepted + rejected <= sent.
struct IngestResult {
  // OK if every record was sent and acknowledged and the stream ended OK. Otherwise the
  // first of: the source's error, the callback's error, a protocol violation by the server
  // (Internal), the acknowledgement timeout (DeadlineExceeded), the stream's final status.
  absl::Status status;
  int64_t sent = 0;          // records written to the stream
  int64_t acknowledged = 0;  // IngestResponses received
  int64_t accepted = 0;      // ... with accepted = true (durable and searchable)
  int64_t rejected = 0;      // ... with accepted = false
};

// A connection to one mmserver. Thread-safe: any method may be called concurrently (each
// call has its own gRPC context; the channel is shared).
class Client {
 public:
  // Validates `options`, reads the PEM files (errors name the file: NotFound if missing)
  // and creates the channel. Does not contact the server: an unreachable server shows as
  // Unavailable on the first call.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  // A client on an existing channel (e.g. a test server's in-process channel). Uses the
  // token, timeout and max_message_bytes of `options`; ignores server and the TLS files.
  // Requires a non-null channel.
  static std::unique_ptr<Client> FromChannel(std::shared_ptr<grpc::Channel> channel,
                                             const ClientOptions& options);

  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One method per unary RPC; each returns the server's response or its status.
  absl::StatusOr<v1::EmbedResponse> EmbedStructure(const v1::EmbedStructureRequest& request);
  absl::StatusOr<v1::EmbedResponse> EmbedText(const v1::EmbedTextRequest& request);
  absl::StatusOr<v1::EmbedResponse> EmbedImage(const v1::EmbedImageRequest& request);
  absl::StatusOr<v1::GetResponse> Get(const v1::GetRequest& request);
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& request);
  absl::StatusOr<v1::RecommendResponse> Recommend(const v1::RecommendRequest& request);
  absl::StatusOr<v1::SearchResponse> Search(const v1::SearchRequest& request);
  absl::StatusOr<v1::PredictPropertiesResponse> PredictProperties(
      const v1::PredictPropertiesRequest& request);
  absl::StatusOr<v1::ClassifyDefectResponse> ClassifyDefect(
      const v1::ClassifyDefectRequest& request);
  absl::StatusOr<v1::ModelInfoResponse> ModelInfo(const v1::ModelInfoRequest& request = {});
  absl::StatusOr<v1::ReloadModelResponse> ReloadModel(const v1::ReloadModelRequest& request);

  // The standard health check (grpc.health.v1.Health/Check) of `service` ("" = the whole
  // server, "matalign.v1.MatAlign" = the API). Returns the serving status by name:
  // "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN" or "UNKNOWN". NotFound if the server does
  // not know `service`; Unavailable if it cannot be reached.
  absl::StatusOr<std::string> Health(const std::string& service = "");

  // Streams the records of `source` to the Ingest RPC with at most
  // options.max_in_flight unacknowledged, calling `on_response` for every response (in
  // order) from a reader thread. Returns when the source is exhausted and every record is
  // acknowledged, or at the first error; IngestResult::status says which, and the counts
  // say how far it got, so a caller can resume after the last acknowledged record. A
  // record larger than max_message_bytes is InvalidArgument naming its id (nothing of it
  // is sent). The stream has no overall deadline; ClientOptions::timeout bounds the wait
  // for each acknowledgement.
  IngestResult Ingest(const RecordSource& source, const IngestCallback& on_response,
                      const IngestOptions& options = {});

  const ClientOptions& options() const { return options_; }

 private:
  struct Stubs;
  Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel);

  ClientOptions options_;
  std::unique_ptr<Stubs> stubs_;  // the channel and the generated stubs
};

}  // namespace matalign::client

#endif  // MATALIGN_CLIENT_CLIENT_H_
