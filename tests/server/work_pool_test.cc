// WorkPool: every accepted closure runs once, a full queue and a stopped pool refuse without
// running the closure, and Shutdown (also several at once) returns after the queue drained.
#include "server/work_pool.h"

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "tests/test_util.h"

namespace matalign::server {
namespace {

// A closure that reports when it starts and then waits until released, to hold a worker.
struct Gate {
  absl::Notification started;
  absl::Notification release;
  std::function<void()> Closure() {
    return [this] {
      started.Notify();
      release.WaitForNotification();
    };
  }
};

TEST(WorkPoolTest, RunsEveryAcceptedClosureOnce) {
  std::atomic<int> runs{0};
  std::atomic<int> resubmitted{0};
  {
    WorkPool pool(/*threads=*/3, /*max_queue=*/1000);
    for (int i = 0; i < 200; ++i) ASSERT_OK(pool.Submit([&] { ++runs; }));
    // A running closure may submit more work.
    absl::Notification inner_done;
    ASSERT_OK(pool.Submit([&] {
      EXPECT_OK(pool.Submit([&] {
        ++resubmitted;
        inner_done.Notify();
      }));
    }));
    inner_done.WaitForNotification();
  }  // The destructor drains and joins.
  EXPECT_EQ(runs.load(), 200);
  EXPECT_EQ(resubmitted.load(), 1);
}

TEST(WorkPoolTest, FullQueueIsResourceExhaustedAndDoesNotRun) {
  WorkPool pool(/*threads=*/1, /*max_queue=*/2);
  Gate gate;
  ASSERT_OK(pool.Submit(gate.Closure()));
  gate.started.WaitForNotification();  // The only worker is busy; the queue is empty.
  std::atomic<int> runs{0};
  ASSERT_OK(pool.Submit([&] { ++runs; }));
  ASSERT_OK(pool.Submit([&] { ++runs; }));
  EXPECT_EQ(pool.queue_depth(), 2);
  EXPECT_EQ(pool.busy(), 1);
  bool refused_ran = false;
  const absl::Status full = pool.Submit([&] { refused_ran = true; });
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted) << full;
  gate.release.Notify();
  pool.Shutdown();
  EXPECT_EQ(runs.load(), 2);
  EXPECT_FALSE(refused_ran);
  EXPECT_EQ(pool.queue_depth(), 0);
  EXPECT_EQ(pool.busy(), 0);
}

TEST(WorkPoolTest, ShutdownRunsTheQueueThenRefuses) {
  WorkPool pool(/*threads=*/1, /*max_queue=*/10);
  Gate gate;
  ASSERT_OK(pool.Submit(gate.Closure()));
  gate.started.WaitForNotification();
  std::atomic<int> runs{0};
  for (int i = 0; i < 3; ++i) ASSERT_OK(pool.Submit([&] { ++runs; }));
  gate.release.Notify();
  pool.Shutdown();
  EXPECT_EQ(runs.load(), 3);
  bool late_ran = false;
  EXPECT_EQ(pool.Submit([&] { late_ran = true; }).code(), absl::StatusCode::kUnavailable);
  pool.Shutdown();  // Idempotent.
  EXPECT_FALSE(late_ran);
}

TEST(WorkPoolTest, ConcurrentShutdownsAllWaitForTheQueue) {
  WorkPool pool(/*threads=*/2, /*max_queue=*/10);
  Gate gate;
  ASSERT_OK(pool.Submit(gate.Closure()));
  gate.started.WaitForNotification();
  std::atomic<bool> queued_ran{false};
  ASSERT_OK(pool.Submit([&] {
    // Runs on the second worker; finishes only once the first one is released too.
    gate.release.WaitForNotification();
    queued_ran = true;
  }));
  constexpr int kCallers = 4;
  std::vector<std::thread> callers;
  std::atomic<int> returned_after_drain{0};
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      pool.Shutdown();
      if (queued_ran.load()) ++returned_after_drain;
    });
  }
  gate.release.Notify();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(returned_after_drain.load(), kCallers);
}

}  // namespace
}  // namespace matalign::server
