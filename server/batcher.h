// Dynamic batching for mmserver: single requests queue up and are handed to a batch function
// (one encoder forward pass) in groups of up to `max_batch_size`, waiting at most `max_delay`
// for company (Triton's dynamic batcher, TensorFlow Serving's BasicBatchScheduler).
//
// The queue is bounded: a request that finds `max_queue` requests waiting is answered
// ResourceExhausted at once, so a burst never grows memory without limit. A request whose
// deadline has passed, or whose call was cancelled, by the time it would enter a batch is
// answered DeadlineExceeded / Cancelled and never computed.
//
// Usage (one batcher per encoder):
//
//   auto batcher = Batcher<Graph, Embedding>::Create("structure", options,
//       [&](std::vector<Graph>& graphs) { return encoder.EmbedBatch(graphs); });
//   batcher->Submit(std::move(graph), rpc_deadline, [ctx] { return ctx->IsCancelled(); },
//                   [reactor](absl::StatusOr<Embedding> e) { reactor->Finish(...); });
//
// This header needs only abseil and the standard library (no LibTorch, no gRPC): the server
// instantiates Batcher<In, Out> with its encoder's input and output types.
#ifndef MATALIGN_SERVER_BATCHER_H_
#define MATALIGN_SERVER_BATCHER_H_

#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace matalign::server {

struct BatcherOptions {
  // The most requests handed to the batch function in one call; at least 1 and at most
  // max_queue. Default: 32.
  int max_batch_size = 32;
  // How long the oldest waiting request may wait for others to join its batch before the
  // batch runs anyway; zero runs whatever is queued as soon as a worker is free. Must be
  // finite and not negative. Default: 2 ms.
  absl::Duration max_delay = absl::Milliseconds(2);
  // The most requests waiting (queued, not yet in a running batch); a request beyond that
  // is answered ResourceExhausted. Default: 1024.
  int max_queue = 1024;
  // Threads running batches concurrently, 1 to 256. Default: 1.
  int workers = 1;

  // Returns InvalidArgument naming the first field out of range.
  absl::Status Validate() const;
};

// Counters of a Batcher since it was created, for logs and Prometheus metrics.
struct BatcherStats {
  // Submit calls, whatever their outcome.
  int64_t requests = 0;
  // Calls of the batch function.
  int64_t batches = 0;
  // Requests answered ResourceExhausted because the queue was full.
  int64_t rejected_full = 0;
  // Requests answered Unavailable because the batcher was shut down.
  int64_t rejected_shutdown = 0;
  // Requests answered DeadlineExceeded without being computed.
  int64_t expired = 0;
  // Requests answered Cancelled without being computed.
  int64_t cancelled = 0;
  // Requests waiting now.
  int64_t queue_depth = 0;
  // The largest queue_depth seen (never above max_queue).
  int64_t max_queue_depth = 0;
  // batch_size_histogram[n]: how many calls of the batch function got n requests;
  // size max_batch_size + 1 (index 0 stays 0).
  std::vector<int64_t> batch_size_histogram;
};

// Batches requests of type `In` into calls of a batch function that computes one result of
// type `Out` per input. `In` and `Out` must be movable.
//
// Thread-safety: Submit, Run and stats may be called concurrently from any number of
// threads. The batch function runs on the worker threads, up to `workers` calls at once, and
// each `done` callback runs on a worker thread (or inline in Submit, see there) without any
// lock of the batcher held, so a callback may Submit again. The batch function, `done` and
// `cancelled` must not throw (an exception from the batch function is caught and answered
// Internal, but one from `done` or `cancelled` would end the process); the batch function and
// `done` must not call Run or Shutdown/the destructor of the same batcher (they would wait
// for themselves).
template <typename In, typename Out>
class Batcher {
 public:
  // Computes the results of one batch: `batch` holds 1 to max_batch_size inputs in arrival
  // order (the function may move from them). Returns one result per input, in the same
  // order, each a value or that input's error; or an error for the whole batch, which every
  // request of the batch receives.
  using BatchFn =
      std::function<absl::StatusOr<std::vector<absl::StatusOr<Out>>>(std::vector<In>& batch)>;
  // Receives the result of one request; called exactly once per Submit.
  using DoneFn = std::function<void(absl::StatusOr<Out>)>;
  // Returns true once the caller no longer wants the result (e.g. the RPC was cancelled).
  using CancelledFn = std::function<bool()>;

  // Starts `options.workers` worker threads that call `fn`. `name` (e.g. the encoder's
  // modality) appears in the messages of the errors the batcher itself produces.
  // Errors: InvalidArgument for bad options or an empty `fn`; Internal if a thread cannot be
  // started.
  static absl::StatusOr<std::unique_ptr<Batcher>> Create(std::string name, BatcherOptions options,
                                                         BatchFn fn) {
    absl::Status valid = options.Validate();
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("batcher '", name, "': ", valid.message()));
    }
    if (!fn) {
      return absl::InvalidArgumentError(
          absl::StrCat("batcher '", name, "': no batch function given"));
    }
    std::unique_ptr<Batcher> batcher(new Batcher(std::move(name), options, std::move(fn)));
    absl::Status started = batcher->StartWorkers();
    if (!started.ok()) return started;  // ~Batcher joins the workers that did start.
    return batcher;
  }

  // Same as Shutdown(): stops accepting, answers every queued request, joins the workers.
  ~Batcher() { Shutdown(); }

  Batcher(const Batcher&) = delete;
  Batcher& operator=(const Batcher&) = delete;

  // Enqueues one request; `done` is later called exactly once with its result.
  //
  // `done` runs on a worker thread, except that it runs inline, before Submit returns, with
  //   ResourceExhausted when max_queue requests are already waiting,
  //   Unavailable after Shutdown has begun,
  //   DeadlineExceeded when `deadline` has already passed.
  // When the request would enter a batch, it is answered DeadlineExceeded if `deadline` has
  // passed by then, or Cancelled if `cancelled` (may be empty: never cancelled) returns true;
  // either way the batch function never sees its input. Otherwise `done` receives the
  // request's entry of the batch function's results, the whole-batch error, or Internal if
  // the function threw or returned the wrong number of results.
  void Submit(In in, absl::Time deadline, CancelledFn cancelled, DoneFn done) {
    const absl::Time now = absl::Now();
    absl::Status rejected;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.requests;
      if (stopping_) {
        ++stats_.rejected_shutdown;
        rejected = absl::UnavailableError(absl::StrCat("batcher '", name_, "' is shut down"));
      } else if (deadline <= now) {
        ++stats_.expired;
        rejected = absl::DeadlineExceededError(
            absl::StrCat("batcher '", name_, "': deadline passed before the request was queued"));
      } else if (queue_.size() >= static_cast<size_t>(options_.max_queue)) {
        ++stats_.rejected_full;
        rejected = absl::ResourceExhaustedError(absl::StrCat(
            "batcher '", name_, "': queue full (", options_.max_queue, " requests waiting)"));
      } else {
        queue_.push_back(
            Request{std::move(in), now, deadline, std::move(cancelled), std::move(done)});
        const int64_t depth = static_cast<int64_t>(queue_.size());
        if (depth > stats_.max_queue_depth) stats_.max_queue_depth = depth;
        return;
      }
    }
    done(std::move(rejected));
  }

  // Submit without cancellation, waiting for the result. Must not be called from the batch
  // function or a `done` callback of this batcher.
  absl::StatusOr<Out> Run(In in, absl::Time deadline = absl::InfiniteFuture()) {
    absl::Notification finished;
    absl::StatusOr<Out> result = absl::UnknownError("no result");
    Submit(std::move(in), deadline, nullptr, [&](absl::StatusOr<Out> r) {
      result = std::move(r);
      finished.Notify();
    });
    finished.WaitForNotification();
    return result;
  }

  // Stops accepting requests (later Submits are answered Unavailable), runs every queued
  // request without waiting for max_delay, and returns once every worker has finished, i.e.
  // after every accepted request's `done` has returned. Idempotent; concurrent calls all
  // return only after the workers are joined.
  void Shutdown() {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    absl::MutexLock join_lock(&join_mu_);
    for (std::thread& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
  }

  // A snapshot of the counters.
  BatcherStats stats() const {
    absl::MutexLock lock(&mu_);
    BatcherStats s = stats_;
    s.queue_depth = static_cast<int64_t>(queue_.size());
    return s;
  }

  // The name given to Create.
  const std::string& name() const { return name_; }
  // The options given to Create.
  const BatcherOptions& options() const { return options_; }

 private:
  struct Request {
    In in;
    absl::Time enqueued;
    absl::Time deadline;
    CancelledFn cancelled;
    DoneFn done;
  };

  Batcher(std::string name, const BatcherOptions& options, BatchFn fn)
      : name_(std::move(name)), options_(options), fn_(std::move(fn)) {
    stats_.batch_size_histogram.assign(static_cast<size_t>(options_.max_batch_size) + 1, 0);
  }

  absl::Status StartWorkers() {
    absl::MutexLock join_lock(&join_mu_);
    try {
      for (int i = 0; i < options_.workers; ++i) {
        workers_.emplace_back([this] { WorkerLoop(); });
      }
    } catch (const std::system_error& e) {
      return absl::InternalError(absl::StrCat("batcher '", name_, "': cannot start worker ",
                                              workers_.size() + 1, ": ", e.what()));
    }
    return absl::OkStatus();
  }

  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }
  bool BatchFullOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_.size() >= static_cast<size_t>(options_.max_batch_size) || stopping_;
  }

  // Takes the next batch off the queue, waiting until max_batch_size requests are queued,
  // the oldest has waited max_delay, or the batcher is stopping. Requests whose deadline has
  // passed go to `expired` instead and do not count toward the batch. Returns false when the
  // batcher is stopping and the queue is empty.
  bool NextBatch(std::vector<Request>* batch, std::vector<Request>* expired) {
    absl::MutexLock lock(&mu_);
    for (;;) {
      mu_.Await(absl::Condition(this, &Batcher::HasWorkOrStopping));
      if (queue_.empty()) return false;  // Stopping, and drained.
      const absl::Time flush_at = queue_.front().enqueued + options_.max_delay;
      if (!BatchFullOrStopping() && absl::Now() < flush_at) {
        // Another worker may take these requests meanwhile: look again after waking.
        mu_.AwaitWithDeadline(absl::Condition(this, &Batcher::BatchFullOrStopping), flush_at);
        continue;
      }
      const absl::Time now = absl::Now();
      while (!queue_.empty() && batch->size() < static_cast<size_t>(options_.max_batch_size)) {
        if (queue_.front().deadline <= now) {
          expired->push_back(std::move(queue_.front()));
        } else {
          batch->push_back(std::move(queue_.front()));
        }
        queue_.pop_front();
      }
      stats_.expired += static_cast<int64_t>(expired->size());
      return true;
    }
  }

  void WorkerLoop() {
    std::vector<Request> batch;
    std::vector<Request> expired;
    while (NextBatch(&batch, &expired)) {
      for (Request& r : expired) {
        r.done(absl::DeadlineExceededError(
            absl::StrCat("batcher '", name_, "': deadline passed while the request was queued")));
      }
      RunBatch(batch);
      batch.clear();
      expired.clear();
    }
  }

  // Answers cancelled requests, calls fn_ on the rest and hands each its result.
  void RunBatch(std::vector<Request>& batch) {
    std::vector<Request> live;
    std::vector<Request> cancelled;
    live.reserve(batch.size());
    for (Request& r : batch) {
      if (r.cancelled && r.cancelled()) {
        cancelled.push_back(std::move(r));
      } else {
        live.push_back(std::move(r));
      }
    }
    {
      // Counted before any `done` runs, so a caller that got its answer sees it counted.
      absl::MutexLock lock(&mu_);
      stats_.cancelled += static_cast<int64_t>(cancelled.size());
      if (!live.empty()) {
        ++stats_.batches;
        ++stats_.batch_size_histogram[live.size()];
      }
    }
    for (Request& r : cancelled) {
      r.done(absl::CancelledError(
          absl::StrCat("batcher '", name_, "': call cancelled while the request was queued")));
    }
    if (live.empty()) return;

    std::vector<In> inputs;
    inputs.reserve(live.size());
    for (Request& r : live) inputs.push_back(std::move(r.in));
    absl::StatusOr<std::vector<absl::StatusOr<Out>>> results = CallFn(inputs);
    if (results.ok() && results->size() != live.size()) {
      results = absl::InternalError(absl::StrCat("batcher '", name_, "': batch function returned ",
                                                 results->size(), " results for ", live.size(),
                                                 " inputs"));
    }
    if (!results.ok()) {
      for (Request& r : live) r.done(results.status());
      return;
    }
    for (size_t i = 0; i < live.size(); ++i) live[i].done(std::move((*results)[i]));
  }

  // fn_ with exceptions turned into Internal.
  absl::StatusOr<std::vector<absl::StatusOr<Out>>> CallFn(std::vector<In>& inputs) {
    try {
      return fn_(inputs);
    } catch (const std::exception& e) {
      return absl::InternalError(
          absl::StrCat("batcher '", name_, "': batch function threw: ", e.what()));
    } catch (...) {
      return absl::InternalError(
          absl::StrCat("batcher '", name_, "': batch function threw a non-std exception"));
    }
  }

  const std::string name_;
  const BatcherOptions options_;
  const BatchFn fn_;

  mutable absl::Mutex mu_;
  std::deque<Request> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  BatcherStats stats_ ABSL_GUARDED_BY(mu_);

  // Held while starting or joining the workers, so that concurrent Shutdowns all wait.
  absl::Mutex join_mu_;
  std::vector<std::thread> workers_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_BATCHER_H_
