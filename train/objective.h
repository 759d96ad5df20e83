// The contrastive objective and the retrieval metric used for validation.
#ifndef MATALIGN_TRAIN_OBJECTIVE_H_
#define MATALIGN_TRAIN_OBJECTIVE_H_

#include <torch/torch.h>

namespace matalign::train {

// InfoNCE between matched rows: a[i] and b[i] are a positive pair, every other b[j] (and
// a[j]) a negative. a, b: [n, d] unit rows, n >= 2; temperature: scalar tensor.
// symmetric: mean of the a->b and b->a cross-entropies; otherwise a->b only (a retrieves b).
torch::Tensor InfoNce(const torch::Tensor& a, const torch::Tensor& b,
                      const torch::Tensor& temperature, bool symmetric);

// Fraction of queries whose own document (same row) is among the k most similar of all
// documents by dot product. A document tied with the true one counts as ranked above it.
// queries, docs: [n, d]; n >= 1.
double RecallAtK(const torch::Tensor& queries, const torch::Tensor& docs, int k);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_OBJECTIVE_H_
