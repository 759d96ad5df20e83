#include "server/work_pool.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace matalign::server {

WorkPool::WorkPool(int threads, int max_queue) : max_queue_(std::max(1, max_queue)) {
  try {
    absl::MutexLock join_lock(&join_mu_);
    for (int i = 0; i < std::max(1, threads); ++i) threads_.emplace_back([this] { Work(); });
  } catch (...) {
    Shutdown();  // Joins the workers that did start: a joinable std::thread would terminate.
    throw;
  }
}

WorkPool::~WorkPool() { Shutdown(); }

absl::Status WorkPool::Submit(std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (static_cast<int>(queue_.size()) >= max_queue_) {
    return absl::ResourceExhaustedError(absl::StrCat("the server is overloaded (", queue_.size(),
                                                     " requests queued); retry with backoff"));
  }
  queue_.push_back(std::move(fn));
  return absl::OkStatus();
}

void WorkPool::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock join_lock(&join_mu_);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

int64_t WorkPool::queue_depth() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(queue_.size());
}

int64_t WorkPool::busy() const {
  absl::MutexLock lock(&mu_);
  return busy_;
}

void WorkPool::Work() {
  for (;;) {
    std::function<void()> fn;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping and drained
      fn = std::move(queue_.front());
      queue_.pop_front();
      ++busy_;
    }
    fn();
    absl::MutexLock lock(&mu_);
    --busy_;
  }
}

}  // namespace matalign::server
