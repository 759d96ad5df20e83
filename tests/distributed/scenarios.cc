#include "tests/distributed/scenarios.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdio>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace matalign::distributed::testing {
namespace {

constexpr int64_t kGlobalBatch = 8;
constexpr int64_t kEmbedDim = 4;
constexpr double kTemperature = 0.1;

at::Tensor Randn(at::IntArrayRef sizes, uint64_t seed) {
  return at::randn(sizes, at::detail::createCPUGenerator(seed), at::kFloat);
}

// Two linear towers with L2-normalized outputs, the trainer's structure in miniature.
struct TwoTowerModel {
  at::Tensor wa, ba, wb, bb;  // [kEmbedDim, 5], [kEmbedDim], [kEmbedDim, 6], [kEmbedDim]

  std::vector<at::Tensor> Parameters() const { return {wa, ba, wb, bb}; }
};

TwoTowerModel MakeModel(uint64_t seed) {
  TwoTowerModel model;
  model.wa = (Randn({kEmbedDim, 5}, seed) * 0.5).set_requires_grad(true);
  model.ba = (Randn({kEmbedDim}, seed + 1) * 0.1).set_requires_grad(true);
  model.wb = (Randn({kEmbedDim, 6}, seed + 2) * 0.5).set_requires_grad(true);
  model.bb = (Randn({kEmbedDim}, seed + 3) * 0.1).set_requires_grad(true);
  return model;
}

// The global batch: x [8, 5] and y [8, 6], pair i being (x_i, y_i).
std::pair<at::Tensor, at::Tensor> GlobalBatch() { return {Randn({8, 5}, 42), Randn({8, 6}, 43)}; }

at::Tensor Embed(const at::Tensor& input, const at::Tensor& w, const at::Tensor& b) {
  at::Tensor h = at::matmul(input, w.t()) + b;
  return h / h.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12);
}

// Symmetric InfoNCE over the global batch: za, zb [8, kEmbedDim], positives on the diagonal.
at::Tensor ContrastiveLoss(const at::Tensor& za, const at::Tensor& zb) {
  at::Tensor logits = at::matmul(za, zb.t()) / kTemperature;
  at::Tensor labels = at::arange(za.size(0), at::kLong);
  return (at::cross_entropy_loss(logits, labels) + at::cross_entropy_loss(logits.t(), labels)) / 2;
}

Results GradientResults(const at::Tensor& loss, const std::vector<at::Tensor>& grads) {
  return {{"loss", loss.detach()},
          {"grad_wa", grads[0]},
          {"grad_ba", grads[1]},
          {"grad_wb", grads[2]},
          {"grad_bb", grads[3]}};
}

absl::StatusOr<Results> GradientsScenario(ProcessGroup& group) {
  const int world = group.world_size();
  if (kGlobalBatch % world != 0) {
    return absl::InvalidArgumentError(absl::StrCat("world size ", world, " does not divide 8"));
  }
  // Every rank but 0 starts from other weights: the broadcast must fix that.
  TwoTowerModel model = MakeModel(group.rank() == 0 ? 0 : 1000 + group.rank());
  std::vector<at::Tensor> parameters = model.Parameters();
  MATALIGN_RETURN_IF_ERROR(group.Broadcast(parameters, 0));

  const int64_t per_rank = kGlobalBatch / world;
  auto [x, y] = GlobalBatch();
  at::Tensor za = Embed(x.narrow(0, group.rank() * per_rank, per_rank), model.wa, model.ba);
  at::Tensor zb = Embed(y.narrow(0, group.rank() * per_rank, per_rank), model.wb, model.bb);
  MATALIGN_ASSIGN_OR_RETURN(at::Tensor za_all, AllGatherWithLocalGrad(group, za));
  MATALIGN_ASSIGN_OR_RETURN(at::Tensor zb_all, AllGatherWithLocalGrad(group, zb));
  at::Tensor loss = ContrastiveLoss(za_all, zb_all);
  loss.backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : model.Parameters()) {
    if (!p.grad().defined()) return absl::InternalError("a parameter got no gradient");
    grads.push_back(p.grad());
  }
  MATALIGN_RETURN_IF_ERROR(group.AllReduceSum(grads));
  return GradientResults(loss, grads);
}

at::Tensor Scalar(int64_t value) { return at::scalar_tensor(value, at::kLong); }

}  // namespace

std::vector<at::Tensor> AllReduceInputs(int rank) {
  return {at::arange(6, at::kFloat).view({2, 3}) * (rank + 1) + 0.5,
          at::arange(4, at::kDouble) * 0.25 + rank, at::arange(3, at::kLong) * (rank + 1) + 100,
          (at::arange(6, at::kFloat).view({3, 2}) * (rank - 0.5)).t(), at::empty({0}, at::kFloat)};
}

std::vector<at::Tensor> BroadcastInputs(int rank) {
  return {Randn({3, 2}, 100 + rank).set_requires_grad(true), at::arange(2, at::kLong) + 10 * rank};
}

at::Tensor GatherInput(int rank) { return at::arange(6, at::kFloat).view({2, 3}) + 100 * rank; }

at::Tensor LocalGradWeights(int world_size) {
  return at::arange(1, 2 * world_size * 3 + 1, at::kFloat).view({2 * world_size, 3});
}

namespace {

absl::StatusOr<Results> RunScenarioOrThrow(absl::string_view name, ProcessGroup& group) {
  const int rank = group.rank();
  Results results;
  if (name == "allreduce") {
    std::vector<at::Tensor> tensors = AllReduceInputs(rank);
    MATALIGN_RETURN_IF_ERROR(group.AllReduceSum(tensors));
    const char* names[] = {"a", "b", "c", "d", "e"};
    for (size_t i = 0; i < tensors.size(); ++i) results[names[i]] = tensors[i];
  } else if (name == "broadcast") {
    std::vector<at::Tensor> tensors = BroadcastInputs(rank);
    MATALIGN_RETURN_IF_ERROR(group.Broadcast(tensors, 1));
    std::vector<at::Tensor> z = {at::full({3}, rank + 1.0, at::kFloat)};
    MATALIGN_RETURN_IF_ERROR(group.Broadcast(z, 0));
    results = {{"w", tensors[0].detach()}, {"i", tensors[1]}, {"z", z[0]}};
  } else if (name == "allgather") {
    MATALIGN_ASSIGN_OR_RETURN(results["rows"], group.AllGather(GatherInput(rank)));
    at::Tensor ints = at::arange(2, at::kLong) * 10 + rank;
    MATALIGN_ASSIGN_OR_RETURN(results["ints"], group.AllGather(ints));
  } else if (name == "allgather_mismatch") {
    absl::StatusOr<at::Tensor> gathered = group.AllGather(at::zeros({rank + 1, 2}, at::kFloat));
    results["code"] = Scalar(static_cast<int64_t>(gathered.status().code()));
    std::vector<at::Tensor> after = {at::ones({2}, at::kFloat)};
    MATALIGN_RETURN_IF_ERROR(group.AllReduceSum(after));
    results["after"] = after[0];
  } else if (name == "local_grad") {
    at::Tensor local = GatherInput(rank).set_requires_grad(true);
    MATALIGN_ASSIGN_OR_RETURN(at::Tensor gathered, AllGatherWithLocalGrad(group, local));
    (gathered * LocalGradWeights(group.world_size())).sum().backward();
    if (!local.grad().defined()) return absl::InternalError("no gradient reached the local rows");
    results = {{"gathered", gathered.detach()},
               {"requires_grad", Scalar(gathered.requires_grad() ? 1 : 0)},
               {"grad", local.grad()}};
  } else if (name == "gradients") {
    return GradientsScenario(group);
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown scenario '", name, "'"));
  }
  return results;
}

}  // namespace

absl::StatusOr<Results> RunScenario(absl::string_view name, ProcessGroup& group) {
  // Tensor code in the scenarios throws on misuse (e.g. backward() without a graph).
  try {
    return RunScenarioOrThrow(name, group);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("scenario '", name, "': ", e.what_without_backtrace()));
  }
}

Results ReferenceStep() {
  TwoTowerModel model = MakeModel(0);
  auto [x, y] = GlobalBatch();
  at::Tensor loss = ContrastiveLoss(Embed(x, model.wa, model.ba), Embed(y, model.wb, model.bb));
  loss.backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : model.Parameters()) grads.push_back(p.grad());
  return GradientResults(loss, grads);
}

std::string FormatResults(const Results& results) {
  std::string text;
  for (const auto& [name, tensor] : results) {
    at::Tensor values = tensor.detach().to(at::kDouble).contiguous();
    const double* data = values.data_ptr<double>();
    std::vector<std::string> formatted;
    for (int64_t i = 0; i < values.numel(); ++i) {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.17g", data[i]);
      formatted.push_back(buffer);
    }
    absl::StrAppend(&text, name, "\t", absl::StrJoin(values.sizes(), ","), "\t",
                    absl::StrJoin(formatted, " "), "\n");
  }
  return text;
}

absl::StatusOr<Results> ParseResults(absl::string_view text) {
  Results results;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat("bad result line '", line, "'"));
    }
    std::vector<int64_t> sizes;
    for (absl::string_view size : absl::StrSplit(fields[1], ',', absl::SkipEmpty())) {
      int64_t value = 0;
      if (!absl::SimpleAtoi(size, &value)) {
        return absl::InvalidArgumentError(absl::StrCat("bad size in '", line, "'"));
      }
      sizes.push_back(value);
    }
    at::Tensor tensor = at::empty(sizes, at::kDouble);
    std::vector<absl::string_view> values = absl::StrSplit(fields[2], ' ', absl::SkipEmpty());
    if (static_cast<int64_t>(values.size()) != tensor.numel()) {
      return absl::InvalidArgumentError(absl::StrCat("value count mismatch in '", line, "'"));
    }
    double* data = tensor.data_ptr<double>();
    for (size_t i = 0; i < values.size(); ++i) {
      if (!absl::SimpleAtod(values[i], &data[i])) {
        return absl::InvalidArgumentError(absl::StrCat("bad value in '", line, "'"));
      }
    }
    results[std::string(fields[0])] = tensor;
  }
  return results;
}

}  // namespace matalign::distributed::testing
