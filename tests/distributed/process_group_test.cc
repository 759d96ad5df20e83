#include "distributed/process_group.h"

#include <ATen/ATen.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "common/status_macros.h"
#include "distributed/launch.h"
#include "gtest/gtest.h"
#include "tests/distributed/scenarios.h"
#include "tests/distributed/worker_util.h"
#include "tests/test_util.h"

namespace matalign::distributed {
namespace {

using ::matalign::distributed::testing::Results;
using ::matalign::testing::TempDir;

// Timeout for the multi-process tests: a broken collective fails the test instead of
// hanging it; it never fires when things work.
constexpr int kTimeoutSeconds = 30;

void ExpectTensorNear(const at::Tensor& actual, const at::Tensor& expected, double atol,
                      const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  ASSERT_EQ(actual.sizes(), expected.sizes()) << what;
  at::Tensor a = actual.detach().to(at::kDouble);
  at::Tensor e = expected.detach().to(at::kDouble);
  EXPECT_TRUE(at::allclose(a, e, /*rtol=*/0, atol)) << what << "\nactual:\n"
                                                    << a << "\nexpected:\n"
                                                    << e;
}

void ExpectTensorEq(const at::Tensor& actual, const at::Tensor& expected, const std::string& what) {
  ExpectTensorNear(actual, expected, 0.0, what);
}

TEST(ProcessGroupOptionsTest, DefaultsAreValid) { EXPECT_OK(ProcessGroupOptions().Validate()); }

TEST(ProcessGroupOptionsTest, ValidateRejectsBadFields) {
  auto two_ranks = [] {
    ProcessGroupOptions options;
    options.world_size = 2;
    options.rendezvous = "file:/tmp/store";
    return options;
  };
  std::vector<std::pair<std::string, ProcessGroupOptions>> cases;
  cases.push_back({"world_size", two_ranks()});
  cases.back().second.world_size = 0;
  cases.push_back({"rank", two_ranks()});
  cases.back().second.rank = 2;
  cases.push_back({"rank", two_ranks()});
  cases.back().second.rank = -1;
  cases.push_back({"backend", two_ranks()});
  cases.back().second.backend = "mpi";
  cases.push_back({"timeout_seconds", two_ranks()});
  cases.back().second.timeout_seconds = 0;
  cases.push_back({"rendezvous is required", two_ranks()});
  cases.back().second.rendezvous = "";
  cases.push_back({"needs a path", two_ranks()});
  cases.back().second.rendezvous = "file:";
  cases.push_back({"must be file:", two_ranks()});
  cases.back().second.rendezvous = "/tmp/store";
  cases.push_back({"port", two_ranks()});
  cases.back().second.rendezvous = "tcp:localhost:0";
  cases.push_back({"port", two_ranks()});
  cases.back().second.rendezvous = "tcp:localhost:http";
  cases.push_back({"tcp:<host>:<port>", two_ranks()});
  cases.back().second.rendezvous = "tcp:29500";
  cases.push_back({"gloo_host", two_ranks()});
  cases.back().second.gloo_host = "";
  for (const auto& [field, options] : cases) {
    absl::Status status = options.Validate();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << field;
    EXPECT_NE(status.message().find(field), std::string::npos) << status;
  }
}

TEST(ProcessGroupOptionsTest, ValidateAcceptsRendezvousForms) {
  for (const char* spec :
       {"file:/tmp/x", "tcp:localhost:29500", "tcp:[::1]:1", "tcp:10.0.0.1:65535"}) {
    ProcessGroupOptions options;
    options.world_size = 2;
    options.rendezvous = spec;
    EXPECT_OK(options.Validate());
  }
}

TEST(ProcessGroupTest, NcclIsUnimplemented) {
  ProcessGroupOptions options;
  options.world_size = 2;
  options.rendezvous = "file:/nonexistent/store";
  options.backend = "nccl";
  EXPECT_EQ(ProcessGroup::Create(options).status().code(), absl::StatusCode::kUnimplemented);
}

TEST(ProcessGroupTest, WorldSizeOneNeedsNoRendezvous) {
  ASSERT_OK_AND_ASSIGN(auto group, ProcessGroup::Create(ProcessGroupOptions()));
  EXPECT_EQ(group->rank(), 0);
  EXPECT_EQ(group->world_size(), 1);

  std::vector<at::Tensor> tensors = testing::AllReduceInputs(0);
  std::vector<at::Tensor> before;
  for (const at::Tensor& t : tensors) before.push_back(t.clone());
  ASSERT_OK(group->AllReduceSum(tensors));
  ASSERT_OK(group->Broadcast(tensors, 0));
  for (size_t i = 0; i < tensors.size(); ++i) {
    ExpectTensorEq(tensors[i], before[i], "tensor " + std::to_string(i));
  }

  at::Tensor local = testing::GatherInput(0);
  ASSERT_OK_AND_ASSIGN(at::Tensor gathered, group->AllGather(local));
  ExpectTensorEq(gathered, local, "gathered");
  gathered.add_(1);  // a copy, not an alias
  ExpectTensorEq(local, testing::GatherInput(0), "local after changing the gathered copy");
  EXPECT_OK(group->Barrier());
}

TEST(ProcessGroupTest, ArgumentErrorsAreInvalidArgument) {
  ASSERT_OK_AND_ASSIGN(auto group, ProcessGroup::Create(ProcessGroupOptions()));
  std::vector<at::Tensor> tensors = {at::ones({2}), at::Tensor()};
  EXPECT_EQ(group->AllReduceSum(tensors).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(group->Broadcast(tensors, 0).code(), absl::StatusCode::kInvalidArgument);
  std::vector<at::Tensor> fine = {at::ones({2})};
  EXPECT_EQ(group->Broadcast(fine, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(group->AllGather(at::Tensor()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(group->AllGather(at::scalar_tensor(1.0)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ProcessGroupTest, WorldSizeOneLocalGradIsTheLocalTensor) {
  ASSERT_OK_AND_ASSIGN(auto group, ProcessGroup::Create(ProcessGroupOptions()));
  at::Tensor local = testing::GatherInput(0).set_requires_grad(true);
  ASSERT_OK_AND_ASSIGN(at::Tensor gathered, AllGatherWithLocalGrad(*group, local));
  EXPECT_TRUE(gathered.is_same(local));
  (gathered * testing::LocalGradWeights(1)).sum().backward();
  ExpectTensorEq(local.grad(), testing::LocalGradWeights(1), "grad");
}

TEST(ProcessGroupTest, CreateTimesOutWhenPeersNeverArrive) {
  TempDir dir;
  ProcessGroupOptions options;
  options.world_size = 2;
  options.rendezvous = "file:" + dir.Join("store");
  options.timeout_seconds = 1;
  absl::Status status = ProcessGroup::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded) << status;
  EXPECT_NE(status.message().find("rank 0 of 2"), std::string::npos) << status;
}

// Runs a scenario with world size 2: rank 1 in a distributed_worker started by a Launcher,
// rank 0 in this process, as `mmtrain train --world-size 2` does.
struct TwoRanks {
  Results rank0;
  Results rank1;
};

absl::StatusOr<TwoRanks> RunTwoRanks(const std::string& scenario) {
  TempDir dir;
  LaunchOptions launch;
  launch.world_size = 2;
  launch.child_argv = {testing::WorkerPath(),
                       "--world-size",
                       "2",
                       "--scenario",
                       scenario,
                       "--out",
                       dir.path(),
                       "--timeout",
                       std::to_string(kTimeoutSeconds)};
  launch.rendezvous_dir = dir.path();
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<Launcher> launcher, Launcher::Start(launch));

  ProcessGroupOptions options;
  options.world_size = 2;
  options.rank = 0;
  options.rendezvous = launcher->rendezvous();
  options.timeout_seconds = kTimeoutSeconds;
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<ProcessGroup> group, ProcessGroup::Create(options));
  TwoRanks results;
  MATALIGN_ASSIGN_OR_RETURN(results.rank0, testing::RunScenario(scenario, *group));
  group.reset();
  MATALIGN_RETURN_IF_ERROR(launcher->Wait());
  MATALIGN_ASSIGN_OR_RETURN(std::string text, ReadFile(dir.Join("rank1.txt")));
  MATALIGN_ASSIGN_OR_RETURN(results.rank1, testing::ParseResults(text));
  return results;
}

const Results& Of(const TwoRanks& runs, int rank) { return rank == 0 ? runs.rank0 : runs.rank1; }

TEST(TwoRankTest, AllReduceSumSumsEveryTensorInPlace) {
  ASSERT_OK_AND_ASSIGN(TwoRanks runs, RunTwoRanks("allreduce"));
  std::vector<at::Tensor> expected = testing::AllReduceInputs(0);
  std::vector<at::Tensor> rank1 = testing::AllReduceInputs(1);
  for (size_t i = 0; i < expected.size(); ++i) expected[i] = expected[i] + rank1[i];
  const char* names[] = {"a", "b", "c", "d", "e"};
  for (int rank : {0, 1}) {
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(Of(runs, rank).count(names[i]), 1u) << names[i];
      ExpectTensorEq(Of(runs, rank).at(names[i]), expected[i],
                     "rank " + std::to_string(rank) + " tensor " + names[i]);
    }
  }
}

TEST(TwoRankTest, BroadcastCopiesTheRootsTensors) {
  ASSERT_OK_AND_ASSIGN(TwoRanks runs, RunTwoRanks("broadcast"));
  std::vector<at::Tensor> root1 = testing::BroadcastInputs(1);
  for (int rank : {0, 1}) {
    const std::string label = "rank " + std::to_string(rank);
    ExpectTensorEq(Of(runs, rank).at("w"), root1[0], label + " w");
    ExpectTensorEq(Of(runs, rank).at("i"), root1[1], label + " i");
    ExpectTensorEq(Of(runs, rank).at("z"), at::ones({3}), label + " z");
  }
}

TEST(TwoRankTest, AllGatherConcatenatesInRankOrder) {
  ASSERT_OK_AND_ASSIGN(TwoRanks runs, RunTwoRanks("allgather"));
  at::Tensor rows = at::cat({testing::GatherInput(0), testing::GatherInput(1)}, 0);
  at::Tensor ints = at::tensor(std::vector<int64_t>{0, 10, 1, 11});
  for (int rank : {0, 1}) {
    ExpectTensorEq(Of(runs, rank).at("rows"), rows, "rows on rank " + std::to_string(rank));
    ExpectTensorEq(Of(runs, rank).at("ints"), ints, "ints on rank " + std::to_string(rank));
  }
}

TEST(TwoRankTest, AllGatherShapeMismatchFailsOnEveryRankAndKeepsTheGroup) {
  ASSERT_OK_AND_ASSIGN(TwoRanks runs, RunTwoRanks("allgather_mismatch"));
  for (int rank : {0, 1}) {
    EXPECT_EQ(Of(runs, rank).at("code").item<double>(),
              static_cast<double>(absl::StatusCode::kInvalidArgument))
        << "rank " << rank;
    ExpectTensorEq(Of(runs, rank).at("after"), at::full({2}, 2.0), "after");
  }
}

TEST(TwoRankTest, AllGatherWithLocalGradFlowsOnlyIntoLocalRows) {
  ASSERT_OK_AND_ASSIGN(TwoRanks runs, RunTwoRanks("local_grad"));
  at::Tensor all = at::cat({testing::GatherInput(0), testing::GatherInput(1)}, 0);
  at::Tensor weights = testing::LocalGradWeights(2);
  for (int rank : {0, 1}) {
    const std::string label = "rank " + std::to_string(rank);
    ExpectTensorEq(Of(runs, rank).at("gathered"), all, label + " gathered");
    EXPECT_EQ(Of(runs, rank).at("requires_grad").item<double>(), 1.0) << label;
    // d(sum(gathered * weights))/d(local) = this rank's rows of weights, once.
    ExpectTensorEq(Of(runs, rank).at("grad"), weights.narrow(0, 2 * rank, 2), label + " grad");
  }
}

// The property data-parallel training rests on: split the global batch over the ranks,
// all-gather the embeddings with local gradients, all-reduce-sum the gradients, and get the
// gradient of one process on the whole batch.
TEST(TwoRankTest, GradientsMatchOneProcessOnTheGlobalBatch) {
  ASSERT_OK_AND_ASSIGN(TwoRanks runs, RunTwoRanks("gradients"));
  const Results reference = testing::ReferenceStep();
  ASSERT_EQ(reference.size(), 5u);
  for (int rank : {0, 1}) {
    for (const auto& [name, expected] : reference) {
      ASSERT_EQ(Of(runs, rank).count(name), 1u) << name;
      ExpectTensorNear(Of(runs, rank).at(name), expected, 1e-5,
                       "rank " + std::to_string(rank) + " " + name);
    }
  }
  // A zero gradient would match nothing above, but make the oracle's strength explicit.
  EXPECT_GT(reference.at("grad_wa").abs().max().item<double>(), 1e-3);
}

// Returns a TCP port on loopback that was free a moment ago.
int PickFreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t length = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// Two ranks as two threads of this process meeting at a TCPStore hosted by rank 0.
TEST(ProcessGroupTest, TcpRendezvousInOneProcess) {
  const int port = PickFreePort();
  ASSERT_GT(port, 0);
  Results results[2];
  absl::Status statuses[2];
  auto run_rank = [&](int rank) {
    ProcessGroupOptions options;
    options.world_size = 2;
    options.rank = rank;
    options.rendezvous = "tcp:127.0.0.1:" + std::to_string(port);
    options.timeout_seconds = kTimeoutSeconds;
    auto group = ProcessGroup::Create(options);
    if (!group.ok()) {
      statuses[rank] = group.status();
      return;
    }
    auto scenario = testing::RunScenario("allgather", **group);
    if (!scenario.ok()) {
      statuses[rank] = scenario.status();
      return;
    }
    results[rank] = *scenario;
  };
  std::thread rank1(run_rank, 1);
  run_rank(0);
  rank1.join();
  at::Tensor rows = at::cat({testing::GatherInput(0), testing::GatherInput(1)}, 0);
  for (int rank : {0, 1}) {
    ASSERT_OK(statuses[rank]);
    ExpectTensorEq(results[rank].at("rows"), rows, "rows on rank " + std::to_string(rank));
  }
}

}  // namespace
}  // namespace matalign::distributed
