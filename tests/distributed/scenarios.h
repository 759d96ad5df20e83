// Collective scenarios shared by distributed_test (rank 0, in-process) and distributed_worker
// (the other ranks, started by the Launcher), plus the rank inputs and a single-process
// reference the tests compare against.
#ifndef MATALIGN_TESTS_DISTRIBUTED_SCENARIOS_H_
#define MATALIGN_TESTS_DISTRIBUTED_SCENARIOS_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "distributed/process_group.h"

namespace matalign::distributed::testing {

// Named result tensors of one rank.
using Results = std::map<std::string, at::Tensor>;

// Runs the collective scenario `name` on `group` and returns what this rank observed:
//   "allreduce"          AllReduceSum of AllReduceInputs(rank): "a".."d".
//   "broadcast"          Broadcast of BroadcastInputs(rank) from root 1 ("w", "i"; "w"
//                        requires grad), then of "z" from root 0.
//   "allgather"          AllGather of GatherInput(rank) ("rows") and of a 1-D int64 tensor
//                        [rank, 10 + rank] ("ints").
//   "allgather_mismatch" AllGather of rank + 1 rows: "code" = the status code; then
//                        "after" = AllReduceSum of ones(2), showing the group still works.
//   "local_grad"         AllGatherWithLocalGrad of GatherInput(rank) (a leaf requiring grad),
//                        loss = sum(gathered * LocalGradWeights(world_size)): "gathered",
//                        "requires_grad" (0/1) and "grad" (the local leaf's gradient).
//   "gradients"          The data-parallel step of the trainer on the two-tower model (see
//                        ReferenceStep): "loss" and the all-reduced "grad_*".
absl::StatusOr<Results> RunScenario(absl::string_view name, ProcessGroup& group);

// Rank inputs of the scenarios, so tests can compute the expected results.
std::vector<at::Tensor> AllReduceInputs(int rank);  // float [2, 3], double [4], int64 [3],
                                                    // float [2, 3] non-contiguous
std::vector<at::Tensor> BroadcastInputs(int rank);  // float [3, 2], int64 [2]
at::Tensor GatherInput(int rank);                   // float [2, 3]
at::Tensor LocalGradWeights(int world_size);        // float [2 * world_size, 3]

// The "gradients" scenario's loss on the whole global batch of 8 in one process, with the
// model's parameters of seed 0: "loss" and "grad_*", the oracle for the distributed step.
Results ReferenceStep();

// Line-based text form of Results (values as doubles, exact for float and int64 < 2^53).
std::string FormatResults(const Results& results);
absl::StatusOr<Results> ParseResults(absl::string_view text);

}  // namespace matalign::distributed::testing

#endif  // MATALIGN_TESTS_DISTRIBUTED_SCENARIOS_H_
