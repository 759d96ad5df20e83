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

class WorkPool {
 public:
  // Starts `threads` (>= 1) workers; at most `max_queue` (>= 1) closures wait.
  WorkPool(int threads, int max_queue);
  // Runs what is queued, then joins the workers.
  ~WorkPool();
  WorkPool(const WorkPool&) = delete;
  WorkPool& operator=(const WorkPool&) = delete;

  // Queues `fn`. ResourceExhausted when max_queue closures wait, Unavailable after
  // Shutdown; `fn` is not run then.
  absl::Status Submit(std::function<void()> fn);
  // Stops accepting, runs what is queued and joins the workers. Idempotent.
  void Shutdown();

  int64_t queue_depth() const;
  int64_t busy() const;

 private:
  void Work();

  const int max_queue_;
  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int64_t busy_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_WORK_POOL_H_
