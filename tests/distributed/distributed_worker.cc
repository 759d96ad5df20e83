// distributed_worker: a child rank for distributed_test, started by the Launcher.
//
//   distributed_worker --world-size N --scenario NAME [--out DIR] [--timeout SECONDS]
//                      [--ready-fd FD] --rank R --rendezvous SPEC
//
// Collective scenarios (see scenarios.h) join the group and write DIR/rank<R>.txt. Process
// scenarios test the launcher and join nothing:
//   exit3_after_join    join the group, then exit with status 3 (a rank dying mid-job)
//   last_rank_exits_3   the last rank exits with status 3, the others hang
//   hang                block until killed
//   hang_ignoring_term  ignore SIGTERM, then block until killed
//   sigkill_self        die of SIGKILL
//   ok                  exit 0
// With --ready-fd the worker writes one byte to that (inherited) descriptor once it has set
// up its signal handling, so the test can wait for it without sleeping.
// Exit status: 0 success, 1 scenario failed, 2 bad command line, 3 on purpose.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "common/file.h"
#include "distributed/process_group.h"
#include "tests/distributed/scenarios.h"

namespace {

using matalign::distributed::ProcessGroup;
using matalign::distributed::ProcessGroupOptions;

[[noreturn]] void BlockForever() {
  for (;;) ::pause();
}

void SignalReady(int fd) {
  if (fd < 0) return;
  const char byte = 'r';
  [[maybe_unused]] ssize_t ignored = ::write(fd, &byte, 1);
  ::close(fd);
}

int Run(int argc, char** argv) {
  ProcessGroupOptions options;
  std::string scenario, out_dir;
  int ready_fd = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    bool ok = true;
    if (flag == "--world-size") {
      ok = absl::SimpleAtoi(value, &options.world_size);
    } else if (flag == "--rank") {
      ok = absl::SimpleAtoi(value, &options.rank);
    } else if (flag == "--rendezvous") {
      options.rendezvous = value;
    } else if (flag == "--timeout") {
      ok = absl::SimpleAtoi(value, &options.timeout_seconds);
    } else if (flag == "--scenario") {
      scenario = value;
    } else if (flag == "--out") {
      out_dir = value;
    } else if (flag == "--ready-fd") {
      ok = absl::SimpleAtoi(value, &ready_fd);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "distributed_worker: bad flag %s %s\n", flag.c_str(), value.c_str());
      return 2;
    }
  }
  if (argc % 2 != 1 || scenario.empty()) {
    std::fprintf(stderr, "distributed_worker: usage: --scenario NAME --rank R ...\n");
    return 2;
  }

  if (scenario == "ok") return 0;
  if (scenario == "sigkill_self") ::raise(SIGKILL);
  if (scenario == "hang") {
    SignalReady(ready_fd);
    BlockForever();
  }
  if (scenario == "hang_ignoring_term") {
    ::signal(SIGTERM, SIG_IGN);
    SignalReady(ready_fd);
    BlockForever();
  }
  if (scenario == "last_rank_exits_3") {
    if (options.rank == options.world_size - 1) return 3;
    SignalReady(ready_fd);
    BlockForever();
  }

  auto group = ProcessGroup::Create(options);
  if (!group.ok()) {
    std::fprintf(stderr, "distributed_worker rank %d: %s\n", options.rank,
                 group.status().ToString().c_str());
    return 1;
  }
  if (scenario == "exit3_after_join") std::_Exit(3);
  auto results = matalign::distributed::testing::RunScenario(scenario, **group);
  if (!results.ok()) {
    std::fprintf(stderr, "distributed_worker rank %d: %s\n", options.rank,
                 results.status().ToString().c_str());
    return 1;
  }
  group->reset();  // leave the group before reporting, as the trainer does
  const std::string path = out_dir + "/rank" + std::to_string(options.rank) + ".txt";
  absl::Status written =
      matalign::WriteFileAtomic(path, matalign::distributed::testing::FormatResults(*results));
  if (!written.ok()) {
    std::fprintf(stderr, "distributed_worker rank %d: %s\n", options.rank,
                 written.ToString().c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv); }
