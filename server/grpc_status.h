// The one place where absl::Status and grpc::Status meet. The codes share their numbering
// (both follow google.rpc.Code), so the mapping keeps code and message as they are: a bad
// input stays INVALID_ARGUMENT with the message naming the field, a full queue stays
// RESOURCE_EXHAUSTED, and so on (proto/matalign/v1/matalign.proto lists what each means).
#ifndef MATALIGN_SERVER_GRPC_STATUS_H_
#define MATALIGN_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace matalign::server {

// absl -> gRPC (server side). OK maps to grpc::Status::OK.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

// gRPC -> absl (client side). Codes outside the shared range become Unknown.
inline absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  if (code < 1 || code > 16) return absl::UnknownError(status.error_message());
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_GRPC_STATUS_H_
