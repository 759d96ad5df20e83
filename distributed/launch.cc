#include "distributed/launch.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"

namespace matalign::distributed {
namespace {

// How often Wait and Terminate look for exited children. Children are not reaped with
// waitpid(-1) because that would also reap processes the rest of the program started.
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string ErrnoString(int error) { return std::strerror(error); }

}  // namespace

absl::Status LaunchOptions::Validate() const {
  if (world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("world_size must be >= 1, got ", world_size));
  }
  if (world_size > 1 && (child_argv.empty() || child_argv[0].empty())) {
    return absl::InvalidArgumentError(
        "child_argv must name the program the child ranks run when world_size > 1");
  }
  if (terminate_grace_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("terminate_grace_seconds must be >= 0, got ", terminate_grace_seconds));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Launcher>> Launcher::Start(const LaunchOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Launcher> launcher(new Launcher(options));
  if (options.world_size == 1) return launcher;

  std::error_code ec;
  std::string dir = options.rendezvous_dir;
  if (dir.empty()) {
    dir = std::filesystem::temp_directory_path(ec).string();
    if (ec) {
      return absl::NotFoundError(
          absl::StrCat("no temp directory for the rendezvous file: ", ec.message()));
    }
  }
  if (!std::filesystem::exists(dir, ec)) {
    return absl::NotFoundError(absl::StrCat("rendezvous_dir '", dir, "' does not exist"));
  }
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat("rendezvous_dir '", dir, "' is not a directory"));
  }

  // A FileStore that already exists would be reused with its stale keys: pick a fresh name.
  std::random_device seed;
  std::mt19937_64 random((static_cast<std::uint64_t>(seed()) << 32) ^ seed() ^
                         static_cast<std::uint64_t>(::getpid()));
  for (int attempt = 0; attempt < 100 && launcher->store_path_.empty(); ++attempt) {
    std::string candidate =
        absl::StrCat(dir, "/c10d-store-", ::getpid(), "-", absl::Hex(random(), absl::kZeroPad16));
    struct stat st;
    if (::lstat(candidate.c_str(), &st) != 0 && errno == ENOENT) {
      launcher->store_path_ = std::move(candidate);
    }
  }
  if (launcher->store_path_.empty()) {
    return absl::InternalError(
        absl::StrCat("could not find an unused rendezvous file name in '", dir, "'"));
  }
  launcher->rendezvous_ = "file:" + launcher->store_path_;

  for (int rank = 1; rank < options.world_size; ++rank) {
    absl::Status started = launcher->StartChild(rank);
    if (!started.ok()) {
      launcher->Terminate();
      return started;
    }
  }
  return launcher;
}

absl::Status Launcher::StartChild(int rank) {
  // Everything the child touches is prepared before fork: between fork and exec the child
  // of a multi-threaded parent may only make async-signal-safe calls.
  std::vector<std::string> args = options_.child_argv;
  args.insert(args.end(), {"--rank", std::to_string(rank), "--rendezvous", rendezvous_});
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  struct sigaction default_action;
  std::memset(&default_action, 0, sizeof(default_action));
  default_action.sa_handler = SIG_DFL;
  sigset_t no_signals;
  sigemptyset(&no_signals);
  const pid_t parent = ::getpid();

  // The child reports a failed exec through this pipe; a successful exec closes it.
  int exec_error_pipe[2];
  if (::pipe2(exec_error_pipe, O_CLOEXEC) != 0) {
    return absl::InternalError(
        absl::StrCat("failed to start rank ", rank, ": pipe2: ", ErrnoString(errno)));
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(exec_error_pipe[0]);
    ::close(exec_error_pipe[1]);
    return absl::InternalError(
        absl::StrCat("failed to start rank ", rank, ": fork: ", ErrnoString(error)));
  }
  if (pid == 0) {
    ::close(exec_error_pipe[0]);
    // Die with the launcher rather than wait in a rendezvous that will never complete.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    // exec keeps the signal mask and ignored signals; give the child a clean slate.
    ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
    for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &default_action, nullptr);
    ::execv(argv[0], argv.data());
    const int error = errno;
    [[maybe_unused]] ssize_t ignored = ::write(exec_error_pipe[1], &error, sizeof(error));
    ::_exit(127);
  }
  ::close(exec_error_pipe[1]);
  int exec_error = 0;
  ssize_t got;
  do {
    got = ::read(exec_error_pipe[0], &exec_error, sizeof(exec_error));
  } while (got < 0 && errno == EINTR);
  ::close(exec_error_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof(exec_error))) {
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    const std::string message = absl::StrCat("failed to start rank ", rank, ": execv '", args[0],
                                             "': ", ErrnoString(exec_error));
    return exec_error == ENOENT ? absl::NotFoundError(message) : absl::InternalError(message);
  }
  Child child;
  child.rank = rank;
  child.pid = pid;
  children_.push_back(child);
  return absl::OkStatus();
}

Launcher::~Launcher() {
  Terminate();
  if (!store_path_.empty()) ::unlink(store_path_.c_str());
}

std::vector<pid_t> Launcher::child_pids() const {
  std::vector<pid_t> pids;
  for (const Child& child : children_) pids.push_back(child.pid);
  return pids;
}

bool Launcher::Reap(Child& child, bool block) {
  if (child.state != ChildState::kRunning) return true;
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(child.pid, &status, block ? 0 : WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == 0) return false;
  std::string failure;
  if (got < 0) {
    child.state = ChildState::kLost;
    failure = absl::StrCat("rank ", child.rank, " (pid ", child.pid,
                           "): exit status unknown: waitpid: ", ErrnoString(errno));
  } else if (WIFEXITED(status)) {
    child.code = WEXITSTATUS(status);
    child.state = child.signalled_by_us ? ChildState::kTerminated : ChildState::kExited;
    if (child.state == ChildState::kExited && child.code != 0) {
      failure = absl::StrCat("rank ", child.rank, " exited with status ", child.code, " (pid ",
                             child.pid, ")");
    }
  } else if (WIFSIGNALED(status)) {
    child.code = WTERMSIG(status);
    child.state = child.signalled_by_us ? ChildState::kTerminated : ChildState::kSignaled;
    if (child.state == ChildState::kSignaled) {
      failure = absl::StrCat("rank ", child.rank, " killed by signal ", child.code, " (",
                             ::strsignal(child.code), ", pid ", child.pid, ")");
    }
  } else {
    return false;  // stopped or continued: still alive
  }
  if (!failure.empty() && first_failure_.ok()) first_failure_ = absl::InternalError(failure);
  return true;
}

void Launcher::ReapAll() {
  for (Child& child : children_) Reap(child, /*block=*/false);
}

bool Launcher::AnyRunning() const {
  for (const Child& child : children_) {
    if (child.state == ChildState::kRunning) return true;
  }
  return false;
}

void Launcher::Check() {
  ReapAll();
  if (!first_failure_.ok() && AnyRunning()) Terminate();
}

absl::Status Launcher::Poll() {
  Check();
  return first_failure_;
}

absl::Status Launcher::Wait() {
  for (Check(); AnyRunning(); Check()) std::this_thread::sleep_for(kPollInterval);
  if (!first_failure_.ok()) return first_failure_;
  std::vector<int> terminated;
  for (const Child& child : children_) {
    if (child.state == ChildState::kTerminated) terminated.push_back(child.rank);
  }
  if (!terminated.empty()) {
    return absl::AbortedError(absl::StrCat("rank(s) ", absl::StrJoin(terminated, ", "),
                                           " terminated by the launcher before finishing"));
  }
  return absl::OkStatus();
}

void Launcher::Terminate() {
  ReapAll();  // children that already ended are not "terminated"
  if (!AnyRunning()) return;
  for (Child& child : children_) {
    if (child.state != ChildState::kRunning) continue;
    child.signalled_by_us = true;
    ::kill(child.pid, SIGTERM);
  }
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(options_.terminate_grace_seconds);
  for (ReapAll(); AnyRunning() && std::chrono::steady_clock::now() < deadline; ReapAll()) {
    std::this_thread::sleep_for(kPollInterval);
  }
  for (Child& child : children_) {
    if (child.state == ChildState::kRunning) ::kill(child.pid, SIGKILL);
  }
  for (Child& child : children_) Reap(child, /*block=*/true);
}

}  // namespace matalign::distributed
