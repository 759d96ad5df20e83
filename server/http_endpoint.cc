#include "server/http_endpoint.h"

#include <httplib.h>
#include <sys/socket.h>

#include <atomic>
#include <exception>
#include <system_error>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "nlohmann/json.hpp"

namespace matalign::server {
namespace {

// "host:port", or "[host]:port" for an IPv6 literal.
std::string Address(const std::string& host, int port) {
  if (absl::StrContains(host, ':')) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

// The body and code of GET /healthz.
void AnswerHealth(const HttpEndpoint::HealthFn& health, httplib::Response& res) {
  HealthState state;
  std::string error;
  try {
    state = health();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "unknown exception";
  }
  nlohmann::ordered_json body = nlohmann::ordered_json::object();
  if (!error.empty()) {
    state.serving = false;
    state.status = "health check failed: " + error;
    state.details.clear();
  }
  body["status"] = !state.status.empty() ? state.status : state.serving ? "ok" : "unavailable";
  for (const auto& [key, value] : state.details) {
    if (key != "status") body[key] = value;
  }
  res.status = state.serving ? 200 : 503;
  // Invalid UTF-8 in a detail becomes U+FFFD rather than an exception.
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

}  // namespace

absl::Status HttpEndpointOptions::Validate() const {
  if (host.empty()) return absl::InvalidArgumentError("http host must not be empty");
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("http port must be 0 (any free port) to 65535, got ", port));
  }
  if (threads < 1 || threads > 64) {
    return absl::InvalidArgumentError(absl::StrCat("http threads must be 1 to 64, got ", threads));
  }
  if (io_timeout < absl::Seconds(1) || io_timeout == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http io_timeout must be at least 1s and finite, got ", absl::FormatDuration(io_timeout)));
  }
  return absl::OkStatus();
}

struct HttpEndpoint::Impl {
  httplib::Server server;
  // Runs server.listen_after_bind(); set once, before the endpoint is handed out.
  std::thread listener;
  // Set by the listener thread when listen_after_bind has returned.
  std::atomic<bool> listen_returned{false};
  // Serialises Stop() calls.
  absl::Mutex stop_mu;
  bool stopped ABSL_GUARDED_BY(stop_mu) = false;
};

HttpEndpoint::HttpEndpoint(std::unique_ptr<Impl> impl, int port)
    : impl_(std::move(impl)), port_(port) {}

HttpEndpoint::~HttpEndpoint() { Stop(); }

absl::StatusOr<std::unique_ptr<HttpEndpoint>> HttpEndpoint::Start(HttpEndpointOptions options,
                                                                  const MetricsRegistry* registry,
                                                                  HealthFn health) {
  absl::Status valid = options.Validate();
  if (!valid.ok()) return valid;
  if (registry == nullptr) return absl::InvalidArgumentError("http endpoint: no metrics registry");
  if (!health) return absl::InvalidArgumentError("http endpoint: no health function");

  auto impl = std::make_unique<Impl>();
  int port = options.port;
  try {
    httplib::Server& server = impl->server;
    const int threads = options.threads;
    // httplib's default sets SO_REUSEPORT, with which a second process binds the same port
    // without error and the kernel splits the scrapes between the two. SO_REUSEADDR alone
    // still allows a restart while old connections linger in TIME_WAIT.
    server.set_socket_options([](socket_t sock) {
      int yes = 1;
      ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    });
    server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    const auto io = absl::ToChronoMilliseconds(options.io_timeout);
    server.set_read_timeout(io);
    server.set_write_timeout(io);
    server.set_keep_alive_timeout(absl::ToInt64Seconds(options.io_timeout));
    server.Get("/metrics", [registry](const httplib::Request&, httplib::Response& res) {
      res.set_content(registry->Render(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server.Get("/healthz",
               [health = std::move(health)](const httplib::Request&, httplib::Response& res) {
                 AnswerHealth(health, res);
               });
    if (options.port == 0) {
      port = server.bind_to_any_port(options.host);
      if (port < 0) {
        return absl::UnavailableError(absl::StrCat("http endpoint: cannot listen on ",
                                                   Address(options.host, 0),
                                                   " (host not local or not resolvable)"));
      }
    } else if (!server.bind_to_port(options.host, options.port)) {
      return absl::UnavailableError(absl::StrCat("http endpoint: cannot listen on ",
                                                 Address(options.host, options.port),
                                                 " (address in use, not local or not resolvable)"));
    }
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("http endpoint on ", Address(options.host, options.port), ": ", e.what()));
  }

  Impl* raw = impl.get();
  try {
    impl->listener = std::thread([raw] {
      raw->server.listen_after_bind();
      raw->listen_returned.store(true);
    });
  } catch (const std::system_error& e) {
    return absl::InternalError(
        absl::StrCat("http endpoint: cannot start the listener thread: ", e.what()));
  }
  return std::unique_ptr<HttpEndpoint>(new HttpEndpoint(std::move(impl), port));
}

void HttpEndpoint::Stop() {
  absl::MutexLock lock(&impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  // httplib's stop() does nothing until listen_after_bind() has marked the server running, and
  // a stop lost that way would leave the listener accepting forever. The listener thread
  // reaches that point at once after it starts, so this wait is short.
  while (!impl_->server.is_running() && !impl_->listen_returned.load()) {
    std::this_thread::yield();
  }
  impl_->server.stop();
  impl_->listener.join();
}

}  // namespace matalign::server
