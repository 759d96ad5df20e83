#include "server/batcher.h"

#include <atomic>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::server {
namespace {

using IntBatcher = Batcher<int, int>;
using Results = std::vector<absl::StatusOr<int>>;

// Guards against a hang: the tests wait for events, never for time, but a broken batcher
// should fail the test rather than stall ctest.
constexpr absl::Duration kHangGuard = absl::Seconds(60);

Results Squares(const std::vector<int>& batch) {
  Results out;
  for (int x : batch) out.push_back(x * x);
  return out;
}

// A batch function for tests: computes `compute` (default: squares), records every batch it
// is called with, and, when gated, blocks its first call until Release() so that requests
// pile up in the queue behind a busy worker.
class FakeModel {
 public:
  using Compute = std::function<absl::StatusOr<Results>(std::vector<int>&)>;

  explicit FakeModel(bool gate_first_call = false, Compute compute = nullptr)
      : gated_(gate_first_call), compute_(std::move(compute)) {}

  IntBatcher::BatchFn fn() {
    return [this](std::vector<int>& batch) -> absl::StatusOr<Results> {
      bool block = false;
      {
        absl::MutexLock lock(&mu_);
        batches_.push_back(batch);
        block = gated_ && batches_.size() == 1;
      }
      if (block) {
        blocked_.Notify();
        // Bounded so that a test failing before Release() ends instead of hanging.
        release_.WaitForNotificationWithTimeout(kHangGuard);
      }
      if (compute_) return compute_(batch);
      return Squares(batch);
    };
  }

  // Waits until the gated first call has started.
  void WaitUntilBlocked() { blocked_.WaitForNotification(); }
  // Lets the gated first call finish.
  void Release() { release_.Notify(); }

  std::vector<std::vector<int>> batches() const {
    absl::MutexLock lock(&mu_);
    return batches_;
  }
  // Whether `x` was ever part of a batch.
  bool Saw(int x) const {
    absl::MutexLock lock(&mu_);
    for (const auto& b : batches_) {
      for (int y : b) {
        if (y == x) return true;
      }
    }
    return false;
  }

 private:
  const bool gated_;
  const Compute compute_;
  mutable absl::Mutex mu_;
  std::vector<std::vector<int>> batches_ ABSL_GUARDED_BY(mu_);
  absl::Notification blocked_;
  absl::Notification release_;
};

// Collects the results of Submit calls by request id and counts how often each `done` ran.
class Collector {
 public:
  IntBatcher::DoneFn Done(int id) {
    return [this, id](absl::StatusOr<int> r) {
      absl::MutexLock lock(&mu_);
      results_[id].push_back(std::move(r));
      ++calls_;
    };
  }

  // Waits until `n` done callbacks have run; false if that takes longer than kHangGuard.
  // Called by one thread at a time.
  bool WaitFor(int n) {
    absl::MutexLock lock(&mu_);
    target_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(this, &Collector::ReachedTarget), kHangGuard);
  }

  int calls() const {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // How many times request `id`'s done ran.
  int CallsOf(int id) const {
    absl::MutexLock lock(&mu_);
    auto it = results_.find(id);
    return it == results_.end() ? 0 : static_cast<int>(it->second.size());
  }
  // The (first) result of request `id`; Unknown if there is none.
  absl::StatusOr<int> ResultOf(int id) const {
    absl::MutexLock lock(&mu_);
    auto it = results_.find(id);
    if (it == results_.end() || it->second.empty()) return absl::UnknownError("no result");
    return it->second.front();
  }

 private:
  bool ReachedTarget() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_ >= target_; }

  mutable absl::Mutex mu_;
  std::map<int, Results> results_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int target_ ABSL_GUARDED_BY(mu_) = 0;  // For WaitFor; one waiter at a time.
};

BatcherOptions Options(int max_batch_size, absl::Duration max_delay, int workers = 1,
                       int max_queue = 1024) {
  BatcherOptions o;
  o.max_batch_size = max_batch_size;
  o.max_delay = max_delay;
  o.workers = workers;
  o.max_queue = max_queue;
  return o;
}

// Runs `f` (which may block on the batcher, e.g. Shutdown) on a thread and waits for it to
// return. If it is still running after kHangGuard, the test fails and the process aborts:
// the thread could never be joined.
void RunWithHangGuard(const std::function<void()>& f) {
  absl::Notification returned;
  std::thread t([&] {
    f();
    returned.Notify();
  });
  if (!returned.WaitForNotificationWithTimeout(kHangGuard)) {
    ADD_FAILURE() << "call did not return within " << kHangGuard;
    std::abort();
  }
  t.join();
}

// Sleeps until the clock has passed `t`. Not synchronisation: it makes a deadline pass.
void WaitUntilPast(absl::Time t) {
  while (absl::Now() <= t) absl::SleepFor(absl::Milliseconds(1));
}

TEST(BatcherOptionsTest, DefaultsAreValid) { EXPECT_OK(BatcherOptions().Validate()); }

TEST(BatcherOptionsTest, RejectsOutOfRangeFields) {
  std::vector<std::pair<std::string, BatcherOptions>> bad;
  BatcherOptions o;
  o.max_batch_size = 0;
  bad.emplace_back("max_batch_size", o);
  o = BatcherOptions();
  o.max_delay = -absl::Milliseconds(1);
  bad.emplace_back("max_delay", o);
  o = BatcherOptions();
  o.max_delay = absl::InfiniteDuration();
  bad.emplace_back("max_delay", o);
  o = BatcherOptions();
  o.max_queue = 0;
  bad.emplace_back("max_queue", o);
  o = BatcherOptions();
  o.max_queue = 8;
  o.max_batch_size = 16;
  bad.emplace_back("max_batch_size", o);
  o = BatcherOptions();
  o.workers = 0;
  bad.emplace_back("workers", o);
  o = BatcherOptions();
  o.workers = 100000;
  bad.emplace_back("workers", o);
  for (const auto& [field, options] : bad) {
    absl::Status s = options.Validate();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_TRUE(absl::StrContains(s.message(), field)) << s;
  }
}

TEST(BatcherTest, CreateRejectsBadOptionsAndMissingFunction) {
  FakeModel model;
  BatcherOptions bad;
  bad.workers = 0;
  auto b = IntBatcher::Create("structure", bad, model.fn());
  EXPECT_EQ(b.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(b.status().message(), "structure")) << b.status();

  auto no_fn = IntBatcher::Create("structure", BatcherOptions(), nullptr);
  EXPECT_EQ(no_fn.status().code(), absl::StatusCode::kInvalidArgument);
}

// (max_batch_size, max_delay in ms, workers)
class BatcherConcurrencyTest : public ::testing::TestWithParam<std::tuple<int, int, int>> {};

TEST_P(BatcherConcurrencyTest, ConcurrentRunsGetTheirOwnResults) {
  const auto [max_batch_size, delay_ms, workers] = GetParam();
  FakeModel model;
  ASSERT_OK_AND_ASSIGN(
      auto batcher,
      IntBatcher::Create("test", Options(max_batch_size, absl::Milliseconds(delay_ms), workers),
                         model.fn()));
  constexpr int kThreads = 8;
  constexpr int kPerThread = 100;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int x = t * kPerThread + i;
        absl::StatusOr<int> r = batcher->Run(x);
        if (!r.ok() || *r != x * x) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);

  // Every input was computed exactly once, in batches no larger than max_batch_size.
  std::vector<int> seen(kThreads * kPerThread, 0);
  for (const auto& b : model.batches()) {
    EXPECT_GE(b.size(), 1u);
    EXPECT_LE(b.size(), static_cast<size_t>(max_batch_size));
    for (int x : b) ++seen[x];
  }
  for (int x = 0; x < kThreads * kPerThread; ++x) EXPECT_EQ(seen[x], 1) << x;

  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.requests, kThreads * kPerThread);
  EXPECT_EQ(stats.batches, static_cast<int64_t>(model.batches().size()));
  ASSERT_EQ(stats.batch_size_histogram.size(), static_cast<size_t>(max_batch_size) + 1);
  int64_t computed = 0;
  for (size_t n = 0; n < stats.batch_size_histogram.size(); ++n) {
    computed += static_cast<int64_t>(n) * stats.batch_size_histogram[n];
  }
  EXPECT_EQ(computed, kThreads * kPerThread);
  EXPECT_EQ(stats.queue_depth, 0);
  EXPECT_EQ(stats.rejected_full + stats.rejected_shutdown + stats.expired + stats.cancelled, 0);
}

INSTANTIATE_TEST_SUITE_P(Configs, BatcherConcurrencyTest,
                         ::testing::Values(std::make_tuple(1, 0, 1), std::make_tuple(4, 1, 1),
                                           std::make_tuple(4, 0, 2), std::make_tuple(16, 2, 3)));

TEST(BatcherTest, FullBatchesFormBehindBusyWorker) {
  FakeModel model(/*gate_first_call=*/true);
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::ZeroDuration()), model.fn()));
  Collector collector;
  batcher->Submit(0, absl::InfiniteFuture(), nullptr, collector.Done(0));
  model.WaitUntilBlocked();
  for (int i = 1; i <= 8; ++i)
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
  EXPECT_EQ(batcher->stats().queue_depth, 8);
  model.Release();
  ASSERT_TRUE(collector.WaitFor(9));

  const std::vector<std::vector<int>> expected = {{0}, {1, 2, 3, 4}, {5, 6, 7, 8}};
  EXPECT_EQ(model.batches(), expected);
  for (int i = 0; i <= 8; ++i) {
    EXPECT_EQ(collector.CallsOf(i), 1) << i;
    ASSERT_OK_AND_ASSIGN(int r, collector.ResultOf(i));
    EXPECT_EQ(r, i * i);
  }
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.batch_size_histogram, (std::vector<int64_t>{0, 1, 0, 0, 2}));
  EXPECT_EQ(stats.batches, 3);
  EXPECT_EQ(stats.max_queue_depth, 8);
}

TEST(BatcherTest, FullBatchRunsWithoutWaitingForMaxDelay) {
  // With an hour of max_delay, only reaching max_batch_size can start the batch.
  FakeModel model;
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::Hours(1)), model.fn()));
  Collector collector;
  for (int i = 0; i < 4; ++i)
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
  ASSERT_TRUE(collector.WaitFor(4));
  EXPECT_EQ(model.batches(), (std::vector<std::vector<int>>{{0, 1, 2, 3}}));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(collector.ResultOf(i).value_or(-1), i * i);
}

TEST(BatcherTest, SingleRequestRunsAfterMaxDelay) {
  FakeModel model;
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(8, absl::Milliseconds(1)), model.fn()));
  Collector collector;
  batcher->Submit(5, absl::InfiniteFuture(), nullptr, collector.Done(5));
  ASSERT_TRUE(collector.WaitFor(1));
  EXPECT_EQ(collector.ResultOf(5).value_or(-1), 25);
  EXPECT_EQ(batcher->stats().batch_size_histogram[1], 1);
}

TEST(BatcherTest, FullQueueRejectsInlineWithResourceExhausted) {
  FakeModel model(/*gate_first_call=*/true);
  ASSERT_OK_AND_ASSIGN(
      auto batcher,
      IntBatcher::Create("structure", Options(1, absl::ZeroDuration(), 1, 3), model.fn()));
  Collector collector;
  batcher->Submit(0, absl::InfiniteFuture(), nullptr, collector.Done(0));
  model.WaitUntilBlocked();
  for (int i = 1; i <= 3; ++i)
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
  EXPECT_EQ(collector.calls(), 0);

  // Every further request is answered before Submit returns, and the queue does not grow.
  for (int i = 4; i < 104; ++i) {
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
    EXPECT_EQ(collector.CallsOf(i), 1) << i;
    absl::StatusOr<int> r = collector.ResultOf(i);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
    EXPECT_TRUE(absl::StrContains(r.status().message(), "structure")) << r.status();
  }
  BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.queue_depth, 3);
  EXPECT_EQ(stats.max_queue_depth, 3);
  EXPECT_EQ(stats.rejected_full, 100);

  model.Release();
  ASSERT_TRUE(collector.WaitFor(104));
  for (int i = 0; i <= 3; ++i) EXPECT_EQ(collector.ResultOf(i).value_or(-1), i * i) << i;
  for (int i = 4; i < 104; ++i) EXPECT_FALSE(model.Saw(i)) << i;
  // Room again once the queue has drained.
  ASSERT_OK_AND_ASSIGN(int r, batcher->Run(7));
  EXPECT_EQ(r, 49);
  stats = batcher->stats();
  EXPECT_EQ(stats.max_queue_depth, 3);
  EXPECT_EQ(stats.requests, 105);
}

TEST(BatcherTest, PassedDeadlineAtSubmitIsAnsweredInline) {
  FakeModel model;
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::ZeroDuration()), model.fn()));
  Collector collector;
  batcher->Submit(3, absl::Now() - absl::Seconds(1), nullptr, collector.Done(3));
  ASSERT_EQ(collector.CallsOf(3), 1);
  EXPECT_EQ(collector.ResultOf(3).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(batcher->Run(4, absl::InfinitePast()).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(batcher->stats().expired, 2);
  batcher->Shutdown();
  EXPECT_TRUE(model.batches().empty());
}

TEST(BatcherTest, DeadlinePassedInQueueIsNotComputed) {
  FakeModel model(/*gate_first_call=*/true);
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::ZeroDuration()), model.fn()));
  Collector collector;
  batcher->Submit(0, absl::InfiniteFuture(), nullptr, collector.Done(0));
  model.WaitUntilBlocked();
  const absl::Time deadline = absl::Now() + absl::Milliseconds(5);
  batcher->Submit(1, deadline, nullptr, collector.Done(1));
  batcher->Submit(2, absl::InfiniteFuture(), nullptr, collector.Done(2));
  EXPECT_EQ(collector.CallsOf(1), 0);  // Queued, not answered inline.
  WaitUntilPast(deadline);
  model.Release();
  ASSERT_TRUE(collector.WaitFor(3));

  EXPECT_EQ(collector.ResultOf(1).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_FALSE(model.Saw(1));
  EXPECT_EQ(collector.ResultOf(2).value_or(-1), 4);
  EXPECT_EQ(model.batches(), (std::vector<std::vector<int>>{{0}, {2}}));
  EXPECT_EQ(batcher->stats().expired, 1);
}

TEST(BatcherTest, CancelledRequestIsNotComputed) {
  FakeModel model(/*gate_first_call=*/true);
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::ZeroDuration()), model.fn()));
  Collector collector;
  std::atomic<bool> cancelled{false};
  auto is_cancelled = [&cancelled] { return cancelled.load(); };
  batcher->Submit(0, absl::InfiniteFuture(), is_cancelled, collector.Done(0));
  model.WaitUntilBlocked();
  batcher->Submit(1, absl::InfiniteFuture(), is_cancelled, collector.Done(1));
  batcher->Submit(2, absl::InfiniteFuture(), nullptr, collector.Done(2));
  cancelled = true;
  model.Release();
  ASSERT_TRUE(collector.WaitFor(3));

  // Request 0 was already computing when it was cancelled: it finishes normally.
  EXPECT_EQ(collector.ResultOf(0).value_or(-1), 0);
  EXPECT_EQ(collector.ResultOf(1).status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(model.Saw(1));
  EXPECT_EQ(collector.ResultOf(2).value_or(-1), 4);
  EXPECT_EQ(batcher->stats().cancelled, 1);
}

TEST(BatcherTest, AllRequestsOfABatchCancelledCallsNothing) {
  FakeModel model(/*gate_first_call=*/true);
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::ZeroDuration()), model.fn()));
  Collector collector;
  batcher->Submit(0, absl::InfiniteFuture(), nullptr, collector.Done(0));
  model.WaitUntilBlocked();
  for (int i = 1; i <= 3; ++i) {
    batcher->Submit(
        i, absl::InfiniteFuture(), [] { return true; }, collector.Done(i));
  }
  model.Release();
  ASSERT_TRUE(collector.WaitFor(4));
  EXPECT_EQ(model.batches().size(), 1u);
  const BatcherStats stats = batcher->stats();
  EXPECT_EQ(stats.batches, 1);
  EXPECT_EQ(stats.cancelled, 3);
}

// Runs inputs 1..3 as one batch (queued behind gated input 0) and returns the collector.
void RunOneBatchOfThree(FakeModel* model, Collector* collector) {
  auto created = IntBatcher::Create("encoder", Options(4, absl::ZeroDuration()), model->fn());
  ASSERT_OK(created);
  std::unique_ptr<IntBatcher> batcher = std::move(created).value();
  batcher->Submit(0, absl::InfiniteFuture(), nullptr, collector->Done(0));
  model->WaitUntilBlocked();
  for (int i = 1; i <= 3; ++i) {
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector->Done(i));
  }
  model->Release();
  ASSERT_TRUE(collector->WaitFor(4));
  ASSERT_EQ(model->batches().size(), 2u);
  ASSERT_EQ(model->batches()[1], (std::vector<int>{1, 2, 3}));
}

TEST(BatcherTest, PerItemErrorsReachTheirOwnCallers) {
  FakeModel model(/*gate_first_call=*/true, [](std::vector<int>& batch) -> absl::StatusOr<Results> {
    Results out;
    for (int x : batch) {
      if (x % 2 == 1) {
        out.push_back(absl::InvalidArgumentError(absl::StrCat("odd input ", x)));
      } else {
        out.push_back(x * 10);
      }
    }
    return out;
  });
  Collector collector;
  RunOneBatchOfThree(&model, &collector);
  EXPECT_EQ(collector.ResultOf(0).value_or(-1), 0);
  EXPECT_EQ(collector.ResultOf(1).status(), absl::InvalidArgumentError("odd input 1"));
  EXPECT_EQ(collector.ResultOf(2).value_or(-1), 20);
  EXPECT_EQ(collector.ResultOf(3).status(), absl::InvalidArgumentError("odd input 3"));
}

TEST(BatcherTest, WholeBatchErrorReachesEveryCallerOfThatBatch) {
  FakeModel model(/*gate_first_call=*/true, [](std::vector<int>& batch) -> absl::StatusOr<Results> {
    if (batch.size() > 1) return absl::UnavailableError("model not loaded");
    return Squares(batch);
  });
  Collector collector;
  RunOneBatchOfThree(&model, &collector);
  EXPECT_EQ(collector.ResultOf(0).value_or(-1), 0);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(collector.ResultOf(i).status(), absl::UnavailableError("model not loaded")) << i;
    EXPECT_EQ(collector.CallsOf(i), 1);
  }
}

TEST(BatcherTest, ThrowingFunctionBecomesInternalForTheBatch) {
  FakeModel model(/*gate_first_call=*/true, [](std::vector<int>& batch) -> absl::StatusOr<Results> {
    if (batch.size() > 1) throw std::runtime_error("tensor shape mismatch");
    return Squares(batch);
  });
  Collector collector;
  RunOneBatchOfThree(&model, &collector);
  EXPECT_EQ(collector.ResultOf(0).value_or(-1), 0);
  for (int i = 1; i <= 3; ++i) {
    absl::Status s = collector.ResultOf(i).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "tensor shape mismatch")) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "encoder")) << s;
  }
}

TEST(BatcherTest, NonStdExceptionBecomesInternalAndWorkerSurvives) {
  std::atomic<bool> throw_next{true};
  FakeModel model(false, [&throw_next](std::vector<int>& batch) -> absl::StatusOr<Results> {
    if (throw_next.exchange(false)) throw 42;
    return Squares(batch);
  });
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(1, absl::ZeroDuration()), model.fn()));
  EXPECT_EQ(batcher->Run(2).status().code(), absl::StatusCode::kInternal);
  ASSERT_OK_AND_ASSIGN(int r, batcher->Run(3));
  EXPECT_EQ(r, 9);
}

TEST(BatcherTest, WrongNumberOfResultsBecomesInternalForTheBatch) {
  FakeModel model(/*gate_first_call=*/true, [](std::vector<int>& batch) -> absl::StatusOr<Results> {
    Results out = Squares(batch);
    if (batch.size() > 1) out.pop_back();
    return out;
  });
  Collector collector;
  RunOneBatchOfThree(&model, &collector);
  EXPECT_EQ(collector.ResultOf(0).value_or(-1), 0);
  for (int i = 1; i <= 3; ++i) {
    absl::Status s = collector.ResultOf(i).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "2 results for 3 inputs")) << s;
  }
}

TEST(BatcherTest, ShutdownRunsQueuedRequestsWithoutWaitingForMaxDelay) {
  // Three requests cannot fill a batch of 8 and max_delay is an hour: only Shutdown's drain
  // can run them.
  FakeModel model;
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(8, absl::Hours(1)), model.fn()));
  Collector collector;
  for (int i = 1; i <= 3; ++i)
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
  RunWithHangGuard([&] { batcher->Shutdown(); });
  EXPECT_EQ(collector.calls(), 3);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(collector.CallsOf(i), 1);
    EXPECT_EQ(collector.ResultOf(i).value_or(-1), i * i);
  }

  batcher->Submit(9, absl::InfiniteFuture(), nullptr, collector.Done(9));
  ASSERT_EQ(collector.CallsOf(9), 1);  // Inline.
  EXPECT_EQ(collector.ResultOf(9).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(batcher->Run(10).status().code(), absl::StatusCode::kUnavailable);
  batcher->Shutdown();  // Idempotent.
  EXPECT_EQ(batcher->stats().rejected_shutdown, 2);
  EXPECT_FALSE(model.Saw(9));
}

TEST(BatcherTest, ShutdownDrainsBehindBusyWorkers) {
  FakeModel model(/*gate_first_call=*/true);
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(3, absl::ZeroDuration()), model.fn()));
  Collector collector;
  batcher->Submit(0, absl::InfiniteFuture(), nullptr, collector.Done(0));
  model.WaitUntilBlocked();
  for (int i = 1; i <= 10; ++i) {
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
  }
  std::thread releaser([&] { model.Release(); });
  RunWithHangGuard([&] { batcher->Shutdown(); });
  releaser.join();
  EXPECT_EQ(collector.calls(), 11);
  for (int i = 0; i <= 10; ++i) {
    EXPECT_EQ(collector.CallsOf(i), 1) << i;
    EXPECT_EQ(collector.ResultOf(i).value_or(-1), i * i) << i;
  }
}

TEST(BatcherTest, DestructorAnswersQueuedRequests) {
  FakeModel model;
  Collector collector;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<IntBatcher> batcher,
                       IntBatcher::Create("test", Options(8, absl::Hours(1)), model.fn()));
  for (int i = 0; i < 5; ++i)
    batcher->Submit(i, absl::InfiniteFuture(), nullptr, collector.Done(i));
  RunWithHangGuard([&] { batcher.reset(); });
  EXPECT_EQ(collector.calls(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(collector.ResultOf(i).value_or(-1), i * i);
}

TEST(BatcherTest, DoneCallbackMaySubmitAgain) {
  FakeModel model;
  ASSERT_OK_AND_ASSIGN(auto batcher,
                       IntBatcher::Create("test", Options(4, absl::ZeroDuration()), model.fn()));
  Collector collector;
  batcher->Submit(3, absl::InfiniteFuture(), nullptr, [&](absl::StatusOr<int> r) {
    ASSERT_TRUE(r.ok()) << r.status();
    batcher->Submit(*r, absl::InfiniteFuture(), nullptr, collector.Done(*r));
  });
  ASSERT_TRUE(collector.WaitFor(1));
  EXPECT_EQ(collector.ResultOf(9).value_or(-1), 81);
}

TEST(BatcherTest, MoveOnlyInputs) {
  using PtrBatcher = Batcher<std::unique_ptr<int>, std::string>;
  ASSERT_OK_AND_ASSIGN(
      auto batcher,
      PtrBatcher::Create(
          "test", Options(4, absl::ZeroDuration()), [](std::vector<std::unique_ptr<int>>& batch) {
            std::vector<absl::StatusOr<std::string>> out;
            for (const auto& p : batch) out.push_back(std::to_string(*p));
            return absl::StatusOr<std::vector<absl::StatusOr<std::string>>>(std::move(out));
          }));
  ASSERT_OK_AND_ASSIGN(std::string r, batcher->Run(std::make_unique<int>(17)));
  EXPECT_EQ(r, "17");
}

}  // namespace
}  // namespace matalign::server
