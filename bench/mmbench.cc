// mmbench: the MatAlign serving load generator (`make bench`; docs/serving-bench.md).
//
// Starts mmserver in process (server::Server on 127.0.0.1:0 over a model bundle, the corpus
// ingested through Engine::Ingest) or loads an external server, then measures, closed loop
// (C client threads, each issuing synchronous unary calls through client::Client, the next
// one as soon as the previous answered):
//   - QPS and p50/p99 latency of Recommend, EmbedStructure, EmbedText and EmbedImage at each
//     concurrency;
//   - the speed-up of dynamic batching: EmbedText and EmbedStructure at concurrency 32
//     against a second in-process server with the same model and records and
//     batching.max_batch_size = 1;
//   - the cost of gRPC: Recommend at concurrency 1 over gRPC against the same requests
//     through Engine::Recommend in process.
// The two comparisons alternate their sides in rounds, so that the other work of a shared
// machine, which comes and goes, weighs on both sides alike.
// Figures go to stdout (aligned text tables, or one JSON object with --json); progress goes
// to stderr. Exit status: 0 done, 1 setup failed or a measured row had no successful call,
// 2 bad command line, 128 + N when signal N (SIGINT, SIGTERM) stopped it; the temporary
// stores are removed in every case.
#include <grpcpp/grpcpp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/records.h"
#include "common/file.h"
#include "common/openmp_env.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "nlohmann/json.hpp"
#include "proto/matalign/v1/matalign.pb.h"
#include "server/config.h"
#include "server/engine.h"
#include "server/server.h"

namespace matalign::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

struct BenchOptions {
  // Model bundles of the in-process server (what `mmtrain train --out` writes). Exactly
  // one of models_dir and server is given. Default: "".
  std::string models_dir;
  // "host:port" of an external mmserver to load instead of an in-process one (the batching
  // and gRPC-vs-in-process comparisons need the engine and are skipped). Default: "".
  std::string server;
  // Bearer token sent to the external server. Default: "" (none).
  std::string token;
  // With server: stream the corpus into it (Ingest RPC) before measuring. Default: false.
  bool ingest = false;
  // The corpus: a directory holding manifest.jsonl, or the manifest file. Required.
  std::string corpus;
  // Measured seconds per row, after the warm-up. Default: 5.
  double duration_seconds = 5;
  // Unmeasured seconds of the same load before each row. Default: 1.
  double warmup_seconds = 1;
  // Client threads of the load table's rows, each 1..1024. Default: 1, 8, 32.
  std::vector<int> concurrency = {1, 8, 32};
  // Client threads of the batching comparison, 1..1024. Default: 32.
  int batching_concurrency = 32;
  // gRPC channels the client threads share (thread i uses channel i % channels), each with
  // its own TCP connection, 1..256. Default: 4.
  int channels = 4;
  // Inference threads of the in-process server; 0 = every core. Default: 0.
  int threads = 0;
  // batching.max_batch_size of the in-process server (the other one of the batching
  // comparison has 1), 1..1024. Default: 32 (the server's default).
  int max_batch_size = 32;
  // How long the in-process servers' batchers wait for a batch to fill
  // (batching.max_delay_ms). Default: 2 (the server's default).
  double max_delay_ms = 2;
  // Device of the in-process server: "auto", "cpu" or "cuda". Default: "auto".
  std::string device = "auto";
  // Recommendations per Recommend call, 1..1024. Default: 10.
  int k = 10;
  // Deadline of each call, seconds. Default: 30.
  double call_timeout_seconds = 30;
  // Print one JSON object instead of the text tables. Default: false.
  bool json = false;

  // InvalidArgument naming the first bad field.
  absl::Status Validate() const {
    if (models_dir.empty() == server.empty()) {
      return absl::InvalidArgumentError("give exactly one of --models-dir and --server");
    }
    if (corpus.empty()) return absl::InvalidArgumentError("--corpus is required");
    const BenchOptions defaults;
    if (!server.empty() &&
        (threads != defaults.threads || max_batch_size != defaults.max_batch_size ||
         max_delay_ms != defaults.max_delay_ms || device != defaults.device)) {
      return absl::InvalidArgumentError(
          "--threads, --max-batch-size, --max-delay-ms and --device configure the in-process "
          "server: not with --server");
    }
    if (server.empty() && (ingest || !token.empty())) {
      return absl::InvalidArgumentError("--ingest and --token apply to --server only");
    }
    if (!(duration_seconds > 0) || !std::isfinite(duration_seconds)) {
      return absl::InvalidArgumentError("--duration-seconds must be positive");
    }
    if (!(warmup_seconds >= 0) || !std::isfinite(warmup_seconds)) {
      return absl::InvalidArgumentError("--warmup-seconds must not be negative");
    }
    if (concurrency.empty()) return absl::InvalidArgumentError("--concurrency is empty");
    for (int c : concurrency) {
      if (c < 1 || c > 1024) {
        return absl::InvalidArgumentError(
            absl::StrCat("--concurrency: ", c, " is outside 1..1024"));
      }
    }
    if (batching_concurrency < 1 || batching_concurrency > 1024) {
      return absl::InvalidArgumentError("--batching-concurrency must be in 1..1024");
    }
    if (channels < 1 || channels > 256) {
      return absl::InvalidArgumentError("--channels must be in 1..256");
    }
    if (max_batch_size < 1 || max_batch_size > 1024) {
      return absl::InvalidArgumentError("--max-batch-size must be in 1..1024");
    }
    if (!(max_delay_ms >= 0) || !std::isfinite(max_delay_ms)) {
      return absl::InvalidArgumentError("--max-delay-ms must not be negative");
    }
    if (threads < 0) return absl::InvalidArgumentError("--threads must not be negative");
    if (device != "auto" && device != "cpu" && device != "cuda") {
      return absl::InvalidArgumentError(
          absl::StrCat("--device: expected auto, cpu or cuda, got '", device, "'"));
    }
    if (k < 1 || k > 1024) return absl::InvalidArgumentError("--k must be in 1..1024");
    if (!(call_timeout_seconds > 0) || !std::isfinite(call_timeout_seconds)) {
      return absl::InvalidArgumentError("--call-timeout-seconds must be positive");
    }
    return absl::OkStatus();
  }
};

// Progress on stderr, one line per phase.
void Progress(absl::string_view line) {
  std::fprintf(stderr, "mmbench: %s\n", std::string(line).c_str());
  std::fflush(stderr);
}

// The 1, 5 and 15 minute load averages of /proc/loadavg ("1.68 1.07 1.30"), or "" where
// unreadable.
std::string LoadAverage() {
  absl::StatusOr<std::string> text = ReadFile("/proc/loadavg");
  if (!text.ok()) return "";
  std::vector<absl::string_view> fields =
      absl::StrSplit(*text, absl::ByAnyChar(" \n"), absl::SkipEmpty());
  if (fields.size() > 3) fields.resize(3);
  return absl::StrJoin(fields, " ");
}

// ---------------------------------------------------------------------------------------
// The requests of each workload, built from the corpus.

// The measured RPCs.
enum class Rpc { kRecommend, kEmbedStructure, kEmbedText, kEmbedImage };
constexpr Rpc kAllRpcs[] = {Rpc::kRecommend, Rpc::kEmbedStructure, Rpc::kEmbedText,
                            Rpc::kEmbedImage};

// The RPC's name in the proto ("EmbedText").
const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kRecommend:
      return "Recommend";
    case Rpc::kEmbedStructure:
      return "EmbedStructure";
    case Rpc::kEmbedText:
      return "EmbedText";
    case Rpc::kEmbedImage:
      return "EmbedImage";
  }
  return "?";
}

// The encoder whose batcher serves `rpc` (names of Engine::batcher_stats()).
const char* EncoderOf(Rpc rpc) {
  switch (rpc) {
    case Rpc::kRecommend:
      return "property";
    case Rpc::kEmbedStructure:
      return "structure";
    case Rpc::kEmbedText:
      return "text";
    case Rpc::kEmbedImage:
      return "image";
  }
  return "";
}

// The requests of each workload; a client thread cycles through those of its workload.
struct Requests {
  std::vector<v1::RecommendRequest> recommend;       // properties + composition of records
  std::vector<v1::EmbedStructureRequest> structure;  // the records' structure files
  std::vector<v1::EmbedTextRequest> text;            // synthesis texts
  std::vector<v1::EmbedImageRequest> image;          // SEM images

  // The number of requests of `rpc`'s workload.
  size_t size(Rpc rpc) const {
    switch (rpc) {
      case Rpc::kRecommend:
        return recommend.size();
      case Rpc::kEmbedStructure:
        return structure.size();
      case Rpc::kEmbedText:
        return text.size();
      case Rpc::kEmbedImage:
        return image.size();
    }
    return 0;
  }
};

// What the corpus could not provide for `rpc`.
const char* MissingInput(Rpc rpc) {
  switch (rpc) {
    case Rpc::kRecommend:
      return "no record has a composition or a property the model knows";
    case Rpc::kEmbedStructure:
      return "no record has a structure";
    case Rpc::kEmbedText:
      return "no record has a synthesis text";
    case Rpc::kEmbedImage:
      return "no record has an SEM image";
  }
  return "";
}

// Reads the manifest of `corpus` (a directory or the manifest itself) and loads every
// record's files into API records.
absl::StatusOr<std::vector<v1::Record>> ReadCorpus(const std::string& corpus) {
  std::error_code ec;
  const std::string manifest = std::filesystem::is_directory(corpus, ec)
                                   ? (std::filesystem::path(corpus) / "manifest.jsonl").string()
                                   : corpus;
  MATALIGN_ASSIGN_OR_RETURN(std::vector<corpus::Record> records, corpus::ReadManifest(manifest));
  const std::string dir = std::filesystem::path(manifest).parent_path().string();
  std::vector<v1::Record> out;
  out.reserve(records.size());
  for (const corpus::Record& record : records) {
    MATALIGN_ASSIGN_OR_RETURN(v1::Record r, client::ToProtoRecord(record, dir));
    out.push_back(std::move(r));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(manifest, ": no records"));
  return out;
}

// The requests of every workload, in corpus order. Recommend targets keep the properties
// the model's property encoder knows (`property_names`) and the composition.
Requests BuildRequests(const std::vector<v1::Record>& records,
                       const std::set<std::string>& property_names, int k) {
  Requests out;
  for (const v1::Record& record : records) {
    v1::RecommendRequest recommend;
    recommend.set_k(static_cast<uint32_t>(k));
    v1::TargetSpec* target = recommend.mutable_target();
    for (const auto& [name, value] : record.properties()) {
      if (property_names.count(name) > 0) (*target->mutable_properties())[name] = value;
    }
    *target->mutable_composition() = record.composition();
    if (!target->properties().empty() || !target->composition().empty()) {
      out.recommend.push_back(std::move(recommend));
    }
    if (record.has_structure() && !record.structure().content().empty()) {
      out.structure.emplace_back();
      *out.structure.back().mutable_structure() = record.structure();
    }
    if (!record.synthesis().text().empty()) {
      out.text.emplace_back();
      out.text.back().set_text(record.synthesis().text());
    }
    for (const v1::ImageInput& image : record.images()) {
      if (image.kind() != "sem") continue;
      out.image.emplace_back();
      *out.image.back().mutable_image() = image;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The client side: channels and clients.

// The gRPC channels of one server, each wrapped in a client::Client (which adds the
// deadline and the bearer token of every call). Thread-safe.
class GrpcTarget {
 public:
  // Creates `channels` channels to `address`, each with its own connection (a local
  // subchannel pool: gRPC would otherwise share one connection among equal channels), and
  // waits up to 10 s for each to connect. InvalidArgument for a bad token (as
  // ClientOptions::Validate), Unavailable naming the address when it cannot connect.
  static absl::StatusOr<std::unique_ptr<GrpcTarget>> Connect(const std::string& address,
                                                             const std::string& token, int channels,
                                                             absl::Duration call_timeout) {
    client::ClientOptions options;
    options.server = address;
    options.token = token;
    options.timeout = call_timeout;
    MATALIGN_RETURN_IF_ERROR(options.Validate());
    auto target = std::make_unique<GrpcTarget>();
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetMaxReceiveMessageSize(options.max_message_bytes);
      args.SetMaxSendMessageSize(options.max_message_bytes);
      std::shared_ptr<grpc::Channel> channel =
          grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
      if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
        return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
      }
      target->clients_.push_back(client::Client::FromChannel(std::move(channel), options));
    }
    return target;
  }

  // The client of client thread `thread`: the one on channel `thread % channels`.
  client::Client& client(int thread) const { return *clients_[thread % clients_.size()]; }

  int channels() const { return static_cast<int>(clients_.size()); }

 private:
  std::vector<std::unique_ptr<client::Client>> clients_;
};

// One call of a workload: sends request `i` (already reduced modulo the request count) and
// returns the call's status. Owned by one client thread.
using Caller = std::function<absl::Status(size_t i)>;

// The caller of client thread `thread` for `rpc` over gRPC.
Caller MakeGrpcCaller(const GrpcTarget& target, const Requests& requests, Rpc rpc, int thread) {
  client::Client* c = &target.client(thread);
  const Requests* r = &requests;
  switch (rpc) {
    case Rpc::kRecommend:
      return [c, r](size_t i) { return c->Recommend(r->recommend[i]).status(); };
    case Rpc::kEmbedStructure:
      return [c, r](size_t i) { return c->EmbedStructure(r->structure[i]).status(); };
    case Rpc::kEmbedText:
      return [c, r](size_t i) { return c->EmbedText(r->text[i]).status(); };
    case Rpc::kEmbedImage:
      return [c, r](size_t i) { return c->EmbedImage(r->image[i]).status(); };
  }
  return [](size_t) { return absl::InternalError("unknown workload"); };
}

// ---------------------------------------------------------------------------------------
// The closed loop.

// One measured load: which calls, how many client threads, for how long.
struct LoadSpec {
  std::string workload;  // "Recommend", ...
  std::string path;      // "grpc" or "in-process"
  int concurrency = 1;
  size_t num_requests = 0;  // > 0
  absl::Duration warmup;
  absl::Duration duration;
  // The engine whose batcher counters give the mean batch size, and the encoder's name;
  // null where unknown (an external server).
  const server::Engine* engine = nullptr;
  std::string encoder;
};

// The figures of one measured load (a table row).
struct LoadResult {
  std::string workload;
  std::string path;
  int concurrency = 0;
  double seconds = 0;  // measured wall time
  int64_t ok = 0;      // calls answered OK within the measured window
  int64_t errors = 0;  // calls answered otherwise
  double qps = 0;      // ok / seconds
  double mean_ms = 0;  // of the OK calls
  double p50_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_batch = 0;  // requests per encoder batch during the row; 0 = unknown
  std::string first_error;
};

// The batch size histogram of `encoder` (BatcherStats::batch_size_histogram), or empty.
std::vector<int64_t> BatchHistogram(const server::Engine* engine, const std::string& encoder) {
  if (engine == nullptr) return {};
  for (const auto& [name, stats] : engine->batcher_stats()) {
    if (name == encoder) return stats.batch_size_histogram;
  }
  return {};
}

// Adds the requests and batches run between two histograms of the same batcher to
// `*requests` and `*batches`.
void AddBatches(const std::vector<int64_t>& before, const std::vector<int64_t>& after,
                int64_t* requests, int64_t* batches) {
  for (size_t n = 0; n < after.size(); ++n) {
    const int64_t delta = after[n] - (n < before.size() ? before[n] : 0);
    *batches += delta;
    *requests += delta * static_cast<int64_t>(n);
  }
}

// Nearest-rank percentile of sorted `values` (non-empty), q in (0, 1].
double Percentile(const std::vector<double>& sorted, double q) {
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// What one or more measured windows of the same load saw.
struct Samples {
  std::vector<double> latencies_ms;  // of the OK calls
  int64_t errors = 0;
  std::string first_error;
  double seconds = 0;            // measured wall time
  int64_t batched_requests = 0;  // requests in the encoder batches that ran meanwhile
  int64_t batches = 0;

  void Merge(Samples&& other) {
    latencies_ms.insert(latencies_ms.end(), other.latencies_ms.begin(), other.latencies_ms.end());
    errors += other.errors;
    if (first_error.empty()) first_error = std::move(other.first_error);
    seconds += other.seconds;
    batched_requests += other.batched_requests;
    batches += other.batches;
  }
};

// Runs `spec.concurrency` client threads, each calling make_caller(thread) in a loop over
// the requests (thread t starts at request t * n / concurrency, so threads send different
// requests at the same time) for the warm-up and then the measured duration. A call counts
// when it started after the warm-up; no call starts after the end. `note` goes to the
// progress line.
Samples Measure(const LoadSpec& spec, const std::function<Caller(int thread)>& make_caller,
                absl::string_view note = "") {
  Progress(absl::StrFormat("%s over %s at concurrency %d (%.3g s warm-up + %.3g s%s)",
                           spec.workload, spec.path, spec.concurrency,
                           absl::ToDoubleSeconds(spec.warmup), absl::ToDoubleSeconds(spec.duration),
                           note));
  const int n = spec.concurrency;
  std::vector<Samples> per_thread(n);
  std::vector<Clock::time_point> last_finish(n);
  absl::BlockingCounter ready(n);
  absl::Notification go;
  Clock::time_point warm_end, end;  // written before go, read after it
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      const Caller call = make_caller(t);
      Samples& mine = per_thread[t];
      mine.latencies_ms.reserve(4096);
      size_t i = static_cast<size_t>(t) * spec.num_requests / static_cast<size_t>(n);
      ready.DecrementCount();
      go.WaitForNotification();
      last_finish[t] = warm_end;
      for (;; ++i) {
        const Clock::time_point before = Clock::now();
        if (before >= end) break;
        const absl::Status status = call(i % spec.num_requests);
        const Clock::time_point after = Clock::now();
        if (before < warm_end) continue;
        last_finish[t] = after;
        if (status.ok()) {
          mine.latencies_ms.push_back(
              std::chrono::duration<double, std::milli>(after - before).count());
        } else if (mine.errors++ == 0) {
          mine.first_error = status.ToString();
        }
      }
    });
  }
  ready.Wait();
  const Clock::time_point start = Clock::now();
  warm_end = start + absl::ToChronoNanoseconds(spec.warmup);
  end = warm_end + absl::ToChronoNanoseconds(spec.duration);
  go.Notify();
  // The batcher's histogram at the start of the measured window (batches that ran from
  // then until the last call returned).
  std::this_thread::sleep_until(warm_end);
  const std::vector<int64_t> batches_before = BatchHistogram(spec.engine, spec.encoder);
  for (std::thread& thread : threads) thread.join();
  const std::vector<int64_t> batches_after = BatchHistogram(spec.engine, spec.encoder);

  Samples all;
  for (Samples& mine : per_thread) all.Merge(std::move(mine));
  all.seconds = std::chrono::duration<double>(
                    *std::max_element(last_finish.begin(), last_finish.end()) - warm_end)
                    .count();
  AddBatches(batches_before, batches_after, &all.batched_requests, &all.batches);
  return all;
}

// The figures of `samples`, measured under `spec`.
LoadResult Summarize(const LoadSpec& spec, Samples samples) {
  LoadResult result;
  result.workload = spec.workload;
  result.path = spec.path;
  result.concurrency = spec.concurrency;
  result.seconds = samples.seconds;
  result.errors = samples.errors;
  result.first_error = std::move(samples.first_error);
  std::vector<double>& latencies = samples.latencies_ms;
  result.ok = static_cast<int64_t>(latencies.size());
  if (!latencies.empty()) {
    std::sort(latencies.begin(), latencies.end());
    double sum = 0;
    for (double l : latencies) sum += l;
    result.mean_ms = sum / static_cast<double>(latencies.size());
    result.p50_ms = Percentile(latencies, 0.50);
    result.p99_ms = Percentile(latencies, 0.99);
    result.max_ms = latencies.back();
    result.qps = result.seconds > 0 ? static_cast<double>(result.ok) / result.seconds : 0;
  }
  if (samples.batches > 0) {
    result.mean_batch =
        static_cast<double>(samples.batched_requests) / static_cast<double>(samples.batches);
  }
  return result;
}

// One row: Measure, then Summarize.
LoadResult RunLoad(const LoadSpec& spec, const std::function<Caller(int thread)>& make_caller) {
  return Summarize(spec, Measure(spec, make_caller));
}

// A comparison of two loads on a machine whose other work comes and goes: `rounds`
// alternating windows of a and b, each of duration / rounds after its own warm-up, merged
// per side, so that drifts in the machine's load reach both sides alike.
std::pair<LoadResult, LoadResult> RunAlternating(const LoadSpec& a,
                                                 const std::function<Caller(int thread)>& make_a,
                                                 const LoadSpec& b,
                                                 const std::function<Caller(int thread)>& make_b,
                                                 int rounds) {
  Samples sa, sb;
  for (int r = 0; r < rounds; ++r) {
    const std::string note = absl::StrFormat(", round %d/%d", r + 1, rounds);
    LoadSpec round_a = a, round_b = b;
    round_a.duration = a.duration / rounds;
    round_b.duration = b.duration / rounds;
    sa.Merge(Measure(round_a, make_a, note));
    sb.Merge(Measure(round_b, make_b, note));
  }
  return {Summarize(a, std::move(sa)), Summarize(b, std::move(sb))};
}

// The in-process caller of Recommend: the engine itself on the client thread.
Caller MakeEngineRecommendCaller(const server::Engine* engine, const Requests* requests,
                                 absl::Duration call_timeout) {
  return [engine, requests, call_timeout](size_t i) {
    server::CallContext call;
    call.deadline = absl::Now() + call_timeout;
    return engine->Recommend(requests->recommend[i], call).status();
  };
}

// ---------------------------------------------------------------------------------------
// Output.

// One row as a JSON object (mean_batch and first_error only when known).
json ResultJson(const LoadResult& r) {
  json j = {{"workload", r.workload}, {"path", r.path},       {"concurrency", r.concurrency},
            {"seconds", r.seconds},   {"ok", r.ok},           {"errors", r.errors},
            {"qps", r.qps},           {"mean_ms", r.mean_ms}, {"p50_ms", r.p50_ms},
            {"p99_ms", r.p99_ms},     {"max_ms", r.max_ms}};
  if (r.mean_batch > 0) j["mean_batch"] = r.mean_batch;
  if (!r.first_error.empty()) j["first_error"] = r.first_error;
  return j;
}

// A text table: the first column left-aligned, the others right-aligned, columns two
// spaces apart.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

  std::string Render() const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t c = 0; c < row.size(); ++c) {
        const std::string pad(width[c] - row[c].size(), ' ');
        if (c > 0) line += "  ";
        line += c == 0 ? row[c] + pad : pad + row[c];
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += "  " + line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

// `value` with `digits` decimals.
std::string Fixed(double value, int digits) { return absl::StrFormat("%.*f", digits, value); }

// Milliseconds with three significant digits at least, two decimals at most.
std::string Ms(double ms) { return Fixed(ms, ms < 10 ? 2 : (ms < 100 ? 1 : 0)); }

// A latency of `row`, "-" when no call succeeded.
std::string LatencyMs(const LoadResult& row, double ms) { return row.ok > 0 ? Ms(ms) : "-"; }

// QPS: one decimal below 100, none above.
std::string Qps(double qps) { return Fixed(qps, qps < 100 ? 1 : 0); }

// A mean batch size, "-" when unknown (an external server).
std::string Batch(double mean_batch) { return mean_batch > 0 ? Fixed(mean_batch, 1) : "-"; }

// The lines under a table for its rows with errors.
std::string ErrorLines(const std::vector<LoadResult>& rows) {
  std::string out;
  for (const LoadResult& r : rows) {
    if (r.errors == 0) continue;
    out += absl::StrFormat("  %s over %s at concurrency %d: %d errors, first: %s\n", r.workload,
                           r.path, r.concurrency, r.errors, r.first_error);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The run.

// A temporary directory removed (with its contents) on destruction, or by the signal
// watcher (WatchSignals) when SIGINT or SIGTERM ends the run early.
class ScopedTempDir {
 public:
  // Creates $TMPDIR/mmbench-XXXXXX (/tmp without TMPDIR). Internal with the reason otherwise.
  static absl::StatusOr<std::unique_ptr<ScopedTempDir>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/mmbench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a temporary directory ", pattern, ": ",
                                              std::strerror(errno)));
    }
    absl::MutexLock lock(&live_mu_);
    live_ = new ScopedTempDir(pattern);
    return std::unique_ptr<ScopedTempDir>(live_);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;
  ~ScopedTempDir() {
    absl::MutexLock lock(&live_mu_);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (live_ == this) live_ = nullptr;
  }
  const std::string& path() const { return path_; }

  // Removes the directory of the live ScopedTempDir, if any, and keeps it from being
  // removed again. Returns its path ("" without one).
  static std::string RemoveLive() {
    absl::MutexLock lock(&live_mu_);
    if (live_ == nullptr) return "";
    std::error_code ec;
    std::filesystem::remove_all(live_->path_, ec);
    std::string path = live_->path_;
    live_ = nullptr;
    return path;
  }

 private:
  explicit ScopedTempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;

  // The directory a signal removes (one per run).
  static absl::Mutex live_mu_;
  static ScopedTempDir* live_ ABSL_GUARDED_BY(live_mu_);
};

ABSL_CONST_INIT absl::Mutex ScopedTempDir::live_mu_(absl::kConstInit);
ScopedTempDir* ScopedTempDir::live_ = nullptr;

// Blocks SIGINT and SIGTERM in this thread and every thread it starts later, and starts a
// thread that waits for them: one ends the process at once (exit status 128 + signal) after
// removing the temporary store, which servers in the middle of a measurement would
// otherwise leave behind. Call before any other thread starts.
void WatchSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([signals] {
    int signal = 0;
    if (sigwait(&signals, &signal) != 0) return;
    const std::string removed = ScopedTempDir::RemoveLive();
    std::fprintf(stderr, "mmbench: %s: stopped%s%s\n", signal == SIGINT ? "SIGINT" : "SIGTERM",
                 removed.empty() ? "" : ", removed ", removed.c_str());
    _exit(128 + signal);
  }).detach();
}

// The in-process server's configuration: loopback, any free port, no metrics endpoint, no
// polling for bundles, no periodic snapshots.
server::ServerConfig InProcessConfig(const BenchOptions& options, const std::string& data_dir,
                                     int max_batch_size) {
  server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  config.data_dir = data_dir;
  config.models_dir = options.models_dir;
  config.device = options.device;
  config.threads = options.threads;
  config.metrics_listen = "";
  config.reload_poll_seconds = 0;
  config.snapshot_interval_seconds = 0;
  config.shutdown_grace_seconds = 5;
  config.batching.max_batch_size = max_batch_size;
  config.batching.max_delay = absl::Milliseconds(options.max_delay_ms);
  return config;
}

// Starts a server with `config`. FailedPrecondition when it has no model to serve, else the
// errors of Server::Start.
absl::StatusOr<std::unique_ptr<server::Server>> StartServer(const server::ServerConfig& config) {
  Progress(absl::StrCat("starting an in-process server (models ", config.models_dir,
                        ", max_batch_size ", config.batching.max_batch_size, ", store ",
                        config.data_dir, ")"));
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<server::Server> server, server::Server::Start(config));
  if (!server->engine().state().model_loaded) {
    return absl::FailedPreconditionError(
        absl::StrCat("no model bundle in ", config.models_dir,
                     " (train one: mmtrain train --config configs/tiny.yaml --out DIR)"));
  }
  return server;
}

// The acknowledgements of one ingest, in-process or remote.
struct IngestTally {
  int64_t accepted = 0;
  int64_t rejected = 0;
  std::string first_rejection;  // "id: reason" of the first rejected record

  void Add(const v1::IngestResponse& response) {
    if (response.accepted()) {
      ++accepted;
    } else if (rejected++ == 0) {
      first_rejection = absl::StrCat(response.id(), ": ", response.error());
    }
  }

  // The number accepted; FailedPrecondition with the first reason when none was. Notes
  // rejections on the progress line.
  absl::StatusOr<int64_t> Finish() const {
    if (accepted == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("no record was accepted; first rejection: ", first_rejection));
    }
    if (rejected > 0) {
      Progress(absl::StrCat(rejected, " record(s) rejected, first: ", first_rejection));
    }
    return accepted;
  }
};

// Ingests `records` through the engine in chunks of 32. Returns the number accepted;
// FailedPrecondition with the first reason when none was.
absl::StatusOr<int64_t> IngestInProcess(server::Engine& engine,
                                        const std::vector<v1::Record>& records) {
  constexpr size_t kChunk = 32;
  IngestTally tally;
  for (size_t begin = 0; begin < records.size(); begin += kChunk) {
    std::vector<const v1::Record*> chunk;
    for (size_t i = begin; i < std::min(records.size(), begin + kChunk); ++i) {
      chunk.push_back(&records[i]);
    }
    for (const v1::IngestResponse& response : engine.Ingest(chunk, server::CallContext{})) {
      tally.Add(response);
    }
  }
  return tally.Finish();
}

// Streams `records` into an external server (Ingest RPC). Returns the number accepted;
// the stream's error, or FailedPrecondition with the first reason when none was accepted.
absl::StatusOr<int64_t> IngestRemote(client::Client& client,
                                     const std::vector<v1::Record>& records) {
  size_t next = 0;
  IngestTally tally;
  const client::IngestResult result = client.Ingest(
      [&](v1::Record* record) -> absl::StatusOr<bool> {
        if (next == records.size()) return false;
        *record = records[next++];
        return true;
      },
      [&](const v1::IngestResponse& response) {
        tally.Add(response);
        return absl::OkStatus();
      });
  MATALIGN_RETURN_IF_ERROR(result.status);
  return tally.Finish();
}

// Everything measured, for printing.
struct Report {
  json setup;
  std::vector<LoadResult> load;
  std::vector<std::string> skipped_workloads;  // "EmbedImage: no record has an SEM image"
  // Batching comparison: pairs (batched, unbatched); empty with batching_skipped set.
  std::vector<std::pair<LoadResult, LoadResult>> batching;
  int batching_concurrency = 0;
  int rounds = 0;  // alternating rounds of both comparisons
  int batched_max_batch_size = 0;
  std::string batching_skipped;
  // gRPC vs in process; unset with grpc_skipped set.
  std::optional<std::pair<LoadResult, LoadResult>> grpc_vs_engine;
  std::string grpc_skipped;
};

// "a/b" as "1.93x", or "-" when b is 0.
std::string Ratio(double a, double b) { return b > 0 ? Fixed(a / b, 2) + "x" : "-"; }

// Prints `report` as text tables on stdout.
void PrintText(const Report& report) {
  const json& s = report.setup;
  std::string mode = s["mode"].get<std::string>();
  if (s.contains("max_batch_size")) {
    const int threads = s["threads"].get<int>();
    mode += absl::StrFormat(" (batching: max_batch_size %d, max_delay %g ms; %s)",
                            s["max_batch_size"].get<int>(), s["max_delay_ms"].get<double>(),
                            threads == 0 ? std::string("inference on every core")
                                         : absl::StrCat(threads, " inference thread(s)"));
  }
  std::cout << absl::StrFormat(
      "mmbench: %s\n"
      "model %s on %s, %d records in the store\n"
      "closed loop: each client thread sends its next call when the previous one is answered;\n"
      "%g s warm-up + %g s per row; %d gRPC channel(s), client thread i on channel i %% %d\n"
      "machine: %d cores, load average at start %s\n\n",
      mode, s["model_version"].get<std::string>(), s["device"].get<std::string>(),
      s["records"].get<int64_t>(), s["warmup_seconds"].get<double>(),
      s["duration_seconds"].get<double>(), s["channels"].get<int>(), s["channels"].get<int>(),
      s["cores"].get<int>(), s["load_average_start"].get<std::string>());

  std::cout << "Latency and throughput (gRPC, QPS of OK calls; batch = mean requests per "
               "encoder batch)\n";
  Table load({"workload", "conc", "QPS", "p50 ms", "p99 ms", "calls", "errors", "batch"});
  for (const LoadResult& r : report.load) {
    load.Add({r.workload, std::to_string(r.concurrency), Qps(r.qps), LatencyMs(r, r.p50_ms),
              LatencyMs(r, r.p99_ms), std::to_string(r.ok), std::to_string(r.errors),
              Batch(r.mean_batch)});
  }
  std::cout << load.Render() << ErrorLines(report.load);
  for (const std::string& skipped : report.skipped_workloads) {
    std::cout << "  skipped " << skipped << "\n";
  }

  const double duration = s["duration_seconds"].get<double>();
  const std::string rounds = report.rounds > 0
                                 ? absl::StrFormat("%d alternating rounds of %.3g s per side",
                                                   report.rounds, duration / report.rounds)
                                 : "";
  std::cout << absl::StrFormat(
      "\nBatching speed-up at concurrency %d: max_batch_size %d vs a second server with 1 "
      "(%s)\n",
      report.batching_concurrency, report.batched_max_batch_size, rounds);
  if (!report.batching_skipped.empty()) {
    std::cout << "  skipped: " << report.batching_skipped << "\n";
  } else {
    Table batching({"workload", "QPS batched", "QPS b=1", "speed-up", "p50 ms batched",
                    "p50 ms b=1", "batch"});
    std::vector<LoadResult> rows;
    for (const auto& [batched, single] : report.batching) {
      batching.Add({batched.workload, Qps(batched.qps), Qps(single.qps),
                    Ratio(batched.qps, single.qps), LatencyMs(batched, batched.p50_ms),
                    LatencyMs(single, single.p50_ms),
                    Batch(batched.mean_batch) + " / " + Batch(single.mean_batch)});
      rows.push_back(batched);
      rows.push_back(single);
    }
    std::cout << batching.Render() << ErrorLines(rows);
  }

  std::cout << absl::StrFormat(
      "\ngRPC vs in process: Recommend at concurrency 1, the same requests (%s)\n", rounds);
  if (!report.grpc_skipped.empty()) {
    std::cout << "  skipped: " << report.grpc_skipped << "\n";
  } else {
    const auto& [grpc, engine] = *report.grpc_vs_engine;
    Table table({"path", "QPS", "p50 ms", "p99 ms", "calls", "errors"});
    for (const LoadResult* r : {&grpc, &engine}) {
      table.Add({r->path, Qps(r->qps), LatencyMs(*r, r->p50_ms), LatencyMs(*r, r->p99_ms),
                 std::to_string(r->ok), std::to_string(r->errors)});
    }
    std::cout << table.Render() << ErrorLines({grpc, engine})
              << absl::StrFormat("  p50 gRPC / in process: %s (%+.3f ms per call)\n",
                                 Ratio(grpc.p50_ms, engine.p50_ms), grpc.p50_ms - engine.p50_ms);
  }
  std::cout << "\nload average at end: " << s["load_average_end"].get<std::string>() << "\n";
}

// Prints `report` as one JSON object on stdout.
void PrintJson(const Report& report) {
  json out;
  out["setup"] = report.setup;
  out["load"] = json::array();
  for (const LoadResult& r : report.load) out["load"].push_back(ResultJson(r));
  out["skipped_workloads"] = report.skipped_workloads;
  json batching = {{"concurrency", report.batching_concurrency},
                   {"rounds", report.rounds},
                   {"max_batch_size", report.batched_max_batch_size}};
  if (!report.batching_skipped.empty()) {
    batching["skipped"] = report.batching_skipped;
  } else {
    batching["rows"] = json::array();
    for (const auto& [batched, single] : report.batching) {
      batching["rows"].push_back(
          {{"workload", batched.workload},
           {"batched", ResultJson(batched)},
           {"unbatched", ResultJson(single)},
           {"speedup", single.qps > 0 ? json(batched.qps / single.qps) : json(nullptr)}});
    }
  }
  out["batching"] = batching;
  if (!report.grpc_skipped.empty()) {
    out["grpc_vs_in_process"] = {{"skipped", report.grpc_skipped}};
  } else {
    const auto& [grpc, engine] = *report.grpc_vs_engine;
    out["grpc_vs_in_process"] = {
        {"rounds", report.rounds},
        {"grpc", ResultJson(grpc)},
        {"in_process", ResultJson(engine)},
        {"p50_ratio", engine.p50_ms > 0 ? json(grpc.p50_ms / engine.p50_ms) : json(nullptr)}};
  }
  std::cout << out.dump(2) << "\n";
}

// Every measured row has at least one OK call: FailedPrecondition naming the first that
// has none.
absl::Status CheckRows(const Report& report) {
  std::vector<const LoadResult*> rows;
  for (const LoadResult& r : report.load) rows.push_back(&r);
  for (const auto& [a, b] : report.batching) rows.insert(rows.end(), {&a, &b});
  if (report.grpc_vs_engine) {
    rows.insert(rows.end(), {&report.grpc_vs_engine->first, &report.grpc_vs_engine->second});
  }
  for (const LoadResult* r : rows) {
    if (r->ok == 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          r->workload, " over ", r->path, " at concurrency ", r->concurrency, ": no call succeeded",
          r->first_error.empty() ? "" : "; first error: ", r->first_error));
    }
  }
  return absl::OkStatus();
}

// Runs every measurement of `options` (validated) and prints the report. Errors: the
// corpus reader's, the server's start-up errors, Unavailable for an unreachable server,
// FailedPrecondition when nothing could be ingested or a row had no successful call.
absl::Status Run(const BenchOptions& options) {
  const absl::Duration warmup = absl::Seconds(options.warmup_seconds);
  const absl::Duration duration = absl::Seconds(options.duration_seconds);
  const absl::Duration call_timeout = absl::Seconds(options.call_timeout_seconds);
  Report report;
  report.setup["load_average_start"] = LoadAverage();

  Progress(absl::StrCat("reading the corpus ", options.corpus));
  MATALIGN_ASSIGN_OR_RETURN(const std::vector<v1::Record> records, ReadCorpus(options.corpus));

  // Declared before the servers: removed after they are shut down.
  std::unique_ptr<ScopedTempDir> temp_dir;
  std::unique_ptr<server::Server> server;
  std::string address = options.server;
  std::string data_dir;
  int64_t stored = -1;
  if (options.server.empty()) {
    MATALIGN_ASSIGN_OR_RETURN(temp_dir, ScopedTempDir::Create());
    data_dir = temp_dir->path() + "/data";
    MATALIGN_ASSIGN_OR_RETURN(
        server, StartServer(InProcessConfig(options, data_dir, options.max_batch_size)));
    address = absl::StrCat("127.0.0.1:", server->port());
    Progress(absl::StrCat("ingesting ", records.size(), " records through Engine::Ingest"));
    MATALIGN_ASSIGN_OR_RETURN(stored, IngestInProcess(server->engine(), records));
  }

  Progress(absl::StrCat("connecting ", options.channels, " channel(s) to ", address));
  MATALIGN_ASSIGN_OR_RETURN(
      std::unique_ptr<GrpcTarget> target,
      GrpcTarget::Connect(address, options.token, options.channels, call_timeout));
  if (server == nullptr && options.ingest) {
    Progress(absl::StrCat("ingesting ", records.size(), " records into ", options.server));
    MATALIGN_ASSIGN_OR_RETURN(stored, IngestRemote(target->client(0), records));
  }
  MATALIGN_ASSIGN_OR_RETURN(const v1::ModelInfoResponse info, target->client(0).ModelInfo());
  const std::set<std::string> property_names(info.property_names().begin(),
                                             info.property_names().end());
  const Requests requests = BuildRequests(records, property_names, options.k);
  if (info.num_records() == 0 && stored <= 0) {
    Progress("warning: the server's store is empty, so Recommend searches nothing (--ingest)");
  }

  report.setup["mode"] =
      options.server.empty() ? "in-process server" : absl::StrCat("external server ", address);
  report.setup["address"] = address;
  report.setup["corpus"] = options.corpus;
  report.setup["corpus_records"] = records.size();
  report.setup["records"] = stored >= 0 ? stored : static_cast<int64_t>(info.num_records());
  report.setup["model_version"] = info.model_version();
  report.setup["device"] = info.device();
  report.setup["duration_seconds"] = options.duration_seconds;
  report.setup["warmup_seconds"] = options.warmup_seconds;
  report.setup["channels"] = target->channels();
  report.setup["threads"] = options.threads;
  if (options.server.empty()) {
    report.setup["max_batch_size"] = options.max_batch_size;
    report.setup["max_delay_ms"] = options.max_delay_ms;
  }
  report.setup["cores"] = static_cast<int>(std::thread::hardware_concurrency());
  report.setup["concurrency"] = options.concurrency;
  report.setup["k"] = options.k;
  report.setup["requests"] = {{"Recommend", requests.recommend.size()},
                              {"EmbedStructure", requests.structure.size()},
                              {"EmbedText", requests.text.size()},
                              {"EmbedImage", requests.image.size()}};

  const server::Engine* engine = server ? &server->engine() : nullptr;
  auto grpc_spec = [&](Rpc rpc, int concurrency, const server::Engine* counters) {
    LoadSpec spec;
    spec.workload = RpcName(rpc);
    spec.path = "grpc";
    spec.concurrency = concurrency;
    spec.num_requests = requests.size(rpc);
    spec.warmup = warmup;
    spec.duration = duration;
    spec.engine = counters;
    spec.encoder = EncoderOf(rpc);
    return spec;
  };
  auto grpc_load = [&](const GrpcTarget& to, Rpc rpc, int concurrency,
                       const server::Engine* counters) {
    return RunLoad(grpc_spec(rpc, concurrency, counters),
                   [&](int thread) { return MakeGrpcCaller(to, requests, rpc, thread); });
  };

  // 1. Every workload at every concurrency.
  for (Rpc rpc : kAllRpcs) {
    if (requests.size(rpc) == 0) {
      report.skipped_workloads.push_back(absl::StrCat(RpcName(rpc), ": ", MissingInput(rpc)));
      continue;
    }
    for (int concurrency : options.concurrency) {
      report.load.push_back(grpc_load(*target, rpc, concurrency, engine));
    }
  }

  // 2. gRPC vs in process, and 3. batching: only with the engine at hand. Each compares
  // two loads in alternating rounds (RunAlternating).
  constexpr int kRounds = 3;
  report.rounds = kRounds;
  report.batching_concurrency = options.batching_concurrency;
  report.batched_max_batch_size = options.max_batch_size;
  if (server == nullptr) {
    report.grpc_skipped = "--server: the engine runs in another process";
    report.batching_skipped = "--server: needs a second server with max_batch_size 1";
  } else {
    if (requests.recommend.empty()) {
      report.grpc_skipped = MissingInput(Rpc::kRecommend);
    } else {
      const LoadSpec grpc = grpc_spec(Rpc::kRecommend, 1, engine);
      LoadSpec in_process = grpc;
      in_process.path = "in-process";
      report.grpc_vs_engine = RunAlternating(
          grpc,
          [&](int thread) { return MakeGrpcCaller(*target, requests, Rpc::kRecommend, thread); },
          in_process,
          [&](int) { return MakeEngineRecommendCaller(engine, &requests, call_timeout); }, kRounds);
    }

    std::vector<Rpc> compared;
    for (Rpc rpc : {Rpc::kEmbedText, Rpc::kEmbedStructure}) {
      if (requests.size(rpc) > 0) compared.push_back(rpc);
    }
    if (compared.empty()) {
      report.batching_skipped = "the corpus has neither synthesis texts nor structures";
    } else {
      // A second server beside the first: the same bundle and the same records in a store
      // of its own, every encoder batch of size 1.
      MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<server::Server> single,
                                StartServer(InProcessConfig(options, data_dir + "-b1", 1)));
      Progress(absl::StrCat("ingesting ", records.size(), " records into it"));
      MATALIGN_RETURN_IF_ERROR(IngestInProcess(single->engine(), records).status());
      MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<GrpcTarget> single_target,
                                GrpcTarget::Connect(absl::StrCat("127.0.0.1:", single->port()), "",
                                                    options.channels, call_timeout));
      for (Rpc rpc : compared) {
        const LoadSpec batched = grpc_spec(rpc, options.batching_concurrency, engine);
        LoadSpec unbatched = grpc_spec(rpc, options.batching_concurrency, &single->engine());
        unbatched.path = "grpc (batch 1)";
        report.batching.push_back(RunAlternating(
            batched, [&](int thread) { return MakeGrpcCaller(*target, requests, rpc, thread); },
            unbatched,
            [&](int thread) { return MakeGrpcCaller(*single_target, requests, rpc, thread); },
            kRounds));
      }
      single_target.reset();
      Progress("stopping the max_batch_size 1 server");
      single->Shutdown();
    }
    Progress("stopping the server");
    target.reset();
    server->Shutdown();
    server.reset();
  }
  report.setup["load_average_end"] = LoadAverage();

  if (options.json) {
    PrintJson(report);
  } else {
    PrintText(report);
  }
  return CheckRows(report);
}

}  // namespace
}  // namespace matalign::bench

int main(int argc, char** argv) {
  // Spinning OpenMP workers would take the cores from the client and RPC threads.
  matalign::ReexecWithPassiveOpenMpWait(argv);
  CLI::App app{
      "mmbench: load generator of the MatAlign server. Prints QPS and p50/p99 latency of "
      "Recommend and each Embed RPC per concurrency, the batching speed-up and the cost of "
      "gRPC over in-process calls (docs/serving-bench.md)."};
  matalign::bench::BenchOptions options;
  std::string concurrency = "1,8,32";
  app.add_option("--models-dir", options.models_dir,
                 "model bundles for an in-process server (mmtrain train --out)");
  app.add_option("--server", options.server,
                 "load an external mmserver host:port instead (skips the comparisons)");
  app.add_option("--token", options.token, "bearer token for --server");
  app.add_flag("--ingest", options.ingest, "with --server: ingest the corpus first");
  app.add_option("--corpus", options.corpus,
                 "corpus directory (manifest.jsonl) or manifest: the requests")
      ->required();
  app.add_option("--duration-seconds", options.duration_seconds, "measured seconds per row")
      ->capture_default_str();
  app.add_option("--warmup-seconds", options.warmup_seconds, "unmeasured seconds before each row")
      ->capture_default_str();
  app.add_option("--concurrency", concurrency, "client threads per row, comma-separated")
      ->capture_default_str();
  app.add_option("--batching-concurrency", options.batching_concurrency,
                 "client threads of the batching comparison")
      ->capture_default_str();
  app.add_option("--channels", options.channels,
                 "gRPC channels (connections) shared by the client threads")
      ->capture_default_str();
  app.add_option("--threads", options.threads,
                 "inference threads of the in-process server (0 = every core)")
      ->capture_default_str();
  app.add_option("--max-batch-size", options.max_batch_size,
                 "batching.max_batch_size of the in-process server")
      ->capture_default_str();
  app.add_option("--max-delay-ms", options.max_delay_ms,
                 "batching.max_delay_ms of the in-process servers")
      ->capture_default_str();
  app.add_option("--device", options.device, "auto | cpu | cuda (in-process server)")
      ->capture_default_str();
  app.add_option("--k", options.k, "recommendations per Recommend call")->capture_default_str();
  app.add_option("--call-timeout-seconds", options.call_timeout_seconds, "deadline of each call")
      ->capture_default_str();
  app.add_flag("--json", options.json, "print one JSON object instead of tables");
  CLI11_PARSE(app, argc, argv);

  options.concurrency.clear();
  for (absl::string_view part : absl::StrSplit(concurrency, ',', absl::SkipWhitespace())) {
    int value = 0;
    if (!absl::SimpleAtoi(part, &value)) {
      std::fprintf(stderr, "mmbench: --concurrency: '%s' is not a number\n",
                   std::string(part).c_str());
      return 2;
    }
    options.concurrency.push_back(value);
  }
  if (const absl::Status s = options.Validate(); !s.ok()) {
    std::fprintf(stderr, "mmbench: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  matalign::bench::WatchSignals();
  if (const absl::Status s = matalign::bench::Run(options); !s.ok()) {
    std::fprintf(stderr, "mmbench: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
