// Helpers shared by MatAlign's gtest suites.
#ifndef MATALIGN_TESTS_TEST_UTIL_H_
#define MATALIGN_TESTS_TEST_UTIL_H_

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/real_data.h"
#include "gtest/gtest.h"

namespace matalign::testing {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Creates a fresh, empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "matalign_test_XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Runs `command` through the shell and returns its exit status and stdout + stderr.
struct CommandResult {
  int exit_code = -1;  // -1 if it could not run or was killed by a signal
  std::string out;
};
inline CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// The path of program `name` built by this tree ($MATALIGN_BIN_DIR, set by ctest).
inline std::string BinaryPath(const std::string& name) {
  const char* dir = std::getenv("MATALIGN_BIN_DIR");
  return std::string(dir ? dir : "build/bin") + "/" + name;
}

// A copy of this test binary running one disabled test (the writer of a fault test) as a
// child process whose stdout the parent reads, to kill it at a chosen point (RocksDB's
// db_stress style): the child prints "ack <n>" after each acknowledged write.
class ChildTest {
 public:
  // Starts `/proc/self/exe --gtest_also_run_disabled_tests --gtest_filter=<test>` with
  // `env` added to the environment. Returns false if fork or pipe fails.
  bool Start(const std::string& test, const std::vector<std::pair<std::string, std::string>>& env) {
    int fds[2];
    if (::pipe(fds) != 0) return false;
    pid_ = ::fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      ::dup2(fds[1], STDOUT_FILENO);
      ::close(fds[0]);
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      const std::string filter = "--gtest_filter=" + test;
      ::execl("/proc/self/exe", "child", "--gtest_also_run_disabled_tests", filter.c_str(),
              nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    return true;
  }
  // Reads the child's lines until one says "ack <n>" with n >= `at_least`; returns the
  // largest n seen (-1 if the child's output ended first).
  int WaitForAck(int at_least) {
    int acked = -1;
    std::string line;
    char c;
    while (acked < at_least && ::read(fd_, &c, 1) == 1) {
      if (c != '\n') {
        line.push_back(c);
        continue;
      }
      if (line.rfind("ack ", 0) == 0) acked = std::atoi(line.c_str() + 4);
      line.clear();
    }
    return acked;
  }
  // Sends SIGKILL and reaps the child; true if it died of that signal (rather than ending
  // on its own).
  bool Kill() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }
  ~ChildTest() { Kill(); }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace matalign::testing

// Each evaluates `expr` once.
#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    const auto& matalign_assert_ok_ = (expr);                            \
    ASSERT_TRUE(::matalign::testing::StatusOf(matalign_assert_ok_).ok()) \
        << ::matalign::testing::StatusOf(matalign_assert_ok_);           \
  } while (0)
#define EXPECT_OK(expr)                                                  \
  do {                                                                   \
    const auto& matalign_expect_ok_ = (expr);                            \
    EXPECT_TRUE(::matalign::testing::StatusOf(matalign_expect_ok_).ok()) \
        << ::matalign::testing::StatusOf(matalign_expect_ok_);           \
  } while (0)

#define MATALIGN_TEST_CONCAT_INNER_(a, b) a##b
#define MATALIGN_TEST_CONCAT_(a, b) MATALIGN_TEST_CONCAT_INNER_(a, b)
// ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr): asserts OK and moves the value into lhs.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                       \
  auto MATALIGN_TEST_CONCAT_(statusor_, __LINE__) = (rexpr);   \
  ASSERT_TRUE(MATALIGN_TEST_CONCAT_(statusor_, __LINE__).ok()) \
      << MATALIGN_TEST_CONCAT_(statusor_, __LINE__).status();  \
  lhs = std::move(MATALIGN_TEST_CONCAT_(statusor_, __LINE__)).value()

// Sets `var` (a std::string) to <real data dir>/<subpath>, or skips the test with a
// message when the real data is absent. With MATALIGN_REQUIRE_REAL_DATA=1 in the
// environment (CI sets it when the data is there) a missing file fails the test instead.
#define MATALIGN_REAL_DATA_OR_SKIP(var, subpath)                                              \
  std::string var;                                                                            \
  do {                                                                                        \
    auto dir_ = ::matalign::RealDataDir();                                                    \
    if (!dir_ || !std::filesystem::exists(*dir_ + "/" + (subpath))) {                         \
      const char* require_ = std::getenv("MATALIGN_REQUIRE_REAL_DATA");                       \
      if (require_ != nullptr && std::string(require_) == "1") {                              \
        FAIL() << "real data " << (subpath) << " not found but MATALIGN_REQUIRE_REAL_DATA=1"; \
      }                                                                                       \
      GTEST_SKIP() << "real data " << (subpath)                                               \
                   << " not found (set MATALIGN_REAL_DATA or place ../shared/data/real)";     \
    }                                                                                         \
    var = *dir_ + "/" + (subpath);                                                            \
  } while (0)

#endif  // MATALIGN_TESTS_TEST_UTIL_H_
