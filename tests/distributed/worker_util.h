// Helpers for tests that start distributed_worker processes.
#ifndef MATALIGN_TESTS_DISTRIBUTED_WORKER_UTIL_H_
#define MATALIGN_TESTS_DISTRIBUTED_WORKER_UTIL_H_

#include <poll.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace matalign::distributed::testing {

// The distributed_worker binary, built next to the test binary.
inline std::string WorkerPath() {
  return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "distributed_worker")
      .string();
}

// A pipe whose write end children inherit (pass write_fd() as --ready-fd): the test waits
// for a child's "ready" byte instead of sleeping.
class ReadyPipe {
 public:
  ReadyPipe() {
    if (::pipe(fds_) != 0) fds_[0] = fds_[1] = -1;
  }
  ~ReadyPipe() {
    CloseWriteEnd();
    if (fds_[0] >= 0) ::close(fds_[0]);
  }
  ReadyPipe(const ReadyPipe&) = delete;
  ReadyPipe& operator=(const ReadyPipe&) = delete;

  int write_fd() const { return fds_[1]; }

  // Call once the children are started, so that EOF means every child closed its copy.
  void CloseWriteEnd() {
    if (fds_[1] >= 0) ::close(fds_[1]);
    fds_[1] = -1;
  }

  // Returns true once a child wrote its byte; false on EOF (the child died first) or when
  // nothing arrived within `timeout_ms` (a broken test, not a timing assertion).
  bool WaitReady(int timeout_ms = 60000) {
    pollfd pfd{fds_[0], POLLIN, 0};
    if (::poll(&pfd, 1, timeout_ms) != 1) return false;
    char byte = 0;
    return ::read(fds_[0], &byte, 1) == 1;
  }

 private:
  int fds_[2];
};

}  // namespace matalign::distributed::testing

#endif  // MATALIGN_TESTS_DISTRIBUTED_WORKER_UTIL_H_
