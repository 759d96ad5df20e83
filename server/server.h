// Server: mmserver as a library. Composes the engine (server/engine.h), the gRPC service
// of proto/matalign/v1 (callback API; grpc.health.v1 health and server reflection
// registered too), bearer-token auth, TLS, Prometheus metrics on HTTP and the maintenance
// loop (polling the models directory for new bundles, periodic index snapshots).
//
// Every RPC's work runs on a bounded pool of threads (server/work_pool.h); a full pool
// answers RESOURCE_EXHAUSTED. A call's deadline and cancellation reach the encoder batchers,
// so the work of an abandoned call is skipped.
#ifndef MATALIGN_SERVER_SERVER_H_
#define MATALIGN_SERVER_SERVER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/config.h"
#include "server/engine.h"

namespace matalign::server {

class Server {
 public:
  // Opens the engine, binds the gRPC and metrics addresses (port 0 = any free port; see
  // port()), and starts serving. Errors: InvalidArgument for a bad config, the engine's
  // errors, NotFound/DataLoss for unreadable TLS or token files, Unavailable when an address
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerConfig& config);
  // Shutdown() if not done.
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound gRPC port, and the metrics port (0 without a metrics endpoint).
  int port() const;
  int metrics_port() const;
  Engine& engine();

  // Graceful stop: reports NOT_SERVING, stops accepting calls, lets in-flight calls finish
  // for up to config.shutdown_grace_seconds (then cancels them), stops the maintenance loop
  // and closes the engine (index snapshots written). Idempotent.
  void Shutdown();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_SERVER_H_
