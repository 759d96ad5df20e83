// A fake mmserver for the client's unit tests: an in-memory matalign.v1.MatAlign service
// with scripted behaviour (token check, rejected ids, held or failing Ingest streams), run
// on a loopback port chosen at run time, with gRPC's standard health service. The real
// server's end-to-end tests live in tests/integration.
#ifndef MATALIGN_TESTS_CLIENT_FAKE_SERVER_H_
#define MATALIGN_TESTS_CLIENT_FAKE_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "proto/matalign/v1/matalign.grpc.pb.h"

namespace matalign::testing {

class FakeMatAlign final : public v1::MatAlign::Service {
 public:
  // Set before the first call.
  std::string required_token;        // non-empty: every call needs "Bearer <required_token>"
  int ingest_hold = 1;               // Ingest answers once this many records are unanswered
  int ingest_fail_after = -1;        // >= 0: Ingest ends UNAVAILABLE after this many answers
  bool ingest_out_of_order = false;  // answer a held group last-first
  bool ingest_never_answer = false;  // read everything, answer nothing

  // What the fake saw (read after the calls returned).
  std::vector<std::string> ingested_ids() {
    std::lock_guard<std::mutex> lock(mu_);
    return ingested_ids_;
  }
  v1::RecommendRequest last_recommend() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_recommend_;
  }
  v1::Record last_record() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_record_;
  }
  // Seconds from the call's arrival to its deadline (infinite: a very large number).
  double last_deadline_seconds() {
    std::lock_guard<std::mutex> lock(mu_);
    return last_deadline_seconds_;
  }

  grpc::Status Ingest(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::IngestResponse, v1::IngestRequest>* stream) override {
    if (grpc::Status s = CheckToken(context); !s.ok()) return s;
    std::vector<v1::IngestResponse> held;
    int answered = 0;
    auto answer = [&]() -> grpc::Status {
      if (ingest_out_of_order) std::reverse(held.begin(), held.end());
      for (const v1::IngestResponse& r : held) {
        if (ingest_fail_after >= 0 && answered == ingest_fail_after) {
          return grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake: store went away");
        }
        stream->Write(r);
        ++answered;
      }
      held.clear();
      return grpc::Status::OK;
    };
    v1::IngestRequest request;
    while (stream->Read(&request)) {
      v1::IngestResponse response;
      response.set_id(request.record().id());
      if (absl::StartsWith(request.record().id(), "bad")) {
        response.set_accepted(false);
        response.set_error("structure: cannot parse");
        response.set_error_code(static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      } else {
        response.set_accepted(true);
        response.add_embedded(v1::MODALITY_STRUCTURE);
        std::lock_guard<std::mutex> lock(mu_);
        ingested_ids_.push_back(request.record().id());
        last_record_ = request.record();
      }
      if (ingest_never_answer) continue;
      held.push_back(response);
      if (static_cast<int>(held.size()) >= ingest_hold) {
        if (grpc::Status s = answer(); !s.ok()) return s;
      }
    }
    if (ingest_never_answer) return grpc::Status(grpc::StatusCode::CANCELLED, "fake: cancelled");
    return answer();
  }

  grpc::Status Get(grpc::ServerContext* context, const v1::GetRequest* request,
                   v1::GetResponse* response) override {
    if (grpc::Status s = CheckToken(context); !s.ok()) return s;
    if (request->id() != "known") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("record '", request->id(), "' not found"));
    }
    response->mutable_record()->set_id("known");
    response->set_key(42);
    return grpc::Status::OK;
  }

  // Echoes the target back as hits: one per property, named after it, scored 0.9, 0.8...
  grpc::Status Recommend(grpc::ServerContext* context, const v1::RecommendRequest* request,
                         v1::RecommendResponse* response) override {
    if (grpc::Status s = CheckToken(context); !s.ok()) return s;
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_recommend_ = *request;
    }
    if (request->target().properties().count("bogus")) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "target.properties: unknown property 'bogus' (known: band_gap_ev)");
    }
    float score = 0.9f;
    for (const auto& [name, value] : request->target().properties()) {
      v1::Hit* hit = response->add_hits();
      hit->set_id(absl::StrCat("hit-", name));
      hit->set_score(score);
      score -= 0.1f;
      hit->set_route("sol-gel");
      hit->add_precursors("TiO2");
      (*hit->mutable_properties())[name] = value;
      hit->set_synthesis_text("Mixed and calcined.");
    }
    response->set_model_version("7");
    return grpc::Status::OK;
  }

  grpc::Status ModelInfo(grpc::ServerContext* context, const v1::ModelInfoRequest*,
                         v1::ModelInfoResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_deadline_seconds_ =
          std::chrono::duration<double>(context->deadline() - std::chrono::system_clock::now())
              .count();
    }
    if (grpc::Status s = CheckToken(context); !s.ok()) return s;
    response->set_model_version("7");
    response->set_embed_dim(4);
    return grpc::Status::OK;
  }

 private:
  grpc::Status CheckToken(grpc::ServerContext* context) {
    if (required_token.empty()) return grpc::Status::OK;
    const auto& metadata = context->client_metadata();
    auto it = metadata.find("authorization");
    if (it == metadata.end()) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "fake: missing bearer token");
    }
    if (std::string(it->second.data(), it->second.size()) !=
        absl::StrCat("Bearer ", required_token)) {
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "fake: unknown bearer token");
    }
    return grpc::Status::OK;
  }

  std::mutex mu_;
  std::vector<std::string> ingested_ids_;
  v1::RecommendRequest last_recommend_;
  v1::Record last_record_;
  double last_deadline_seconds_ = 0;
};

// Runs `service` on 127.0.0.1 at a port chosen by the kernel, with the default health
// service (SERVING); shut down (pending calls cancelled) by the destructor.
class FakeServer {
 public:
  explicit FakeServer(FakeMatAlign* service) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~FakeServer() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now());
  }

  bool ok() const { return server_ != nullptr && port_ > 0; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }
  std::shared_ptr<grpc::Channel> InProcessChannel() {
    return server_->InProcessChannel(grpc::ChannelArguments());
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace matalign::testing

#endif  // MATALIGN_TESTS_CLIENT_FAKE_SERVER_H_
