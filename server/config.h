// mmserver's configuration: a YAML file (every key optional) and command-line flags on
// top. With no file at all the server runs on an embedded RocksDB in ./var, listens on
// port 50051 and loads the newest bundle from ./models.
//
//   listen: 0.0.0.0:50051
//   data_dir: ./var
//   models_dir: ./models
//   model_version: ""            # "" = the newest bundle
//   device: auto                 # auto | cpu | cuda
//   threads: 0                   # 0 = every core
//   rpc_workers: 64
//   max_message_bytes: 67108864
//   metrics_listen: 0.0.0.0:9090 # "" = no HTTP endpoint
//   store: {durability: sync, index_factory: Flat, snapshot_interval_seconds: 300}
//   batching: {max_batch_size: 32, max_delay_ms: 2, max_queue: 1024, workers: 1}
//   ingest: {batch_records: 256}
//   reload: {poll_seconds: 10}   # 0 = only on ReloadModel
//   shutdown: {grace_seconds: 30}
//   tls: {cert_file: "", key_file: "", client_ca_file: ""}
//   auth: {tokens_file: "", admin_tokens_file: ""}
#ifndef MATALIGN_SERVER_CONFIG_H_
#define MATALIGN_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "index/record_store.h"
#include "nlohmann/json.hpp"
#include "server/batcher.h"

namespace matalign::server {

struct TlsConfig {
  // PEM server certificate chain and private key; both or neither. Default: "" (plaintext).
  std::string cert_file;
  std::string key_file;
  // PEM CA bundle: clients must present a certificate it signed (mutual TLS).
  // Default: "" (no client certificates).
  std::string client_ca_file;

  bool enabled() const { return !cert_file.empty(); }
};

struct AuthConfig {
  // Files with one bearer token per line (blank lines and lines starting with '#' are
  // skipped). With tokens, every RPC but health needs "authorization: Bearer <token>";
  // admin RPCs (ReloadModel, Delete) need an admin token. Default: "" (no auth).
  std::string tokens_file;
  std::string admin_tokens_file;
};

struct ServerConfig {
  // gRPC address, "host:port". Default: "0.0.0.0:50051".
  std::string listen = "0.0.0.0:50051";
  // The collection directory (RecordStore + index snapshots). Default: "./var".
  std::string data_dir = "./var";
  // Where model bundles live (<models_dir>/<version>/). Default: "./models".
  std::string models_dir = "./models";
  // The bundle to serve; "" = the newest. Default: "".
  std::string model_version;
  // "auto" (CUDA when present), "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Threads for inference and index search; 0 = every core. Default: 0.
  int threads = 0;
  // Threads that run RPC work (most wait on an encoder batch, so more threads than cores
  // let requests batch); at most batching.max_queue more requests wait for one. Default: 64.
  int rpc_workers = 64;
  // Largest gRPC message accepted or sent, 1 KiB to 2 GiB - 1. Default: 64 MiB.
  int64_t max_message_bytes = int64_t{64} << 20;
  // HTTP address of /metrics and /healthz; "" = none. Default: "0.0.0.0:9090".
  std::string metrics_listen = "0.0.0.0:9090";

  // Store durability ("sync" or "async"). Default: sync.
  index::Durability durability = index::Durability::kSync;
  // FAISS factory string of the vector indexes. Default: "Flat" (exact).
  std::string index_factory = "Flat";
  // Seconds between index snapshots; 0 = only at shutdown. Default: 300.
  int snapshot_interval_seconds = 300;

  // Dynamic batching of every encoder.
  BatcherOptions batching;
  // Records written to the store per batch during Ingest. Default: 256.
  int ingest_batch_records = 256;
  // Seconds between looks for a new bundle in models_dir; 0 = only on ReloadModel.
  // Default: 10.
  int reload_poll_seconds = 10;
  // Seconds in-flight calls get to finish after SIGTERM. Default: 30.
  int shutdown_grace_seconds = 30;

  TlsConfig tls;
  AuthConfig auth;

  // InvalidArgument naming the first bad field ("listen: expected host:port, got 'x'").
  absl::Status Validate() const;
};

// Parses a YAML configuration (see the file comment); keys not given keep their defaults.
// InvalidArgument "<source>: <key path>: <reason>" for bad YAML, unknown keys, wrong types
// or values out of range.
absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml, const std::string& source);
// Reads and parses `path`; NotFound if it does not exist.
absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path);

// The configuration as JSON in the file's shape (for the log at start-up and ModelInfo).
nlohmann::json ServerConfigToJson(const ServerConfig& config);

// Splits "host:port" ("[::1]:50051" for IPv6). InvalidArgument naming `field` otherwise.
absl::Status ParseHostPort(const std::string& address, const std::string& field, std::string* host,
                           int* port);

// Reads a token file (see AuthConfig). NotFound / InvalidArgument (no tokens, or a token
// with spaces) naming the file.
absl::StatusOr<std::vector<std::string>> ReadTokenFile(const std::string& path);

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_CONFIG_H_
