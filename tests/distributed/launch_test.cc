#include "distributed/launch.h"

#include <ATen/ATen.h>
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <filesystem>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "gtest/gtest.h"
#include "tests/distributed/worker_util.h"
#include "tests/test_util.h"

namespace matalign::distributed {
namespace {

using ::matalign::testing::TempDir;

// True if `status`'s message contains `text`.
bool Mentions(const absl::Status& status, const std::string& text) {
  return status.message().find(text) != absl::string_view::npos;
}

// True once `pid` no longer exists: the launcher has reaped it.
bool ProcessGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

LaunchOptions WorkerOptions(const TempDir& dir, int world_size, const std::string& scenario) {
  LaunchOptions options;
  options.world_size = world_size;
  options.child_argv = {testing::WorkerPath(), "--world-size", std::to_string(world_size),
                        "--scenario", scenario};
  options.rendezvous_dir = dir.path();
  return options;
}

TEST(LaunchOptionsTest, ValidateRejectsBadFields) {
  LaunchOptions options;
  EXPECT_OK(options.Validate());
  options.world_size = 0;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
  options.world_size = 2;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);  // no child_argv
  options.child_argv = {"/bin/true"};
  EXPECT_OK(options.Validate());
  options.terminate_grace_seconds = -1;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);
}

TEST(LauncherTest, WorldSizeOneStartsNothing) {
  ASSERT_OK_AND_ASSIGN(auto launcher, Launcher::Start(LaunchOptions()));
  EXPECT_EQ(launcher->rendezvous(), "");
  EXPECT_TRUE(launcher->child_pids().empty());
  EXPECT_OK(launcher->Poll());
  EXPECT_OK(launcher->Wait());
}

TEST(LauncherTest, MissingRendezvousDirIsNotFound) {
  TempDir dir;
  LaunchOptions options = WorkerOptions(dir, 2, "ok");
  options.rendezvous_dir = dir.Join("missing");
  EXPECT_EQ(Launcher::Start(options).status().code(), absl::StatusCode::kNotFound);
}

TEST(LauncherTest, MissingProgramIsNotFoundAndNamesTheRank) {
  TempDir dir;
  LaunchOptions options = WorkerOptions(dir, 2, "ok");
  options.child_argv[0] = dir.Join("no-such-program");
  absl::Status status = Launcher::Start(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_TRUE(Mentions(status, "rank 1")) << status;
  EXPECT_TRUE(Mentions(status, "no-such-program")) << status;
}

TEST(LauncherTest, RendezvousIsAFreshFileInTheDirectory) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto first, Launcher::Start(WorkerOptions(dir, 3, "ok")));
  ASSERT_OK_AND_ASSIGN(auto second, Launcher::Start(WorkerOptions(dir, 2, "ok")));
  const std::string prefix = "file:" + dir.path() + "/c10d-store-";
  EXPECT_EQ(first->rendezvous().rfind(prefix, 0), 0u) << first->rendezvous();
  EXPECT_NE(first->rendezvous(), second->rendezvous());
  EXPECT_FALSE(std::filesystem::exists(first->rendezvous().substr(5)));
  EXPECT_EQ(first->child_pids().size(), 2u);
  EXPECT_EQ(second->child_pids().size(), 1u);
  EXPECT_OK(first->Wait());
  EXPECT_OK(second->Wait());
  EXPECT_OK(first->Wait());  // again: same result
}

// Rank 2 fails while rank 1 would wait forever: Wait names rank 2 and terminates rank 1.
TEST(LauncherTest, FailedRankIsNamedAndTheOthersAreTerminated) {
  TempDir dir;
  testing::ReadyPipe ready;
  LaunchOptions options = WorkerOptions(dir, 3, "last_rank_exits_3");
  options.child_argv.insert(options.child_argv.end(),
                            {"--ready-fd", std::to_string(ready.write_fd())});
  ASSERT_OK_AND_ASSIGN(auto launcher, Launcher::Start(options));
  ready.CloseWriteEnd();
  ASSERT_TRUE(ready.WaitReady());  // rank 1 is up and blocking
  const pid_t rank1 = launcher->child_pids()[0];

  absl::Status status = launcher->Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(Mentions(status, "rank 2 exited with status 3")) << status;
  EXPECT_TRUE(ProcessGone(rank1));
  EXPECT_EQ(launcher->Poll(), status);
}

TEST(LauncherTest, KilledRankNamesTheSignal) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto launcher, Launcher::Start(WorkerOptions(dir, 2, "sigkill_self")));
  absl::Status status = launcher->Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(Mentions(status, "rank 1 killed by signal 9")) << status;
}

TEST(LauncherTest, TerminateEscalatesToSigkill) {
  TempDir dir;
  testing::ReadyPipe ready;
  LaunchOptions options = WorkerOptions(dir, 2, "hang_ignoring_term");
  options.child_argv.insert(options.child_argv.end(),
                            {"--ready-fd", std::to_string(ready.write_fd())});
  options.terminate_grace_seconds = 1;
  ASSERT_OK_AND_ASSIGN(auto launcher, Launcher::Start(options));
  ready.CloseWriteEnd();
  ASSERT_TRUE(ready.WaitReady());  // SIGTERM is ignored from here on
  EXPECT_OK(launcher->Poll());     // running, not failed, and Poll does not block
  const pid_t pid = launcher->child_pids()[0];

  launcher->Terminate();
  EXPECT_TRUE(ProcessGone(pid));
  absl::Status status = launcher->Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
  EXPECT_TRUE(Mentions(status, "rank(s) 1 terminated")) << status;
}

TEST(LauncherTest, DestructorTerminatesRunningChildren) {
  TempDir dir;
  testing::ReadyPipe ready;
  LaunchOptions options = WorkerOptions(dir, 2, "hang");
  options.child_argv.insert(options.child_argv.end(),
                            {"--ready-fd", std::to_string(ready.write_fd())});
  ASSERT_OK_AND_ASSIGN(auto launcher, Launcher::Start(options));
  ready.CloseWriteEnd();
  ASSERT_TRUE(ready.WaitReady());
  const pid_t pid = launcher->child_pids()[0];
  EXPECT_FALSE(ProcessGone(pid));
  launcher.reset();
  EXPECT_TRUE(ProcessGone(pid));
}

// A rank that dies mid-job: rank 0 (here) is not left hanging in its collective, and Wait
// names the rank that died.
TEST(LauncherTest, DeadPeerFailsRankZerosCollectiveAndWaitNamesIt) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto launcher, Launcher::Start(WorkerOptions(dir, 2, "exit3_after_join")));
  ProcessGroupOptions options;
  options.world_size = 2;
  options.rendezvous = launcher->rendezvous();
  options.timeout_seconds = 5;  // the bound if the closed connection went unnoticed
  auto group = ProcessGroup::Create(options);
  absl::Status collective = group.status();
  if (group.ok()) {
    // Rank 1 may die before or after the group is formed; either way some call must fail.
    std::vector<at::Tensor> tensors = {at::ones({4})};
    collective = (*group)->AllReduceSum(tensors);
    if (collective.ok()) collective = (*group)->Barrier();
    // After a failure the group refuses further work instead of hanging.
    if (!collective.ok()) {
      EXPECT_EQ((*group)->Barrier().code(), absl::StatusCode::kFailedPrecondition);
    }
  }
  EXPECT_FALSE(collective.ok());
  EXPECT_TRUE(Mentions(collective, "rank 0 of 2")) << collective;
  if (group.ok()) group->reset();  // leave the group before the launcher goes

  absl::Status status = launcher->Wait();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(Mentions(status, "rank 1 exited with status 3")) << status;
}

}  // namespace
}  // namespace matalign::distributed
