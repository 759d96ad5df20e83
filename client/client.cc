#include "client/client.h"

#include <grpcpp/grpcpp.h>

#include <deque>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "client/grpc_status.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "proto/grpc/health/v1/health.grpc.pb.h"
#include "proto/matalign/v1/matalign.grpc.pb.h"

namespace matalign::client {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  if (code < 1 || code > 16) return absl::UnknownError(status.error_message());
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

absl::Status ClientOptions::Validate() const {
  if (server.empty()) return absl::InvalidArgumentError("server: must not be empty");
  for (char c : server) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(
          absl::StrCat("server: '", server, "' must not contain whitespace"));
    }
  }
  if (tls_cert_file.empty() != tls_key_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert_file and tls_key_file: give both (mutual TLS) or neither");
  }
  if (!tls_cert_file.empty() && tls_ca_file.empty()) {
    return absl::InvalidArgumentError(
        "tls_cert_file: a client certificate needs TLS, i.e. tls_ca_file as well");
  }
  for (char c : token) {
    // Metadata values must be printable ASCII; a space would split "Bearer <token>".
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          "token: must be printable ASCII without spaces or line breaks");
    }
  }
  if (timeout <= absl::ZeroDuration() || timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout: must be positive and finite, got ", absl::FormatDuration(timeout)));
  }
  if (max_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes: must be positive, got ", max_message_bytes));
  }
  return absl::OkStatus();
}

absl::Status IngestOptions::Validate() const {
  if (max_in_flight < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_in_flight: must be at least 1, got ", max_in_flight));
  }
  return absl::OkStatus();
}

struct Client::Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::MatAlign::Stub> api;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

namespace {

// Reads a PEM file named by option `what`, with the option in the message.
absl::StatusOr<std::string> ReadPem(const std::string& path, const char* what) {
  absl::StatusOr<std::string> pem = ReadFile(path, 1 << 20);
  if (!pem.ok()) {
    return absl::Status(pem.status().code(), absl::StrCat(what, ": ", pem.status().message()));
  }
  if (pem->empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": ", path, ": empty"));
  return pem;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_file.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    MATALIGN_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem(options.tls_ca_file, "TLS CA file"));
    if (!options.tls_cert_file.empty()) {
      MATALIGN_ASSIGN_OR_RETURN(ssl.pem_cert_chain,
                                ReadPem(options.tls_cert_file, "TLS certificate file"));
      MATALIGN_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadPem(options.tls_key_file, "TLS key file"));
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(options.server, credentials, args);
  if (channel == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("server: cannot create a channel to '", options.server, "'"));
  }
  return std::unique_ptr<Client>(new Client(options, std::move(channel)));
}

std::unique_ptr<Client> Client::FromChannel(std::shared_ptr<grpc::Channel> channel,
                                            const ClientOptions& options) {
  return std::unique_ptr<Client>(new Client(options, std::move(channel)));
}

Client::Client(ClientOptions options, std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)), stubs_(std::make_unique<Stubs>()) {
  stubs_->api = v1::MatAlign::NewStub(channel);
  stubs_->health = grpc::health::v1::Health::NewStub(channel);
  stubs_->channel = std::move(channel);
}

Client::~Client() = default;

namespace {

void AddToken(const ClientOptions& options, grpc::ClientContext* context) {
  if (!options.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options.token));
  }
}

// Runs one unary RPC with the options' deadline and token.
template <typename Stub, typename Request, typename Response>
absl::StatusOr<Response> Unary(const ClientOptions& options, Stub* stub,
                               grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&,
                                                            Response*),
                               const Request& request) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  AddToken(options, &context);
  Response response;
  grpc::Status status = (stub->*method)(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

}  // namespace

absl::StatusOr<v1::EmbedResponse> Client::EmbedStructure(const v1::EmbedStructureRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::EmbedStructure, request);
}
absl::StatusOr<v1::EmbedResponse> Client::EmbedText(const v1::EmbedTextRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::EmbedText, request);
}
absl::StatusOr<v1::EmbedResponse> Client::EmbedImage(const v1::EmbedImageRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::EmbedImage, request);
}
absl::StatusOr<v1::GetResponse> Client::Get(const v1::GetRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::Get, request);
}
absl::StatusOr<v1::DeleteResponse> Client::Delete(const v1::DeleteRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::Delete, request);
}
absl::StatusOr<v1::RecommendResponse> Client::Recommend(const v1::RecommendRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::Recommend, request);
}
absl::StatusOr<v1::SearchResponse> Client::Search(const v1::SearchRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::Search, request);
}
absl::StatusOr<v1::PredictPropertiesResponse> Client::PredictProperties(
    const v1::PredictPropertiesRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::PredictProperties, request);
}
absl::StatusOr<v1::ClassifyDefectResponse> Client::ClassifyDefect(
    const v1::ClassifyDefectRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::ClassifyDefect, request);
}
absl::StatusOr<v1::ModelInfoResponse> Client::ModelInfo(const v1::ModelInfoRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::ModelInfo, request);
}
absl::StatusOr<v1::ReloadModelResponse> Client::ReloadModel(const v1::ReloadModelRequest& request) {
  return Unary(options_, stubs_->api.get(), &v1::MatAlign::Stub::ReloadModel, request);
}

absl::StatusOr<std::string> Client::Health(const std::string& service) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  MATALIGN_ASSIGN_OR_RETURN(
      grpc::health::v1::HealthCheckResponse response,
      Unary(options_, stubs_->health.get(), &grpc::health::v1::Health::Stub::Check, request));
  const std::string& name =
      grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status());
  // A status number newer than our copy of the proto has no name.
  return name.empty() ? absl::StrCat("UNKNOWN(", response.status(), ")") : name;
}

IngestResult Client::Ingest(const RecordSource& source, const IngestCallback& on_response,
                            const IngestOptions& options) {
  IngestResult result;
  if (absl::Status s = options.Validate(); !s.ok()) {
    result.status = s;
    return result;
  }
  const size_t max_in_flight = static_cast<size_t>(options.max_in_flight);
  grpc::ClientContext context;  // no deadline: acknowledgements are watched instead
  AddToken(options_, &context);
  std::unique_ptr<grpc::ClientReaderWriter<v1::IngestRequest, v1::IngestResponse>> stream =
      stubs_->api->Ingest(&context);

  absl::Mutex mu;
  std::deque<std::string> pending;  // ids sent, not yet acknowledged (guarded by mu)
  absl::Status reader_error;        // a protocol violation or the callback's error (mu)
  bool reader_done = false;         // the reader saw the end of the stream (mu)

  // The reader: matches each response to the oldest record in flight and hands it to the
  // callback outside the lock, so a slow callback never blocks the writer's bookkeeping.
  std::thread reader([&] {
    v1::IngestResponse response;
    absl::Status error;
    while (error.ok() && stream->Read(&response)) {
      {
        absl::MutexLock lock(&mu);
        if (pending.empty()) {
          error = absl::InternalError(
              absl::StrCat("server acknowledged '", response.id(), "' with no record in flight"));
          break;
        }
        if (response.id() != pending.front()) {
          error = absl::InternalError(
              absl::StrCat("server acknowledged '", response.id(), "' but '", pending.front(),
                           "' was next (acknowledgements must come in order)"));
          break;
        }
      }
      absl::Status callback_status = on_response ? on_response(response) : absl::OkStatus();
      absl::MutexLock lock(&mu);
      pending.pop_front();
      ++result.acknowledged;
      ++(response.accepted() ? result.accepted : result.rejected);
      error = callback_status;
    }
    if (!error.ok()) {
      context.TryCancel();
      while (stream->Read(&response)) {
      }
    }
    absl::MutexLock lock(&mu);
    reader_error = error;
    reader_done = true;
  });

  const absl::Duration timeout = options_.timeout;
  auto ack_timeout_error = [&](size_t in_flight) {
    return absl::DeadlineExceededError(absl::StrCat(
        "Ingest: no acknowledgement from the server for ", absl::FormatDuration(timeout), " with ",
        in_flight, " record(s) in flight (raise the timeout for slow servers)"));
  };

  absl::Status local_error;  // the source's error, an oversized record or the watchdog
  bool source_done = false;
  bool stream_broken = false;  // the reader ended or a write failed: go straight to Finish
  v1::IngestRequest request;
  while (true) {
    {
      absl::MutexLock lock(&mu);
      auto has_room = [&] { return reader_done || pending.size() < max_in_flight; };
      if (!mu.AwaitWithTimeout(absl::Condition(&has_room), timeout)) {
        local_error = ack_timeout_error(pending.size());
        break;
      }
      if (reader_done) {
        stream_broken = true;
        break;
      }
    }
    request.Clear();
    absl::StatusOr<bool> more = source(request.mutable_record());
    if (!more.ok()) {
      local_error = more.status();
      break;
    }
    if (!*more) {
      source_done = true;
      break;
    }
    const size_t bytes = request.ByteSizeLong();
    if (bytes > static_cast<size_t>(options_.max_message_bytes)) {
      local_error = absl::InvalidArgumentError(
          absl::StrCat("record '", request.record().id(), "' is ", bytes, " bytes, more than the ",
                       options_.max_message_bytes, "-byte message limit"));
      break;
    }
    {
      absl::MutexLock lock(&mu);
      pending.push_back(request.record().id());
    }
    if (!stream->Write(request)) {
      absl::MutexLock lock(&mu);
      pending.pop_back();  // never sent, so never acknowledged
      stream_broken = true;
      break;
    }
    ++result.sent;
  }

  if (local_error.ok() && !stream_broken) {
    stream->WritesDone();
    // Wait for the remaining acknowledgements and the end of the stream, each within the
    // timeout.
    absl::MutexLock lock(&mu);
    while (!reader_done) {
      const int64_t acked_before = result.acknowledged;
      auto progressed = [&] { return reader_done || result.acknowledged != acked_before; };
      if (!mu.AwaitWithTimeout(absl::Condition(&progressed), timeout)) {
        local_error = ack_timeout_error(pending.size());
        break;
      }
    }
  }
  if (!local_error.ok()) context.TryCancel();
  reader.join();
  const grpc::Status final_status = stream->Finish();

  absl::MutexLock lock(&mu);
  if (!local_error.ok()) {
    result.status = local_error;
  } else if (!reader_error.ok()) {
    result.status = reader_error;
  } else if (!final_status.ok()) {
    result.status = FromGrpcStatus(final_status);
  } else if (!source_done) {
    result.status =
        absl::InternalError(absl::StrCat("Ingest: the server ended the stream after ", result.sent,
                                         " record(s) before every record was sent"));
  } else if (result.acknowledged != result.sent) {
    result.status = absl::InternalError(absl::StrCat("Ingest: the stream ended with ",
                                                     result.sent - result.acknowledged, " of ",
                                                     result.sent, " record(s) unacknowledged"));
  }
  return result;
}

}  // namespace matalign::client
