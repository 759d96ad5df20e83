// Starts the ranks of a data-parallel job on this machine: the calling process is rank 0 and
// the launcher runs ranks 1..world_size-1 as child processes (fork + execv), all meeting at a
// fresh c10d FileStore.
//
//   LaunchOptions launch;
//   launch.world_size = 2;
//   launch.child_argv = {"/proc/self/exe", "train", "--world-size", "2", ...};
//   MATALIGN_ASSIGN_OR_RETURN(auto launcher, Launcher::Start(launch));
//   ProcessGroupOptions group;  // world_size 2, rank 0, rendezvous = launcher->rendezvous()
//   ... train as rank 0, destroy the ProcessGroup ...
//   MATALIGN_RETURN_IF_ERROR(launcher->Wait());
#ifndef MATALIGN_DISTRIBUTED_LAUNCH_H_
#define MATALIGN_DISTRIBUTED_LAUNCH_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace matalign::distributed {

struct LaunchOptions {
  // Number of ranks including rank 0, the calling process. 1 starts no child.
  // Default: 1
  int world_size = 1;

  // The program every child rank runs and its arguments: child_argv[0] is the executable's
  // path (absolute or relative to the working directory; PATH is not searched). The launcher
  // appends "--rank" "<r>" "--rendezvous" "<spec>" for rank r; everything else the child needs
  // (such as --world-size) must already be in child_argv. Children inherit the environment,
  // the working directory, stdin, stdout and stderr. Required when world_size > 1.
  // Default: {}
  std::vector<std::string> child_argv;

  // Existing directory that holds the rendezvous file; it must be visible to every rank.
  // Default: "" (the system temp directory: $TMPDIR, else /tmp)
  std::string rendezvous_dir;

  // Seconds a child gets between SIGTERM and SIGKILL when the launcher terminates it.
  // Default: 10
  int terminate_grace_seconds = 10;

  // Returns InvalidArgument naming the field when an option is out of range.
  absl::Status Validate() const;
};

// The child ranks of one job.
//
// A child "fails" when it exits with a non-zero status or is killed by a signal it was not
// sent by the launcher. When one child fails the launcher terminates the others (SIGTERM, then
// SIGKILL after terminate_grace_seconds), so a failed rank never leaves the rest hanging in a
// collective. Rank 0 itself notices a failed peer through its ProcessGroup (a closed
// connection at once, a hanging peer after timeout_seconds); Poll() or Wait() then names the
// culprit.
//
// Children get SIGTERM if the thread that called Start exits (prctl PR_SET_PDEATHSIG), so
// call Start from a thread that outlives the job, normally the main thread.
//
// Thread-safety: not thread-safe; use a Launcher from one thread.
class Launcher {
 public:
  // Validates `options`, picks a rendezvous file that does not exist yet
  // (<rendezvous_dir>/c10d-store-<pid>-<random>) and starts ranks 1..world_size-1. Returns
  // InvalidArgument for bad options, NotFound if rendezvous_dir or the program does not
  // exist, and Internal naming the rank and program if a child cannot be started otherwise
  // (the children already started are terminated).
  static absl::StatusOr<std::unique_ptr<Launcher>> Start(const LaunchOptions& options);

  // Terminates children still running (see Terminate) and removes the rendezvous file if
  // it is still there. Destroy the rank-0 ProcessGroup first: its store uses the file.
  ~Launcher();
  Launcher(const Launcher&) = delete;
  Launcher& operator=(const Launcher&) = delete;

  // The rendezvous spec ("file:<path>") rank 0 passes to ProcessGroupOptions in-process;
  // the children receive the same spec. Empty when world_size is 1.
  const std::string& rendezvous() const { return rendezvous_; }

  // Process ids of the children: element i is rank i + 1. For diagnostics; ids of reaped
  // children may be reused by the system.
  std::vector<pid_t> child_pids() const;

  // Blocks until every child has exited. Returns OK if all exited with status 0; otherwise
  // Internal for the first failure seen, e.g. "rank 1 exited with status 3" or
  // "rank 2 killed by signal 9", after terminating the children still running; Aborted if
  // children were terminated by Terminate() before finishing and none failed on its own.
  // Calling it again returns the same result.
  absl::Status Wait();

  // Non-blocking: reaps children that have exited. Returns the error Wait would return if a
  // child has failed (terminating the others), OK while none has.
  absl::Status Poll();

  // Sends SIGTERM to every running child, waits up to terminate_grace_seconds for them to
  // exit, then SIGKILLs and reaps the rest. Does nothing when none is running.
  void Terminate();

 private:
  enum class ChildState {
    kRunning,
    kExited,      // exited on its own; code = exit status
    kSignaled,    // killed by a signal the launcher did not send; code = signal
    kTerminated,  // ended after the launcher signalled it
    kLost,        // reaped by someone else (e.g. SIGCHLD ignored); status unknown
  };
  struct Child {
    int rank = 0;
    pid_t pid = -1;
    ChildState state = ChildState::kRunning;
    int code = 0;
    bool signalled_by_us = false;
  };

  explicit Launcher(LaunchOptions options) : options_(std::move(options)) {}

  // Forks and execs rank `rank`; on success appends it to children_.
  absl::Status StartChild(int rank);
  // Reaps `child` if it has exited (blocking only if `block`); returns true once it is no
  // longer running, recording the first failure in first_failure_.
  bool Reap(Child& child, bool block);
  // Reaps every child that has exited, without blocking.
  void ReapAll();
  // ReapAll, then terminates the rest if a child has failed.
  void Check();
  bool AnyRunning() const;

  LaunchOptions options_;
  std::string store_path_;
  std::string rendezvous_;
  std::vector<Child> children_;
  absl::Status first_failure_;
};

}  // namespace matalign::distributed

#endif  // MATALIGN_DISTRIBUTED_LAUNCH_H_
