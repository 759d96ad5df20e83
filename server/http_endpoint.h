// The HTTP side of mmserver: GET /metrics (Prometheus text format of a MetricsRegistry) and
// GET /healthz (liveness/readiness for load balancers and Compose health checks), served by
// cpp-httplib on its own threads, next to the gRPC port.
//
//   HttpEndpointOptions options;
//   options.port = 9090;
//   auto endpoint = HttpEndpoint::Start(options, &registry, [&] {
//     return HealthState{server.serving(), server.serving() ? "ok" : "loading",
//                        {{"model_version", server.model_version()}}};
//   });
//
// cpp-httplib stays behind a pimpl: this header needs only abseil and metrics.h.
#ifndef MATALIGN_SERVER_HTTP_ENDPOINT_H_
#define MATALIGN_SERVER_HTTP_ENDPOINT_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/metrics.h"

namespace matalign::server {

struct HttpEndpointOptions {
  // Address to listen on: "0.0.0.0" (every IPv4 interface), "127.0.0.1", "::", a host name.
  // Default: "0.0.0.0".
  std::string host = "0.0.0.0";
  // TCP port, 0 to 65535; 0 picks a free port (see HttpEndpoint::port()). Default: 9090.
  int port = 9090;
  // Threads answering requests, 1 to 64. Default: 2.
  int threads = 2;
  // How long a connection may take to send a request or receive a response, and how long an
  // idle keep-alive connection is kept; also the longest Stop() waits for such a connection.
  // At least 1 s (cpp-httplib counts whole seconds for keep-alive). Default: 5 s.
  absl::Duration io_timeout = absl::Seconds(5);

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

// What GET /healthz reports.
struct HealthState {
  // True answers 200, false answers 503.
  bool serving = false;
  // One word or phrase for the "status" field, e.g. "ok", "loading", "reload failed". Empty
  // means "ok" when serving and "unavailable" otherwise.
  std::string status;
  // More string fields of the JSON body, e.g. {"model_version", "3"}; a key "status" here is
  // ignored.
  std::vector<std::pair<std::string, std::string>> details;
};

// Serves, on a background listener thread plus `threads` request threads:
//   GET /metrics  200, Content-Type text/plain; version=0.0.4, body registry->Render()
//   GET /healthz  200 when health().serving, else 503; Content-Type application/json, body
//                 {"status":"ok",...details}
//   anything else 404
//
// Thread-safety: port() and Stop() may be called from any thread, concurrently. `health` and
// the registry are used from the request threads, possibly concurrently with each other, so
// `health` must be thread-safe; it must not throw (an exception is answered 503 with its
// message).
class HttpEndpoint {
 public:
  using HealthFn = std::function<HealthState()>;

  // Binds and listens on `options.host`:`options.port` and starts the listener thread: once
  // this returns, connections are accepted (the kernel queues any that arrive before the
  // thread's first accept). `registry` must not be null and must outlive the endpoint (or
  // its Stop()); `health` must not be empty.
  // Errors: InvalidArgument for bad options or arguments; Unavailable naming the address when
  // it cannot be bound (in use, not local, unresolvable); Internal if a thread cannot start.
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(HttpEndpointOptions options,
                                                             const MetricsRegistry* registry,
                                                             HealthFn health);

  // Stop()s.
  ~HttpEndpoint();

  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // The port being listened on (the chosen one when options.port was 0).
  int port() const { return port_; }

  // Closes the listening socket (new connections are refused), waits for requests in progress
  // and idle keep-alive connections (at most io_timeout) and joins the threads. Idempotent;
  // concurrent calls all return after the threads are joined.
  void Stop();

 private:
  struct Impl;
  HttpEndpoint(std::unique_ptr<Impl> impl, int port);

  std::unique_ptr<Impl> impl_;
  const int port_;
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_HTTP_ENDPOINT_H_
