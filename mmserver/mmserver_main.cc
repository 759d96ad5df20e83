// mmserver: the MatAlign gRPC service. Turns a YAML file and flags into a ServerConfig and
// runs server::Server (server/server.h) until SIGTERM or SIGINT, then shuts down gracefully.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/openmp_env.h"
#include "server/config.h"
#include "server/server.h"

namespace {

using matalign::server::ServerConfig;

int Fail(const std::string& what, const absl::Status& s) {
  std::fprintf(stderr, "mmserver: %s: %s\n", what.c_str(), std::string(s.message()).c_str());
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  matalign::ReexecWithPassiveOpenMpWait(argv);
  CLI::App app{
      "mmserver: serves MatAlign embeddings, records and synthesis recommendations over gRPC.\n"
      "Runs with no configuration at all: port 50051, store in ./var, bundles in ./models."};
  std::string config_path, port_file;
  bool print_config = false;
  // Flags given on the command line override the file; remember them as strings.
  std::string listen, data_dir, models_dir, model_version, device, metrics_listen, durability,
      index_factory, tls_cert, tls_key, tls_client_ca, tokens_file, admin_tokens_file;
  int threads = -1, rpc_workers = -1, reload_poll = -1, grace = -1;
  app.add_option("--config", config_path, "YAML configuration file (docs/server.md)");
  app.add_option("--listen", listen, "gRPC address host:port (port 0 = any free port)");
  app.add_option("--data-dir", data_dir, "collection directory (RocksDB + index snapshots)");
  app.add_option("--models-dir", models_dir, "model bundles, one directory per version");
  app.add_option("--model-version", model_version, "bundle to serve (default: the newest)");
  app.add_option("--device", device, "auto | cpu | cuda");
  app.add_option("--threads", threads, "inference threads (0 = every core)");
  app.add_option("--rpc-workers", rpc_workers, "threads running RPC work");
  app.add_option("--metrics-listen", metrics_listen,
                 "HTTP address of /metrics and /healthz (\"\" = off)");
  app.add_option("--durability", durability, "sync | async");
  app.add_option("--index-factory", index_factory, "FAISS factory string (Flat, HNSW32, ...)");
  app.add_option("--reload-poll-seconds", reload_poll,
                 "seconds between looks for a new bundle (0 = off)");
  app.add_option("--shutdown-grace-seconds", grace, "time in-flight calls get on SIGTERM");
  app.add_option("--tls-cert", tls_cert, "server certificate (PEM); enables TLS");
  app.add_option("--tls-key", tls_key, "server private key (PEM)");
  app.add_option("--tls-client-ca", tls_client_ca, "CA of client certificates (mutual TLS)");
  app.add_option("--tokens-file", tokens_file, "bearer tokens, one per line (enables auth)");
  app.add_option("--admin-tokens-file", admin_tokens_file, "admin bearer tokens");
  app.add_option("--port-file", port_file,
                 "write {\"grpc\": PORT, \"metrics\": PORT} here once serving");
  app.add_flag("--print-config", print_config, "print the effective configuration and exit");
  CLI11_PARSE(app, argc, argv);

  ServerConfig config;
  if (!config_path.empty()) {
    auto loaded = matalign::server::LoadServerConfig(config_path);
    if (!loaded.ok()) return Fail("config", loaded.status());
    config = *loaded;
  }
  auto set = [](const std::string& flag, std::string* field) {
    if (!flag.empty()) *field = flag;
  };
  set(listen, &config.listen);
  set(data_dir, &config.data_dir);
  set(models_dir, &config.models_dir);
  set(model_version, &config.model_version);
  set(device, &config.device);
  if (app.count("--metrics-listen") > 0) config.metrics_listen = metrics_listen;
  set(index_factory, &config.index_factory);
  set(tls_cert, &config.tls.cert_file);
  set(tls_key, &config.tls.key_file);
  set(tls_client_ca, &config.tls.client_ca_file);
  set(tokens_file, &config.auth.tokens_file);
  set(admin_tokens_file, &config.auth.admin_tokens_file);
  if (threads >= 0) config.threads = threads;
  if (rpc_workers >= 0) config.rpc_workers = rpc_workers;
  if (reload_poll >= 0) config.reload_poll_seconds = reload_poll;
  if (grace >= 0) config.shutdown_grace_seconds = grace;
  if (!durability.empty()) {
    auto d = matalign::index::ParseDurability(durability);
    if (!d.ok()) return Fail("--durability", d.status());
    config.durability = *d;
  }
  if (absl::Status s = config.Validate(); !s.ok()) return Fail("config", s);
  if (print_config) {
    std::cout << matalign::server::ServerConfigToJson(config).dump(2) << "\n";
    return 0;
  }

  // SIGTERM/SIGINT are taken by sigwait below, in this thread only: block them before any
  // thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = matalign::server::Server::Start(config);
  if (!server.ok()) return Fail("cannot start", server.status());
  const auto state = (*server)->engine().state();
  std::fprintf(
      stderr, "mmserver: serving %s on port %d (metrics: %s), store %s, %lld records\n",
      state.model_loaded ? absl::StrCat("model ", state.model_version).c_str() : "no model yet",
      (*server)->port(),
      (*server)->metrics_port() > 0 ? absl::StrCat("port ", (*server)->metrics_port()).c_str()
                                    : "off",
      config.data_dir.c_str(), static_cast<long long>(state.records));
  if (!port_file.empty()) {
    absl::Status s = matalign::WriteFileAtomic(
        port_file, absl::StrCat("{\"grpc\": ", (*server)->port(),
                                ", \"metrics\": ", (*server)->metrics_port(), "}\n"));
    if (!s.ok()) return Fail("--port-file", s);
  }
  int signal = 0;
  sigwait(&signals, &signal);
  std::fprintf(stderr, "mmserver: %s: draining (up to %d s) and closing the store\n",
               signal == SIGTERM ? "SIGTERM" : "SIGINT", config.shutdown_grace_seconds);
  (*server)->Shutdown();
  std::fprintf(stderr, "mmserver: stopped\n");
  return 0;
}
