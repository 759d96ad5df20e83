#include "train/objective.h"

namespace matalign::train {

torch::Tensor InfoNce(const torch::Tensor& a, const torch::Tensor& b,
                      const torch::Tensor& temperature, bool symmetric) {
  torch::Tensor logits = torch::matmul(a, b.t()) / temperature;  // [n, n]
  torch::Tensor labels =
      torch::arange(a.size(0), torch::TensorOptions().dtype(torch::kInt64).device(a.device()));
  torch::Tensor loss = torch::nn::functional::cross_entropy(logits.to(torch::kFloat), labels);
  if (symmetric) {
    loss =
        0.5 * (loss + torch::nn::functional::cross_entropy(logits.t().to(torch::kFloat), labels));
  }
  return loss;
}

double RecallAtK(const torch::Tensor& queries, const torch::Tensor& docs, int k) {
  torch::NoGradGuard no_grad;
  torch::Tensor sim = torch::matmul(queries.to(torch::kFloat), docs.to(torch::kFloat).t());
  torch::Tensor own = sim.diagonal().unsqueeze(1);  // [n, 1]
  torch::Tensor better = (sim >= own).sum(1) - 1;   // others ranked at or above
  return (better < k).to(torch::kFloat).mean().item<double>();
}

}  // namespace matalign::train
