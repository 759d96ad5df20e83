// The one place where the server turns an absl::Status into the grpc::Status an RPC ends
// with. The codes share their numbering (both follow google.rpc.Code), so the mapping keeps
// code and message as they are: a bad input stays INVALID_ARGUMENT with the message naming
// the field, a full queue stays RESOURCE_EXHAUSTED, and so on
// (proto/matalign/v1/matalign.proto lists what each means). The client's direction,
// gRPC -> absl, is client::FromGrpcStatus (client/grpc_status.h).
#ifndef MATALIGN_SERVER_GRPC_STATUS_H_
#define MATALIGN_SERVER_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <string>

#include "absl/status/status.h"

namespace matalign::server {

// Returns the grpc::Status with the same code and message as `status`; OK maps to
// grpc::Status::OK.
inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_GRPC_STATUS_H_
