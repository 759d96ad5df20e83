#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "proto/matalign/v1/matalign.grpc.pb.h"
#include "server/auth.h"
#include "server/grpc_status.h"
#include "server/http_endpoint.h"
#include "server/metrics.h"
#include "server/work_pool.h"

namespace matalign::server {
namespace {

constexpr char kServiceName[] = "matalign.v1.MatAlign";

// Per-RPC request counters and latency histograms, and the server-wide gauges the
// maintenance loop refreshes.
class ServerMetrics {
 public:
  explicit ServerMetrics(MetricsRegistry* registry) : registry_(registry) {}

  void Record(const char* rpc, absl::StatusCode code, absl::Duration elapsed) {
    auto counter = registry_->GetCounter("matalign_requests_total",
                                         "RPCs answered, by method and gRPC status code",
                                         {{"rpc", rpc}, {"code", absl::StatusCodeToString(code)}});
    if (counter.ok()) (*counter)->Increment();
    auto histogram = registry_->GetHistogram("matalign_request_duration_seconds",
                                             "RPC latency from arrival to answer, by method",
                                             {{"rpc", rpc}}, DefaultLatencyBuckets());
    if (histogram.ok()) (*histogram)->Observe(absl::ToDoubleSeconds(elapsed));
  }

  void Gauge(const std::string& name, const std::string& help, MetricLabels labels, double v) {
    auto g = registry_->GetGauge(name, help, std::move(labels));
    if (g.ok()) (*g)->Set(v);
  }

  void Count(const std::string& name, const std::string& help, MetricLabels labels, double v) {
    auto c = registry_->GetCounter(name, help, std::move(labels));
    if (c.ok()) (*c)->Increment(v);
  }

 private:
  MetricsRegistry* registry_;
};

class Service;

// One Ingest stream. Reads run continuously while fewer than 2 batches wait; whatever has
// arrived is written as one batch as soon as the previous batch is done (so batches grow
// under load and a lone record is not held back); responses go out in order.
class IngestReactor : public grpc::ServerBidiReactor<v1::IngestRequest, v1::IngestResponse> {
 public:
  IngestReactor(Service* service, grpc::CallbackServerContext* ctx);
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // What to do after the lock is released (gRPC may run reactions inline).
  struct Actions {
    bool read = false;
    const v1::IngestResponse* write = nullptr;
    bool finish = false;
    grpc::Status status;
  };
  void Dispatch(Actions* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NextWrite(Actions* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeFinish(Actions* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NextRead(Actions* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Run(const Actions& a);
  void Process(std::vector<v1::IngestRequest> batch);

  Service* service_;
  grpc::CallbackServerContext* ctx_;
  const absl::Time start_ = absl::Now();
  CallContext call_;
  v1::IngestRequest incoming_;

  absl::Mutex mu_;
  std::deque<v1::IngestRequest> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::IngestResponse> outgoing_ ABSL_GUARDED_BY(mu_);
  v1::IngestResponse writing_now_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool processing_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;  // cancelled, or the client stopped reading
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  int64_t accepted_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
};

class Service final : public v1::MatAlign::CallbackService {
 public:
  Service(Engine* engine, const TokenAuthenticator* auth, WorkPool* pool, ServerMetrics* metrics,
          int ingest_batch_records)
      : engine_(engine),
        auth_(auth),
        pool_(pool),
        metrics_(metrics),
        ingest_batch_records_(ingest_batch_records) {}

  absl::Status Authorize(grpc::CallbackServerContext* ctx, Access access, const char* rpc) const {
    std::vector<absl::string_view> values;
    const auto& metadata = ctx->client_metadata();
    auto range = metadata.equal_range("authorization");
    for (auto it = range.first; it != range.second; ++it) {
      values.emplace_back(it->second.data(), it->second.size());
    }
    return auth_->Check(access, values, rpc);
  }

  static CallContext ContextOf(grpc::CallbackServerContext* ctx) {
    CallContext call;
    call.deadline = absl::FromChrono(ctx->deadline());
    call.cancelled = [ctx] { return ctx->IsCancelled(); };
    return call;
  }

  // Runs `fn(call)` on the pool and finishes the call with its status.
  template <typename Fn>
  grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* ctx, const char* rpc, Access access,
                                  Fn fn) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    const absl::Time start = absl::Now();
    auto finish = [this, reactor, rpc, start](const absl::Status& s) {
      metrics_->Record(rpc, s.code(), absl::Now() - start);
      reactor->Finish(ToGrpcStatus(s));
    };
    absl::Status s = Authorize(ctx, access, rpc);
    if (s.ok()) {
      CallContext call = ContextOf(ctx);
      s = pool_->Submit([fn = std::move(fn), call = std::move(call), finish]() mutable {
        absl::Status result = call.Check();
        if (result.ok()) result = fn(call);
        finish(result);
      });
    }
    if (!s.ok()) finish(s);
    return reactor;
  }

  grpc::ServerUnaryReactor* EmbedStructure(grpc::CallbackServerContext* ctx,
                                           const v1::EmbedStructureRequest* request,
                                           v1::EmbedResponse* response) override {
    return Unary(ctx, "EmbedStructure", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->EmbedStructure(*request, call), response);
    });
  }
  grpc::ServerUnaryReactor* EmbedText(grpc::CallbackServerContext* ctx,
                                      const v1::EmbedTextRequest* request,
                                      v1::EmbedResponse* response) override {
    return Unary(ctx, "EmbedText", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->EmbedText(*request, call), response);
    });
  }
  grpc::ServerUnaryReactor* EmbedImage(grpc::CallbackServerContext* ctx,
                                       const v1::EmbedImageRequest* request,
                                       v1::EmbedResponse* response) override {
    return Unary(ctx, "EmbedImage", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->EmbedImage(*request, call), response);
    });
  }
  grpc::ServerBidiReactor<v1::IngestRequest, v1::IngestResponse>* Ingest(
      grpc::CallbackServerContext* ctx) override {
    return new IngestReactor(this, ctx);
  }
  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* ctx, const v1::GetRequest* request,
                                v1::GetResponse* response) override {
    return Unary(ctx, "Get", Access::kUser,
                 [=](const CallContext&) { return Assign(engine_->Get(*request), response); });
  }
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* ctx,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override {
    return Unary(ctx, "Delete", Access::kAdmin,
                 [=](const CallContext&) { return Assign(engine_->Delete(*request), response); });
  }
  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* ctx,
                                      const v1::RecommendRequest* request,
                                      v1::RecommendResponse* response) override {
    return Unary(ctx, "Recommend", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->Recommend(*request, call), response);
    });
  }
  grpc::ServerUnaryReactor* Search(grpc::CallbackServerContext* ctx,
                                   const v1::SearchRequest* request,
                                   v1::SearchResponse* response) override {
    return Unary(ctx, "Search", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->Search(*request, call), response);
    });
  }
  grpc::ServerUnaryReactor* PredictProperties(grpc::CallbackServerContext* ctx,
                                              const v1::PredictPropertiesRequest* request,
                                              v1::PredictPropertiesResponse* response) override {
    return Unary(ctx, "PredictProperties", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->PredictProperties(*request, call), response);
    });
  }
  grpc::ServerUnaryReactor* ClassifyDefect(grpc::CallbackServerContext* ctx,
                                           const v1::ClassifyDefectRequest* request,
                                           v1::ClassifyDefectResponse* response) override {
    return Unary(ctx, "ClassifyDefect", Access::kUser, [=](const CallContext& call) {
      return Assign(engine_->ClassifyDefect(*request, call), response);
    });
  }
  grpc::ServerUnaryReactor* ModelInfo(grpc::CallbackServerContext* ctx, const v1::ModelInfoRequest*,
                                      v1::ModelInfoResponse* response) override {
    return Unary(ctx, "ModelInfo", Access::kUser,
                 [=](const CallContext&) { return Assign(engine_->ModelInfo(), response); });
  }
  grpc::ServerUnaryReactor* ReloadModel(grpc::CallbackServerContext* ctx,
                                        const v1::ReloadModelRequest* request,
                                        v1::ReloadModelResponse* response) override {
    return Unary(ctx, "ReloadModel", Access::kAdmin, [=](const CallContext&) {
      return Assign(engine_->ReloadModel(*request), response);
    });
  }

  Engine* engine() { return engine_; }
  WorkPool* pool() { return pool_; }
  ServerMetrics* metrics() { return metrics_; }
  int ingest_batch_records() const { return ingest_batch_records_; }

 private:
  template <typename T>
  static absl::Status Assign(absl::StatusOr<T> result, T* response) {
    if (!result.ok()) return result.status();
    *response = *std::move(result);
    return absl::OkStatus();
  }

  Engine* engine_;
  const TokenAuthenticator* auth_;
  WorkPool* pool_;
  ServerMetrics* metrics_;
  const int ingest_batch_records_;
};

IngestReactor::IngestReactor(Service* service, grpc::CallbackServerContext* ctx)
    : service_(service), ctx_(ctx), call_(Service::ContextOf(ctx)) {
  absl::Status s = service_->Authorize(ctx, Access::kUser, "Ingest");
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    if (!s.ok()) {
      finished_ = true;
      final_status_ = ToGrpcStatus(s);
      a.finish = true;
      a.status = final_status_;
    } else {
      NextRead(&a);
    }
  }
  Run(a);
}

void IngestReactor::Run(const Actions& a) {
  if (a.write != nullptr) StartWrite(a.write);
  if (a.read) StartRead(&incoming_);
  if (a.finish) Finish(a.status);  // last: OnDone may run (and delete this) at once
}

void IngestReactor::NextRead(Actions* a) {
  const size_t limit = 2 * static_cast<size_t>(service_->ingest_batch_records());
  if (reading_ || reads_done_ || broken_ || pending_.size() >= limit) return;
  reading_ = true;
  a->read = true;
}

void IngestReactor::OnReadDone(bool ok) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    reading_ = false;
    if (!ok) {
      reads_done_ = true;
    } else {
      pending_.push_back(std::move(incoming_));
      incoming_ = v1::IngestRequest();
      NextRead(&a);
    }
    Dispatch(&a);
    MaybeFinish(&a);
  }
  Run(a);
}

void IngestReactor::Dispatch(Actions* a) {
  if (processing_ || pending_.empty() || broken_) return;
  std::vector<v1::IngestRequest> batch;
  const size_t n = std::min(pending_.size(), static_cast<size_t>(service_->ingest_batch_records()));
  for (size_t i = 0; i < n; ++i) {
    batch.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  processing_ = true;
  NextRead(a);
  auto shared = std::make_shared<std::vector<v1::IngestRequest>>(std::move(batch));
  absl::Status s = service_->pool()->Submit([this, shared] { Process(std::move(*shared)); });
  if (s.ok()) return;
  // Overloaded: every record of the batch is rejected with the reason; the stream goes on.
  for (const v1::IngestRequest& r : *shared) {
    v1::IngestResponse response;
    response.set_id(r.record().id());
    response.set_error(std::string(s.message()));
    response.set_error_code(static_cast<int>(s.code()));
    outgoing_.push_back(std::move(response));
    ++rejected_;
  }
  processing_ = false;
  NextWrite(a);
}

void IngestReactor::Process(std::vector<v1::IngestRequest> batch) {
  std::vector<const v1::Record*> records;
  for (const v1::IngestRequest& r : batch) records.push_back(&r.record());
  std::vector<v1::IngestResponse> responses = service_->engine()->Ingest(records, call_);
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    for (v1::IngestResponse& r : responses) {
      (r.accepted() ? accepted_ : rejected_) += 1;
      outgoing_.push_back(std::move(r));
    }
    processing_ = false;
    NextWrite(&a);
    Dispatch(&a);
    NextRead(&a);
    MaybeFinish(&a);
  }
  Run(a);
}

void IngestReactor::NextWrite(Actions* a) {
  if (writing_ || outgoing_.empty() || broken_ || a->write != nullptr) return;
  writing_now_ = std::move(outgoing_.front());
  outgoing_.pop_front();
  writing_ = true;
  a->write = &writing_now_;
}

void IngestReactor::OnWriteDone(bool ok) {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      broken_ = true;
      final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client stopped reading");
    }
    NextWrite(&a);
    MaybeFinish(&a);
  }
  Run(a);
}

void IngestReactor::OnCancel() {
  Actions a;
  {
    absl::MutexLock lock(&mu_);
    broken_ = true;
    final_status_ = grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled");
    pending_.clear();
    MaybeFinish(&a);
  }
  Run(a);
}

void IngestReactor::MaybeFinish(Actions* a) {
  if (finished_ || processing_ || writing_ || a->write != nullptr) return;
  const bool drained = reads_done_ && pending_.empty() && outgoing_.empty();
  if (!drained && !broken_) return;
  finished_ = true;
  a->finish = true;
  a->status = final_status_;
}

void IngestReactor::OnDone() {
  {
    absl::MutexLock lock(&mu_);
    service_->metrics()->Record("Ingest", static_cast<absl::StatusCode>(final_status_.error_code()),
                                absl::Now() - start_);
    service_->metrics()->Count("matalign_ingest_records_total", "Records ingested, by result",
                               {{"result", "accepted"}}, static_cast<double>(accepted_));
    service_->metrics()->Count("matalign_ingest_records_total", "Records ingested, by result",
                               {{"result", "rejected"}}, static_cast<double>(rejected_));
  }
  delete this;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  MATALIGN_ASSIGN_OR_RETURN(std::string cert, ReadFile(tls.cert_file));
  MATALIGN_ASSIGN_OR_RETURN(std::string key, ReadFile(tls.key_file));
  grpc::SslServerCredentialsOptions options(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!tls.client_ca_file.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(options.pem_root_certs, ReadFile(tls.client_ca_file));
    options.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  options.pem_key_cert_pairs.push_back({key, cert});
  return grpc::SslServerCredentials(options);
}

}  // namespace

struct Server::Impl {
  ServerConfig config;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<TokenAuthenticator> auth;
  MetricsRegistry registry;
  std::unique_ptr<ServerMetrics> metrics;
  std::unique_ptr<WorkPool> pool;
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<HttpEndpoint> http;
  int port = 0;

  absl::Notification stop;
  std::thread maintenance;
  std::once_flag shutdown_once;

  void Maintain();
  void RefreshGauges();
};

void Server::Impl::RefreshGauges() {
  const EngineState s = engine->state();
  metrics->Gauge("matalign_model_loaded", "1 while a model serves", {}, s.model_loaded ? 1 : 0);
  if (s.model_loaded) {
    // One series, replaced when the model changes.
    (void)registry.SetInfo("matalign_model_info", "The served model (version, device)",
                           {{"version", s.model_version}, {"device", s.device}});
  }
  metrics->Gauge("matalign_reloads", "Model swaps since start", {}, static_cast<double>(s.reloads));
  metrics->Gauge("matalign_reload_failures", "Bundles refused since start", {},
                 static_cast<double>(s.reload_failures));
  const bool busy =
      !absl::StartsWith(s.reload_state, "idle") && !absl::StartsWith(s.reload_state, "failed");
  metrics->Gauge("matalign_reload_in_progress", "1 while a new model loads or re-embeds", {},
                 busy ? 1 : 0);
  metrics->Gauge("matalign_records", "Records in the store", {}, static_cast<double>(s.records));
  for (const auto& [m, n] : s.index_sizes) {
    metrics->Gauge("matalign_index_vectors", "Vectors in the searched index, by modality",
                   {{"modality", m}}, static_cast<double>(n));
  }
  metrics->Gauge("matalign_rpc_queue_depth", "RPCs waiting for a worker", {},
                 static_cast<double>(pool->queue_depth()));
  metrics->Gauge("matalign_rpc_busy_workers", "RPC workers running a call", {},
                 static_cast<double>(pool->busy()));
  for (const auto& [encoder, b] : engine->batcher_stats()) {
    MetricLabels l = {{"encoder", encoder}};
    metrics->Gauge("matalign_encoder_queue_depth", "Requests waiting for a batch", l,
                   static_cast<double>(b.queue_depth));
    metrics->Gauge("matalign_encoder_requests", "Requests submitted to the encoder (this model)", l,
                   static_cast<double>(b.requests));
    metrics->Gauge("matalign_encoder_batches", "Forward passes run (this model)", l,
                   static_cast<double>(b.batches));
    metrics->Gauge("matalign_encoder_mean_batch_size", "Requests per forward pass (this model)", l,
                   b.batches > 0
                       ? static_cast<double>(b.requests - b.rejected_full - b.rejected_shutdown -
                                             b.expired - b.cancelled) /
                             static_cast<double>(b.batches)
                       : 0.0);
    metrics->Gauge("matalign_encoder_rejected_full", "Requests refused by a full queue", l,
                   static_cast<double>(b.rejected_full));
    for (size_t size = 1; size < b.batch_size_histogram.size(); ++size) {
      if (b.batch_size_histogram[size] == 0) continue;
      metrics->Gauge("matalign_encoder_batches_by_size", "Forward passes by batch size",
                     {{"encoder", encoder}, {"size", std::to_string(size)}},
                     static_cast<double>(b.batch_size_histogram[size]));
    }
  }
  auto* health = grpc_server ? grpc_server->GetHealthCheckService() : nullptr;
  if (health != nullptr && !stop.HasBeenNotified()) {
    health->SetServingStatus(kServiceName, s.model_loaded);
  }
}

void Server::Impl::Maintain() {
  absl::Time next_poll = absl::Now();
  absl::Time next_snapshot =
      absl::Now() + absl::Seconds(std::max(1, config.snapshot_interval_seconds));
  while (!stop.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    RefreshGauges();
    const absl::Time now = absl::Now();
    if (config.reload_poll_seconds > 0 && now >= next_poll) {
      engine->PollModelsDir();
      next_poll = now + absl::Seconds(config.reload_poll_seconds);
    }
    if (config.snapshot_interval_seconds > 0 && now >= next_snapshot) {
      absl::Status s = engine->Snapshot();
      if (!s.ok()) {
        std::fprintf(stderr, "mmserver: snapshot failed: %s\n", std::string(s.message()).c_str());
      }
      next_snapshot = now + absl::Seconds(config.snapshot_interval_seconds);
    }
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Shutdown(); }

int Server::port() const { return impl_->port; }
int Server::metrics_port() const { return impl_->http ? impl_->http->port() : 0; }
Engine& Server::engine() { return *impl_->engine; }

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerConfig& config) {
  MATALIGN_RETURN_IF_ERROR(config.Validate());
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.config = config;
  MATALIGN_ASSIGN_OR_RETURN(d.auth, TokenAuthenticator::FromConfig(config.auth));
  MATALIGN_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> credentials,
                            Credentials(config.tls));

  EngineOptions e;
  e.data_dir = config.data_dir;
  e.models_dir = config.models_dir;
  e.model_version = config.model_version;
  e.runner.device = config.device;
  e.runner.threads = config.threads;
  e.runner.batching = config.batching;
  e.collection.store.durability = config.durability;
  e.collection.index.factory = config.index_factory;
  MATALIGN_ASSIGN_OR_RETURN(d.engine, Engine::Open(e));

  d.metrics = std::make_unique<ServerMetrics>(&d.registry);
  d.pool = std::make_unique<WorkPool>(config.rpc_workers, config.batching.max_queue);
  d.service = std::make_unique<Service>(d.engine.get(), d.auth.get(), d.pool.get(), d.metrics.get(),
                                        config.ingest_batch_records);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  // A second server on the same port must fail, not share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(config.listen, credentials, &d.port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(config.max_message_bytes));
  builder.RegisterService(d.service.get());
  d.grpc_server = builder.BuildAndStart();
  if (d.grpc_server == nullptr || d.port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", config.listen, " (address in use or not local?)"));
  }
  grpc::HealthCheckServiceInterface* health = d.grpc_server->GetHealthCheckService();
  if (health != nullptr) {
    health->SetServingStatus(true);
    health->SetServingStatus(kServiceName, d.engine->state().model_loaded);
  }

  if (!config.metrics_listen.empty()) {
    HttpEndpointOptions http;
    MATALIGN_RETURN_IF_ERROR(
        ParseHostPort(config.metrics_listen, "metrics_listen", &http.host, &http.port));
    Engine* engine = d.engine.get();
    MATALIGN_ASSIGN_OR_RETURN(d.http, HttpEndpoint::Start(http, &d.registry, [engine] {
                                const EngineState s = engine->state();
                                HealthState h;
                                h.serving = s.model_loaded;
                                h.status = s.model_loaded ? "SERVING" : "NOT_SERVING";
                                h.details = {{"model_version", s.model_version},
                                             {"reload", s.reload_state},
                                             {"records", std::to_string(s.records)}};
                                return h;
                              }));
  }
  (void)d.registry.SetInfo("matalign_build_info", "MatAlign server build", {{"version", "0.1.0"}});
  d.RefreshGauges();
  Impl* raw = impl.get();
  d.maintenance = std::thread([raw] { raw->Maintain(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::Shutdown() {
  Impl& d = *impl_;
  std::call_once(d.shutdown_once, [&d] {
    if (!d.stop.HasBeenNotified()) d.stop.Notify();
    if (d.grpc_server) {
      if (auto* health = d.grpc_server->GetHealthCheckService()) health->Shutdown();
      d.grpc_server->Shutdown(std::chrono::system_clock::now() +
                              std::chrono::seconds(d.config.shutdown_grace_seconds));
    }
    if (d.maintenance.joinable()) d.maintenance.join();
    if (d.pool) d.pool->Shutdown();
    if (d.grpc_server) d.grpc_server->Wait();
    if (d.http) d.http->Stop();
    d.engine.reset();  // waits for a reload; snapshots the indexes
  });
}

}  // namespace matalign::server
