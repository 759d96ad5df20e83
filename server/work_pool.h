// WorkPool: a fixed set of threads running submitted closures from a bounded queue. The
// gRPC callback handlers must not block, so each RPC's work (parsing, waiting on the
// encoder batchers, searching) runs here; the pool is large because most of its threads
// wait on a batch, and bounded so that overload is answered RESOURCE_EXHAUSTED instead of
// growing memory.
#ifndef MATALIGN_SERVER_WORK_POOL_H_
#define MATALIGN_SERVER_WORK_POOL_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace matalign::server {

// Thread-safety: every method may be called concurrently from any number of threads,
// including from a running closure (except Shutdown/the destructor, which would wait for
// that closure). A closure must not throw: an exception ends the process.
class WorkPool {
 public:
  // Starts `threads` workers (fewer than 1 counts as 1); at most `max_queue` closures wait
  // (fewer than 1 counts as 1). Throws std::system_error if a thread cannot be started.
  WorkPool(int threads, int max_queue);
  // Same as Shutdown().
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `fn` to run once on a worker. ResourceExhausted when max_queue closures wait,
  // Unavailable after Shutdown has begun; `fn` is not run then.
  absl::Status Submit(std::function<void()> fn);
  // Stops accepting, runs what is queued and joins the workers. Idempotent; concurrent calls
  // all return only after the workers are joined.
  void Shutdown();

  // Closures waiting for a worker now.
  int64_t queue_depth() const;
  // Closures running now.
  int64_t busy() const;

 private:
  void Work();

  const int max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t busy_ ABSL_GUARDED_BY(mu_) = 0;
  // Held while joining the workers, so that concurrent Shutdowns all wait for them.
  absl::Mutex join_mu_;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(join_mu_);
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_WORK_POOL_H_
