// A real mmserver process for integration tests: started on 127.0.0.1 with port 0 (the
// server picks a free port and writes it to a port file), stopped with SIGTERM or SIGKILL.
// Also the shared test data (corpus + two tiny bundles, tests/integration/prepare.sh).
#ifndef MATALIGN_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define MATALIGN_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "proto/matalign/v1/matalign.grpc.pb.h"
#include "tests/test_util.h"

namespace matalign::testing {

// The corpus and bundles every integration test uses (built once per build tree).
struct SharedData {
  std::string dir;
  std::string corpus() const { return dir + "/corpus"; }
  std::string manifest() const { return dir + "/corpus/manifest.jsonl"; }
  std::string models() const { return dir + "/models"; }
};

// Runs prepare.sh (instant when the data is already there). Empty dir on failure, with the
// script's output in *error.
inline SharedData PrepareSharedData(std::string* error) {
  const std::string bin = std::filesystem::path(BinaryPath("mmserver")).parent_path().string();
  const std::string out = bin + "/../tests/integration-data";
  CommandResult r = RunCommand(std::string(MATALIGN_SOURCE_DIR) + "/tests/integration/prepare.sh " +
                               MATALIGN_SOURCE_DIR + " " + bin + " " + out);
  if (r.exit_code != 0) {
    *error = r.out;
    return {};
  }
  return SharedData{std::filesystem::canonical(out).string()};
}

class ServerProcess {
 public:
  // Starts mmserver with `args` added to --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0
  // --port-file; waits until it serves (or exits). Output goes to `log_path`.
  bool Start(const std::vector<std::string>& args, const std::string& work_dir,
             std::string* error) {
    port_file_ = work_dir + "/ports.json";
    log_path_ = work_dir + "/mmserver.log";
    std::filesystem::remove(port_file_);
    std::vector<std::string> argv = {
        BinaryPath("mmserver"), "--listen",    "127.0.0.1:0", "--metrics-listen",
        "127.0.0.1:0",          "--port-file", port_file_};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ < 0) {
      *error = "fork failed";
      return false;
    }
    if (pid_ == 0) {
      const int fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      std::vector<char*> c;
      for (auto& a : argv) c.push_back(a.data());
      c.push_back(nullptr);
      ::execv(c[0], c.data());
      ::_exit(127);
    }
    // Model loading takes a few seconds; allow for a loaded CI machine.
    for (int i = 0; i < 1200; ++i) {
      std::ifstream f(port_file_);
      std::stringstream ss;
      ss << f.rdbuf();
      auto j = nlohmann::json::parse(ss.str(), nullptr, false);
      if (!j.is_discarded() && j.contains("grpc")) {
        port_ = j["grpc"].get<int>();
        metrics_port_ = j["metrics"].get<int>();
        return true;
      }
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        *error = "mmserver exited: " + Log();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *error = "mmserver did not start in 120 s: " + Log();
    return false;
  }

  // SIGTERM, then waits; returns the exit status (-1 if killed by a signal).
  int Stop() { return Signal(SIGTERM); }
  // SIGKILL: a crash.
  void Kill() { Signal(SIGKILL); }
  ~ServerProcess() {
    if (pid_ > 0) Kill();
  }

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string Log() const {
    std::ifstream f(log_path_);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  std::unique_ptr<v1::MatAlign::Stub> Stub() const {
    return v1::MatAlign::NewStub(
        grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  }

 private:
  int Signal(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  pid_t pid_ = -1;
  int port_ = 0;
  int metrics_port_ = 0;
  std::string port_file_;
  std::string log_path_;
};

// A client context with a deadline (and optionally a bearer token).
inline std::unique_ptr<grpc::ClientContext> Context(int seconds = 60,
                                                    const std::string& token = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

}  // namespace matalign::testing

#endif  // MATALIGN_TESTS_INTEGRATION_SERVER_PROCESS_H_
