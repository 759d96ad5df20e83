// Engine: what mmserver does, without the network. It owns the record collection (RocksDB
// + FAISS, index/collection.h) and the loaded model (server/model_runner.h) and answers the
// API of proto/matalign/v1/matalign.proto one request message at a time. The gRPC layer
// (server/grpc_service.h) adds authentication, metrics and threading; benchmarks and tests
// call the engine directly to measure the same work in process.
//
// Models: bundles live in `models_dir/<version>/` (what `mmtrain train --out models_dir`
// writes). At start the engine serves the store's own model version when that bundle is
// still there (its vectors are valid), else the newest bundle. A reload (ReloadModel, or
// PollModelsDir finding a newer bundle) loads and validates the new bundle, re-embeds every
// stored record's raw inputs with it in the background (records ingested meanwhile are
// embedded by both models), switches the collection to the new vectors and then to the new
// model. Every request is answered by one consistent (model, index) pair throughout: a
// search whose index changed while it ran is repeated with the new model. The previous
// version's vectors are deleted after the switch.
//
// Thread-safety: every method may be called concurrently from any number of threads.
#ifndef MATALIGN_SERVER_ENGINE_H_
#define MATALIGN_SERVER_ENGINE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "index/collection.h"
#include "proto/matalign/v1/matalign.pb.h"
#include "server/model_runner.h"

namespace matalign::server {

struct EngineOptions {
  // The collection's directory (created if missing). Default: "./var".
  std::string data_dir = "./var";
  // Where model bundles are: one directory per version holding manifest.json. Default:
  // "./models".
  std::string models_dir = "./models";
  // The version to serve; "" = the store's version if its bundle exists, else the newest.
  // Default: "".
  std::string model_version;
  // Device, threads and batching of the model.
  ModelRunnerOptions runner;
  // RocksDB durability and the FAISS index type.
  index::CollectionOptions collection;
  // Records read and embedded together while re-embedding for a reload. Default: 32.
  int reembed_chunk = 32;

  absl::Status Validate() const;
};

// When a call must stop: its deadline and whether its caller went away.
struct CallContext {
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> cancelled;  // may be empty

  // DeadlineExceeded / Cancelled when the call should stop now, else OK.
  absl::Status Check() const;
};

// What /healthz, the gRPC health service and metrics report.
struct EngineState {
  bool model_loaded = false;
  std::string model_version;  // "" without a model
  std::string device;
  // "idle", "loading <v>", "reembedding <v> (n/total)", "failed <v>: <why>".
  std::string reload_state = "idle";
  int64_t reloads = 0;  // completed swaps
  int64_t reload_failures = 0;
  int64_t records = 0;
  std::map<std::string, int64_t> index_sizes;  // modality name -> vectors indexed
};

class Engine {
 public:
  // Opens the collection at options.data_dir and loads a model (see above). A models
  // directory without any bundle is not an error: the engine starts without a model, answers
  // model-dependent calls Unavailable and picks up the first bundle PollModelsDir finds.
  // Errors: InvalidArgument for bad options, the collection's errors, the bundle loader's
  // errors for an explicitly requested version.
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const EngineOptions& options);
  // Waits for a running reload, then snapshots and closes the collection.
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  absl::StatusOr<v1::EmbedResponse> EmbedStructure(const v1::EmbedStructureRequest& request,
                                                   const CallContext& call) const;
  absl::StatusOr<v1::EmbedResponse> EmbedText(const v1::EmbedTextRequest& request,
                                              const CallContext& call) const;
  absl::StatusOr<v1::EmbedResponse> EmbedImage(const v1::EmbedImageRequest& request,
                                               const CallContext& call) const;

  // Validates and embeds every record, then writes the accepted ones in one durable batch.
  // Returns one response per record, in order; a record is rejected (accepted = false, with
  // the reason) when it has no id, a duplicate id within the batch, or an input that cannot
  // be read. A failed write rejects the whole batch with the store's error. Without a model,
  // every record is rejected Unavailable.
  std::vector<v1::IngestResponse> Ingest(const std::vector<const v1::Record*>& records,
                                         const CallContext& call);
  absl::StatusOr<v1::GetResponse> Get(const v1::GetRequest& request) const;
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& request);

  // The property encoder's vector of the target against the synthesis-text vectors.
  absl::StatusOr<v1::RecommendResponse> Recommend(const v1::RecommendRequest& request,
                                                  const CallContext& call) const;
  absl::StatusOr<v1::SearchResponse> Search(const v1::SearchRequest& request,
                                            const CallContext& call) const;
  absl::StatusOr<v1::PredictPropertiesResponse> PredictProperties(
      const v1::PredictPropertiesRequest& request, const CallContext& call) const;
  absl::StatusOr<v1::ClassifyDefectResponse> ClassifyDefect(
      const v1::ClassifyDefectRequest& request, const CallContext& call) const;
  absl::StatusOr<v1::ModelInfoResponse> ModelInfo() const;

  // Loads `request.version` (or the newest bundle) and starts re-embedding. Returns when the
  // bundle is validated (state "reembedding") or, with `wait`, swapped ("swapped");
  // "unchanged" when that version is already served. FailedPrecondition while another
  // reload runs; the bundle loader's error (nothing changes) for a bad bundle.
  absl::StatusOr<v1::ReloadModelResponse> ReloadModel(const v1::ReloadModelRequest& request);
  // Starts a reload when models_dir holds a bundle newer than the one served (and not one
  // that already failed). Returns true when it started one.
  bool PollModelsDir();

  // Writes index snapshots so that the next start does not rebuild them.
  absl::Status Snapshot();

  EngineState state() const;
  // The served model's batcher counters by encoder (empty without a model).
  std::vector<std::pair<std::string, BatcherStats>> batcher_stats() const;
  const EngineOptions& options() const;

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The bundle versions under `models_dir` (directories holding manifest.json; hidden ones,
// such as a bundle being copied in, are skipped), oldest first:
// numeric names in numeric order, then other names in lexicographic order.
std::vector<std::string> ListModelVersions(const std::string& models_dir);

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_ENGINE_H_
