// 2-D projections of embeddings for the plots of `mmtrain eval`. Torch-free.
#ifndef MATALIGN_EVAL_PROJECTION_H_
#define MATALIGN_EVAL_PROJECTION_H_

#include <vector>

#include "absl/status/statusor.h"

namespace matalign::eval {

// Principal component analysis of the rows of a row-major [n, dim] matrix: the coordinates of
// every row on the first `components` principal axes (row-major [n, components]), computed
// from the centred covariance by deflated power iteration. Deterministic: each axis's sign is
// chosen so that its largest-magnitude loading is positive. `explained` (if not null) gets the
// share of the total variance of each axis (NaN when all rows are equal; the coordinates are
// then 0). InvalidArgument when n < 2, dim < 1, points.size() is not a multiple of dim,
// components is not in [1, dim], or a value is not finite.
//
// Cost: O(n * dim^2) for the covariance plus O(dim^2) per power-iteration step.
absl::StatusOr<std::vector<double>> Pca(const std::vector<float>& points, int dim, int components,
                                        std::vector<double>* explained = nullptr);

}  // namespace matalign::eval

#endif  // MATALIGN_EVAL_PROJECTION_H_
