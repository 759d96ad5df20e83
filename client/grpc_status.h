// gRPC -> absl status on the client side. The codes share their numbering (both follow
// google.rpc.Code), so the mapping keeps code and message as they are: the server's
// INVALID_ARGUMENT naming a field stays exactly that. server/grpc_status.h holds the
// server's direction; client/ does not depend on server/.
#ifndef MATALIGN_CLIENT_GRPC_STATUS_H_
#define MATALIGN_CLIENT_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace matalign::client {

// Returns the absl::Status with the same code and message as `status`; OK maps to
// absl::OkStatus(). A code outside the shared range 1..16 becomes Unknown (message kept).
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace matalign::client

#endif  // MATALIGN_CLIENT_GRPC_STATUS_H_
