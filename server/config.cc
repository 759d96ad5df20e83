#include "server/config.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file.h"
#include "common/json_reader.h"
#include "common/status_macros.h"
#include "common/yaml_json.h"

namespace matalign::server {
namespace {

absl::Status Check(bool ok, const std::string& field, const std::string& what) {
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status ReadConfig(const nlohmann::json& json, ServerConfig* c) {
  JsonObjectReader top(json, "");
  top.Read("listen", &c->listen);
  top.Read("data_dir", &c->data_dir);
  top.Read("models_dir", &c->models_dir);
  top.Read("model_version", &c->model_version);
  top.Read("device", &c->device);
  top.Read("threads", &c->threads);
  top.Read("rpc_workers", &c->rpc_workers);
  top.Read("max_message_bytes", &c->max_message_bytes);
  top.Read("metrics_listen", &c->metrics_listen);
  {
    JsonObjectReader r(top.Object("store"), "store");
    std::string durability(index::DurabilityName(c->durability));
    r.Read("durability", &durability);
    r.Read("index_factory", &c->index_factory);
    r.Read("snapshot_interval_seconds", &c->snapshot_interval_seconds);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
    auto d = index::ParseDurability(durability);
    if (!d.ok())
      return absl::InvalidArgumentError(absl::StrCat("store.durability: ", d.status().message()));
    c->durability = *d;
  }
  {
    JsonObjectReader r(top.Object("batching"), "batching");
    r.Read("max_batch_size", &c->batching.max_batch_size);
    double delay_ms = absl::ToDoubleMilliseconds(c->batching.max_delay);
    r.Read("max_delay_ms", &delay_ms);
    r.Read("max_queue", &c->batching.max_queue);
    r.Read("workers", &c->batching.workers);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
    MATALIGN_RETURN_IF_ERROR(Check(delay_ms >= 0 && delay_ms <= 10000, "batching.max_delay_ms",
                                   "must be in [0, 10000]"));
    c->batching.max_delay = absl::Microseconds(static_cast<int64_t>(delay_ms * 1000));
  }
  {
    JsonObjectReader r(top.Object("ingest"), "ingest");
    r.Read("batch_records", &c->ingest_batch_records);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
  }
  {
    JsonObjectReader r(top.Object("reload"), "reload");
    r.Read("poll_seconds", &c->reload_poll_seconds);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
  }
  {
    JsonObjectReader r(top.Object("shutdown"), "shutdown");
    r.Read("grace_seconds", &c->shutdown_grace_seconds);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
  }
  {
    JsonObjectReader r(top.Object("tls"), "tls");
    r.Read("cert_file", &c->tls.cert_file);
    r.Read("key_file", &c->tls.key_file);
    r.Read("client_ca_file", &c->tls.client_ca_file);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
  }
  {
    JsonObjectReader r(top.Object("auth"), "auth");
    r.Read("tokens_file", &c->auth.tokens_file);
    r.Read("admin_tokens_file", &c->auth.admin_tokens_file);
    MATALIGN_RETURN_IF_ERROR(r.Finish());
  }
  MATALIGN_RETURN_IF_ERROR(top.Finish());
  return c->Validate();
}

}  // namespace

absl::Status ParseHostPort(const std::string& address, const std::string& field, std::string* host,
                           int* port) {
  const size_t colon = address.rfind(':');
  auto bad = [&] {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected host:port (e.g. 0.0.0.0:50051), got '", address, "'"));
  };
  if (colon == std::string::npos || colon == 0) return bad();
  std::string h = address.substr(0, colon);
  if (h.front() == '[') {
    if (h.back() != ']') return bad();
    h = h.substr(1, h.size() - 2);
  }
  int p = 0;
  if (h.empty() || !absl::SimpleAtoi(address.substr(colon + 1), &p) || p < 0 || p > 65535) {
    return bad();
  }
  *host = h;
  *port = p;
  return absl::OkStatus();
}

absl::Status ServerConfig::Validate() const {
  std::string host;
  int port = 0;
  MATALIGN_RETURN_IF_ERROR(ParseHostPort(listen, "listen", &host, &port));
  if (!metrics_listen.empty()) {
    MATALIGN_RETURN_IF_ERROR(ParseHostPort(metrics_listen, "metrics_listen", &host, &port));
  }
  MATALIGN_RETURN_IF_ERROR(Check(!data_dir.empty(), "data_dir", "must not be empty"));
  MATALIGN_RETURN_IF_ERROR(Check(!models_dir.empty(), "models_dir", "must not be empty"));
  MATALIGN_RETURN_IF_ERROR(Check(device == "auto" || device == "cpu" || device == "cuda", "device",
                                 "must be auto, cpu or cuda, got '" + device + "'"));
  MATALIGN_RETURN_IF_ERROR(
      Check(threads >= 0 && threads <= 1024, "threads", "must be in [0, 1024]"));
  MATALIGN_RETURN_IF_ERROR(
      Check(rpc_workers >= 1 && rpc_workers <= 4096, "rpc_workers", "must be in [1, 4096]"));
  // gRPC takes the limit as an int: 2 GiB itself would wrap to a negative size.
  MATALIGN_RETURN_IF_ERROR(Check(
      max_message_bytes >= 1024 && max_message_bytes <= std::numeric_limits<int32_t>::max(),
      "max_message_bytes", absl::StrCat("must be in [1 KiB, 2 GiB - 1], got ", max_message_bytes)));
  MATALIGN_RETURN_IF_ERROR(
      Check(!index_factory.empty(), "store.index_factory", "must not be empty"));
  MATALIGN_RETURN_IF_ERROR(
      Check(snapshot_interval_seconds >= 0, "store.snapshot_interval_seconds", "must be >= 0"));
  if (absl::Status s = batching.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("batching: ", s.message()));
  }
  MATALIGN_RETURN_IF_ERROR(Check(ingest_batch_records >= 1 && ingest_batch_records <= 100000,
                                 "ingest.batch_records", "must be in [1, 100000]"));
  MATALIGN_RETURN_IF_ERROR(Check(reload_poll_seconds >= 0, "reload.poll_seconds", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(
      Check(shutdown_grace_seconds >= 0, "shutdown.grace_seconds", "must be >= 0"));
  MATALIGN_RETURN_IF_ERROR(Check(tls.cert_file.empty() == tls.key_file.empty(), "tls",
                                 "cert_file and key_file go together"));
  MATALIGN_RETURN_IF_ERROR(Check(tls.client_ca_file.empty() || tls.enabled(), "tls.client_ca_file",
                                 "needs cert_file and key_file"));
  MATALIGN_RETURN_IF_ERROR(Check(auth.admin_tokens_file.empty() || !auth.tokens_file.empty(),
                                 "auth.admin_tokens_file", "needs auth.tokens_file"));
  return absl::OkStatus();
}

absl::StatusOr<ServerConfig> ParseServerConfig(const std::string& yaml, const std::string& source) {
  MATALIGN_ASSIGN_OR_RETURN(nlohmann::json json, ParseYamlAsJson(yaml, source));
  ServerConfig config;
  absl::Status status = ReadConfig(json, &config);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat(source, ": ", status.message()));
  }
  return config;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseServerConfig(text, path);
}

nlohmann::json ServerConfigToJson(const ServerConfig& c) {
  return {
      {"listen", c.listen},
      {"data_dir", c.data_dir},
      {"models_dir", c.models_dir},
      {"model_version", c.model_version},
      {"device", c.device},
      {"threads", c.threads},
      {"rpc_workers", c.rpc_workers},
      {"max_message_bytes", c.max_message_bytes},
      {"metrics_listen", c.metrics_listen},
      {"store",
       {{"durability", std::string(index::DurabilityName(c.durability))},
        {"index_factory", c.index_factory},
        {"snapshot_interval_seconds", c.snapshot_interval_seconds}}},
      {"batching",
       {{"max_batch_size", c.batching.max_batch_size},
        {"max_delay_ms", absl::ToDoubleMilliseconds(c.batching.max_delay)},
        {"max_queue", c.batching.max_queue},
        {"workers", c.batching.workers}}},
      {"ingest", {{"batch_records", c.ingest_batch_records}}},
      {"reload", {{"poll_seconds", c.reload_poll_seconds}}},
      {"shutdown", {{"grace_seconds", c.shutdown_grace_seconds}}},
      {"tls",
       {{"cert_file", c.tls.cert_file},
        {"key_file", c.tls.key_file},
        {"client_ca_file", c.tls.client_ca_file}}},
      {"auth",
       {{"tokens_file", c.auth.tokens_file}, {"admin_tokens_file", c.auth.admin_tokens_file}}},
  };
}

absl::StatusOr<std::vector<std::string>> ReadTokenFile(const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(path, 1 << 20));
  std::vector<std::string> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    if (std::any_of(line.begin(), line.end(), [](char ch) { return ch == ' ' || ch == '\t'; })) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": a token must not contain spaces"));
    }
    tokens.emplace_back(line);
  }
  if (tokens.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no tokens"));
  return tokens;
}

}  // namespace matalign::server
