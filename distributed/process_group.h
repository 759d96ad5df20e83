// Collective communication between the ranks of a data-parallel training job, on top of
// LibTorch's c10d (Gloo on CPU). The c10d and Gloo headers stay in process_group.cc.
//
// A data-parallel step with this API (what the trainer does):
//   1. Broadcast(parameters, 0) once, so every rank starts from rank 0's weights.
//   2. Each rank embeds its slice of the global batch and calls AllGatherWithLocalGrad on the
//      L2-normalized embeddings, so the loss sees the whole global batch while gradients flow
//      only into the local rows.
//   3. Every rank computes the same global-batch loss and calls backward(); AllReduceSum over
//      the parameter gradients then yields the gradient of the global-batch loss.
//   4. Barrier() at epoch ends.
#ifndef MATALIGN_DISTRIBUTED_PROCESS_GROUP_H_
#define MATALIGN_DISTRIBUTED_PROCESS_GROUP_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace matalign::distributed {

struct ProcessGroupOptions {
  // Number of ranks in the job. With 1 no rendezvous happens and every collective is a no-op
  // or a copy, so single-process training runs the same code path.
  // Default: 1
  int world_size = 1;

  // This process's rank, in [0, world_size).
  // Default: 0
  int rank = 0;

  // Where the ranks meet; required when world_size > 1, ignored otherwise.
  //   "file:<path>"       c10d::FileStore at <path>; all ranks on one machine (or a shared
  //                       file system). The file must not exist before the job starts: a
  //                       FileStore left over from an earlier job would be reused and its stale
  //                       keys would confuse the rendezvous (the Launcher picks a fresh path).
  //   "tcp:<host>:<port>" c10d::TCPStore; rank 0 listens on <port> (1..65535), the other ranks
  //                       connect to <host>:<port>.
  // Default: ""
  std::string rendezvous;

  // Collective backend: "gloo" (CPU tensors; tensors on another device are staged through
  // host memory) or "nccl" (Unimplemented: Debian's LibTorch is built without NCCL).
  // Default: "gloo"
  std::string backend = "gloo";

  // Host name or address the Gloo device binds to and advertises to the other ranks.
  // Loopback by default because the launcher runs every rank on one machine; set it to this
  // machine's address on the cluster network for ranks on several machines.
  // Default: "127.0.0.1"
  std::string gloo_host = "127.0.0.1";

  // Seconds a rendezvous or a collective may wait for the other ranks before failing with
  // DeadlineExceeded. This is also how a rank notices a peer that hangs; a peer that exits
  // closes its connections and is noticed at once.
  // Default: 300
  int timeout_seconds = 300;

  // Returns InvalidArgument naming the field when an option is out of range or the
  // rendezvous spec does not parse.
  absl::Status Validate() const;
};

// One rank's membership in a process group.
//
// Every collective must be called by all ranks, in the same order, with tensors of the same
// number, dtypes and shapes (AllGather checks shapes; the others cannot and may fail or return
// wrong sums otherwise). An argument error detected on one rank (e.g. an undefined tensor)
// returns at once on that rank and leaves the others waiting until timeout_seconds.
// A collective that times out returns DeadlineExceeded; one that fails otherwise (e.g. a peer
// exited and closed its connections) returns Internal. After such a failure the group is
// unusable: later calls return FailedPrecondition with the first error.
//
// Collectives run without autograd recording (tensors that require grad, such as parameters,
// may be passed); their results carry no gradient history.
//
// Thread-safety: rank() and world_size() may be called from any thread. The collectives are
// not thread-safe: call them from one thread (concurrent callers could not keep the order
// identical across ranks anyway).
class ProcessGroup {
 public:
  // Joins the group: validates `options`, opens the rendezvous store and connects to every
  // other rank (blocks until all world_size ranks have called Create, or timeout_seconds).
  // Returns InvalidArgument for bad options, Unimplemented for backend "nccl",
  // DeadlineExceeded when the other ranks do not arrive in time, Unavailable for other
  // failures to join. With world_size 1 nothing is opened.
  static absl::StatusOr<std::unique_ptr<ProcessGroup>> Create(const ProcessGroupOptions& options);

  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  // This process's rank in [0, world_size()).
  int rank() const;
  // Number of ranks in the group.
  int world_size() const;

  // Replaces every tensor by the element-wise sum of that tensor over all ranks, in place.
  // Tensors of the same dtype are flattened into one buffer and reduced by one collective
  // (a model's ~100 gradient tensors cost one or two round trips). Requires defined dense
  // tensors; shapes may differ within the list. An empty list is a no-op.
  absl::Status AllReduceSum(std::vector<at::Tensor>& tensors);

  // Replaces every tensor by rank `root`'s tensor, in place (flattened per dtype like
  // AllReduceSum). Requires 0 <= root < world_size() and defined dense tensors.
  absl::Status Broadcast(std::vector<at::Tensor>& tensors, int root);

  // Returns the `local` tensors of all ranks concatenated along dim 0 in rank order:
  // local [n, ...] -> [world_size * n, ...], on local's device, without gradient history
  // (see AllGatherWithLocalGrad). Requires a defined tensor of at least one dimension with
  // the same shape and dtype on every rank; a mismatch returns InvalidArgument on all ranks.
  // With world_size 1 returns a copy of `local`.
  absl::StatusOr<at::Tensor> AllGather(const at::Tensor& local);

  // Blocks until every rank has called Barrier (or timeout_seconds).
  absl::Status Barrier();

 private:
  struct Impl;
  explicit ProcessGroup(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

// Like ProcessGroup::AllGather, but the rows of this rank's slice are `local` itself, so
// autograd flows from the result into `local`; the other ranks' slices are detached
// constants. local: [n, ...] -> [world_size * n, ...], rows [rank * n, (rank + 1) * n) being
// `local`. When every rank computes the same loss of the gathered tensor, each rank's
// gradient covers its own rows only, and AllReduceSum of the parameter gradients gives the
// gradient of that loss. With world_size 1 returns `local` unchanged.
absl::StatusOr<at::Tensor> AllGatherWithLocalGrad(ProcessGroup& group, const at::Tensor& local);

}  // namespace matalign::distributed

#endif  // MATALIGN_DISTRIBUTED_PROCESS_GROUP_H_
