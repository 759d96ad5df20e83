#include "distributed/process_group.h"

// ProcessGroupGloo.hpp declares nothing unless USE_C10D_GLOO is defined (LibTorch's own build
// defines it); distributed/CMakeLists.txt sets it for this file's target only.
#ifndef USE_C10D_GLOO
#error "distributed/process_group.cc must be compiled with -DUSE_C10D_GLOO"
#endif

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace matalign::distributed {
namespace {

// A parsed ProcessGroupOptions::rendezvous.
struct RendezvousSpec {
  bool is_file = false;
  std::string path;  // file:
  std::string host;  // tcp:
  std::uint16_t port = 0;
};

absl::StatusOr<RendezvousSpec> ParseRendezvous(absl::string_view spec) {
  RendezvousSpec parsed;
  if (absl::ConsumePrefix(&spec, "file:")) {
    if (spec.empty()) {
      return absl::InvalidArgumentError("rendezvous 'file:' needs a path (file:<path>)");
    }
    parsed.is_file = true;
    parsed.path = std::string(spec);
    return parsed;
  }
  if (absl::ConsumePrefix(&spec, "tcp:")) {
    const size_t colon = spec.rfind(':');
    if (colon == absl::string_view::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("rendezvous 'tcp:", spec, "' must be tcp:<host>:<port>"));
    }
    absl::string_view host = spec.substr(0, colon);
    // "[::1]" -> "::1" for IPv6 literals.
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    int port = 0;
    if (!absl::SimpleAtoi(spec.substr(colon + 1), &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("rendezvous 'tcp:", spec, "': port must be an integer in 1..65535"));
    }
    parsed.host = std::string(host);
    parsed.port = static_cast<std::uint16_t>(port);
    return parsed;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("rendezvous '", spec, "' must be file:<path> or tcp:<host>:<port>"));
}

// The message of an exception thrown by c10d or Gloo, without c10's C++ backtrace.
std::string ExceptionMessage(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->what_without_backtrace();
  }
  return e.what();
}

// Gloo and c10d report timeouts only in their messages ("Timed out waiting 2000ms for recv
// operation", "Socket Timeout", "Operation timed out!").
bool IsTimeoutMessage(absl::string_view message) {
  return absl::StrContains(message, "Timed out") || absl::StrContains(message, "timed out") ||
         absl::StrContains(message, "Timeout") || absl::StrContains(message, "timeout");
}

// Runs `fn`, turning exceptions into a Status: DeadlineExceeded for timeouts, `code`
// otherwise, both prefixed with `context`.
absl::Status CatchAll(absl::string_view context, absl::StatusCode code,
                      const std::function<void()>& fn) {
  std::string message;
  try {
    fn();
    return absl::OkStatus();
  } catch (const std::exception& e) {
    message = ExceptionMessage(e);
  } catch (...) {
    message = "unknown exception";
  }
  if (IsTimeoutMessage(message)) code = absl::StatusCode::kDeadlineExceeded;
  return absl::Status(code, absl::StrCat(context, ": ", message));
}

std::string ShapeString(at::IntArrayRef sizes) {
  return absl::StrCat("[", absl::StrJoin(sizes, ", "), "]");
}

// AllGather's shape check exchanges [ndim, dtype, size_0..size_{kMaxDims-1}] per rank.
constexpr int kMaxGatherDims = 8;
constexpr int kHeaderLength = 2 + kMaxGatherDims;

std::string DescribeHeader(const int64_t* header) {
  if (header[0] < 0) return absl::StrCat("more than ", kMaxGatherDims, " dimensions");
  std::vector<int64_t> sizes(header + 2, header + 2 + header[0]);
  return absl::StrCat(ShapeString(sizes), " ",
                      c10::toString(static_cast<c10::ScalarType>(header[1])));
}

absl::Status CheckTensors(const std::vector<at::Tensor>& tensors, absl::string_view op) {
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (!tensors[i].defined()) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": tensor ", i, " is undefined"));
    }
    if (tensors[i].layout() != at::kStrided) {
      return absl::InvalidArgumentError(absl::StrCat(op, ": tensor ", i, " is not dense (layout ",
                                                     c10::str(tensors[i].layout()), ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ProcessGroupOptions::Validate() const {
  if (world_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("world_size must be >= 1, got ", world_size));
  }
  if (rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank must be in [0, ", world_size, "), got ", rank));
  }
  if (backend != "gloo" && backend != "nccl") {
    return absl::InvalidArgumentError(
        absl::StrCat("backend must be 'gloo' or 'nccl', got '", backend, "'"));
  }
  if (timeout_seconds < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout_seconds must be >= 1, got ", timeout_seconds));
  }
  if (world_size > 1) {
    if (rendezvous.empty()) {
      return absl::InvalidArgumentError(
          "rendezvous is required when world_size > 1 (file:<path> or tcp:<host>:<port>)");
    }
    MATALIGN_RETURN_IF_ERROR(ParseRendezvous(rendezvous).status());
    if (gloo_host.empty()) return absl::InvalidArgumentError("gloo_host must not be empty");
  }
  return absl::OkStatus();
}

struct ProcessGroup::Impl {
  ProcessGroupOptions options;
  std::chrono::milliseconds timeout{0};
  // Null when world_size == 1.
  c10::intrusive_ptr<c10d::ProcessGroup> pg;
  // The first failed collective; once set every later collective fails with it.
  absl::Status broken;

  // Runs the collective `fn` (which waits for its work) unless the group is broken; a
  // failure breaks the group.
  absl::Status Run(absl::string_view op, const std::function<void()>& fn) {
    if (!broken.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          op, ": process group unusable after an earlier failure: ", broken.message()));
    }
    absl::Status status =
        CatchAll(absl::StrCat(op, " failed on rank ", options.rank, " of ", options.world_size),
                 absl::StatusCode::kInternal, fn);
    if (!status.ok()) broken = status;
    return status;
  }

  // Waits for `work` with the group's timeout, so a collective never blocks longer even if
  // the backend's own timeout did not fire.
  void Wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(timeout); }

  // Applies `collective` (in place, on a contiguous CPU buffer) to `tensors`, flattening the
  // tensors of each dtype into one buffer. Dtype groups are formed in order of first
  // appearance, which is the same on every rank given the same tensor list.
  absl::Status FlattenedInPlace(
      std::vector<at::Tensor>& tensors, absl::string_view op,
      const std::function<c10::intrusive_ptr<c10d::Work>(std::vector<at::Tensor>&)>& collective) {
    at::NoGradGuard no_grad;
    std::vector<std::pair<at::ScalarType, std::vector<size_t>>> groups;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const at::ScalarType dtype = tensors[i].scalar_type();
      auto it = std::find_if(groups.begin(), groups.end(),
                             [dtype](const auto& group) { return group.first == dtype; });
      if (it == groups.end()) {
        groups.push_back({dtype, {i}});
      } else {
        it->second.push_back(i);
      }
    }
    for (const auto& [dtype, indices] : groups) {
      const at::Tensor& first = tensors[indices.front()];
      // A lone contiguous CPU tensor is reduced where it lies; otherwise copy into a buffer.
      const bool direct = indices.size() == 1 && first.device().is_cpu() && first.is_contiguous();
      at::Tensor buffer;
      MATALIGN_RETURN_IF_ERROR(CatchAll(op, absl::StatusCode::kInternal, [&] {
        if (direct) {
          buffer = first.view({-1});
          return;
        }
        std::vector<at::Tensor> flat;
        flat.reserve(indices.size());
        for (size_t i : indices) flat.push_back(tensors[i].reshape({-1}).to(at::kCPU));
        buffer = at::cat(flat, 0);
      }));
      if (buffer.numel() == 0) continue;
      std::vector<at::Tensor> buffers{buffer};
      MATALIGN_RETURN_IF_ERROR(Run(op, [&] { Wait(collective(buffers)); }));
      if (direct) continue;
      MATALIGN_RETURN_IF_ERROR(CatchAll(op, absl::StatusCode::kInternal, [&] {
        int64_t offset = 0;
        for (size_t i : indices) {
          at::Tensor& tensor = tensors[i];
          const int64_t n = tensor.numel();
          tensor.copy_(buffer.narrow(0, offset, n).view(tensor.sizes()));
          offset += n;
        }
      }));
    }
    return absl::OkStatus();
  }
};

ProcessGroup::ProcessGroup(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcessGroup::~ProcessGroup() = default;

absl::StatusOr<std::unique_ptr<ProcessGroup>> ProcessGroup::Create(
    const ProcessGroupOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  if (options.backend == "nccl") {
    return absl::UnimplementedError(
        "backend 'nccl' is not available: this LibTorch was built without NCCL; use 'gloo'");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->timeout = std::chrono::seconds(options.timeout_seconds);
  if (options.world_size == 1)
    return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));

  MATALIGN_ASSIGN_OR_RETURN(const RendezvousSpec spec, ParseRendezvous(options.rendezvous));
  const std::string context =
      absl::StrCat("joining process group as rank ", options.rank, " of ", options.world_size,
                   " (rendezvous '", options.rendezvous, "', gloo host '", options.gloo_host, "')");
  MATALIGN_RETURN_IF_ERROR(CatchAll(context, absl::StatusCode::kUnavailable, [&] {
    c10::intrusive_ptr<c10d::Store> store;
    if (spec.is_file) {
      store = c10::make_intrusive<c10d::FileStore>(spec.path, options.world_size);
    } else {
      c10d::TCPStoreOptions tcp;
      tcp.port = spec.port;
      tcp.isServer = options.rank == 0;
      tcp.numWorkers = static_cast<std::size_t>(options.world_size);
      tcp.waitWorkers = true;
      tcp.timeout = impl->timeout;
      store = c10::make_intrusive<c10d::TCPStore>(spec.host, tcp);
    }
    store->setTimeout(impl->timeout);
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(impl->timeout);
    gloo_options->devices.push_back(
        c10d::ProcessGroupGloo::createDeviceForHostname(options.gloo_host));
    impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, options.rank, options.world_size,
                                                           gloo_options);
  }));
  return std::unique_ptr<ProcessGroup>(new ProcessGroup(std::move(impl)));
}

int ProcessGroup::rank() const { return impl_->options.rank; }

int ProcessGroup::world_size() const { return impl_->options.world_size; }

absl::Status ProcessGroup::AllReduceSum(std::vector<at::Tensor>& tensors) {
  MATALIGN_RETURN_IF_ERROR(CheckTensors(tensors, "AllReduceSum"));
  if (impl_->pg == nullptr) return absl::OkStatus();
  return impl_->FlattenedInPlace(tensors, "AllReduceSum", [this](std::vector<at::Tensor>& b) {
    c10d::AllreduceOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    return impl_->pg->allreduce(b, opts);
  });
}

absl::Status ProcessGroup::Broadcast(std::vector<at::Tensor>& tensors, int root) {
  if (root < 0 || root >= world_size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("Broadcast: root must be in [0, ", world_size(), "), got ", root));
  }
  MATALIGN_RETURN_IF_ERROR(CheckTensors(tensors, "Broadcast"));
  if (impl_->pg == nullptr) return absl::OkStatus();
  return impl_->FlattenedInPlace(tensors, "Broadcast", [this, root](std::vector<at::Tensor>& b) {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    opts.rootTensor = 0;
    return impl_->pg->broadcast(b, opts);
  });
}

absl::StatusOr<at::Tensor> ProcessGroup::AllGather(const at::Tensor& local) {
  if (!local.defined()) return absl::InvalidArgumentError("AllGather: tensor is undefined");
  if (local.dim() < 1 || local.layout() != at::kStrided) {
    return absl::InvalidArgumentError(
        absl::StrCat("AllGather: tensor must be dense with at least one dimension, got shape ",
                     ShapeString(local.sizes())));
  }
  at::NoGradGuard no_grad;
  if (impl_->pg == nullptr) {
    at::Tensor copy;
    MATALIGN_RETURN_IF_ERROR(
        CatchAll("AllGather", absl::StatusCode::kInternal, [&] { copy = local.detach().clone(); }));
    return copy;
  }
  const int world = world_size();

  // Exchange shapes first: mismatched shapes would make Gloo fail obscurely or read garbage.
  at::Tensor header = at::full({kHeaderLength}, -1, at::kLong);
  int64_t* h = header.data_ptr<int64_t>();
  h[0] = local.dim() <= kMaxGatherDims ? local.dim() : -1;
  h[1] = static_cast<int64_t>(local.scalar_type());
  for (int64_t d = 0; d < local.dim() && d < kMaxGatherDims; ++d) h[2 + d] = local.size(d);
  at::Tensor headers = at::empty({world, kHeaderLength}, at::kLong);
  MATALIGN_RETURN_IF_ERROR(impl_->Run("AllGather (shape exchange)", [&] {
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < world; ++r) outputs[0].push_back(headers[r]);
    std::vector<at::Tensor> inputs{header};
    impl_->Wait(impl_->pg->allgather(outputs, inputs));
  }));
  for (int r = 0; r < world; ++r) {
    const int64_t* other = headers[r].data_ptr<int64_t>();
    if (h[0] < 0 || !std::equal(h, h + kHeaderLength, other)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "AllGather: every rank must pass the same shape and dtype; rank ", r, " has ",
          DescribeHeader(other), ", rank ", rank(), " has ", DescribeHeader(h)));
    }
  }

  at::Tensor input, result;
  MATALIGN_RETURN_IF_ERROR(CatchAll("AllGather", absl::StatusCode::kInternal, [&] {
    input = local.detach().to(at::kCPU).contiguous();
    std::vector<int64_t> sizes = local.sizes().vec();
    sizes[0] *= world;
    result = at::empty(sizes, input.options());
  }));
  const int64_t n = local.size(0);
  if (input.numel() > 0) {
    MATALIGN_RETURN_IF_ERROR(impl_->Run("AllGather", [&] {
      std::vector<std::vector<at::Tensor>> outputs(1);
      for (int r = 0; r < world; ++r) outputs[0].push_back(result.narrow(0, r * n, n));
      std::vector<at::Tensor> inputs{input};
      impl_->Wait(impl_->pg->allgather(outputs, inputs));
    }));
  }
  if (local.device().is_cpu()) return result;
  at::Tensor on_device;
  MATALIGN_RETURN_IF_ERROR(CatchAll("AllGather", absl::StatusCode::kInternal,
                                    [&] { on_device = result.to(local.device()); }));
  return on_device;
}

absl::Status ProcessGroup::Barrier() {
  if (impl_->pg == nullptr) return absl::OkStatus();
  return impl_->Run("Barrier", [&] { impl_->Wait(impl_->pg->barrier()); });
}

absl::StatusOr<at::Tensor> AllGatherWithLocalGrad(ProcessGroup& group, const at::Tensor& local) {
  if (group.world_size() == 1) {
    if (!local.defined() || local.dim() < 1) {
      return absl::InvalidArgumentError(
          "AllGatherWithLocalGrad: tensor must be defined with at least one dimension");
    }
    return local;
  }
  MATALIGN_ASSIGN_OR_RETURN(at::Tensor gathered, group.AllGather(local));
  at::Tensor result;
  MATALIGN_RETURN_IF_ERROR(CatchAll("AllGatherWithLocalGrad", absl::StatusCode::kInternal, [&] {
    const int64_t n = local.size(0);
    std::vector<at::Tensor> slices;
    slices.reserve(group.world_size());
    for (int r = 0; r < group.world_size(); ++r) {
      slices.push_back(r == group.rank() ? local : gathered.narrow(0, r * n, n));
    }
    result = at::cat(slices, 0);
  }));
  return result;
}

}  // namespace matalign::distributed
