#include "eval/projection.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace matalign::eval {
namespace {

// Power iteration stops when the residual |C v - lambda v| falls below this share of the
// total variance (trace of C): the test holds for any vector of a repeated eigenvalue's
// eigenspace, where the vector itself need not converge.
constexpr double kResidualTolerance = 1e-10;
// Per axis. The error shrinks by lambda2 / lambda1 per step, so this bound only bites when
// two eigenvalues almost coincide, where any vector of their span is an equally good axis.
constexpr int kMaxIterations = 5000;

double Dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Removes from v its components along `axes` (Gram-Schmidt) and normalises it; returns false
// when nothing is left.
bool OrthonormalizeAgainst(const std::vector<std::vector<double>>& axes, std::vector<double>& v) {
  for (int pass = 0; pass < 2; ++pass) {  // twice is enough for orthogonality to rounding
    for (const auto& u : axes) {
      const double p = Dot(u, v);
      for (size_t i = 0; i < v.size(); ++i) v[i] -= p * u[i];
    }
  }
  const double norm = std::sqrt(Dot(v, v));
  if (!(norm > 1e-300)) return false;
  for (double& x : v) x /= norm;
  return true;
}

// w = C v for the symmetric [dim, dim] matrix C.
void MatVec(const std::vector<double>& c, const std::vector<double>& v, std::vector<double>& w) {
  const size_t d = v.size();
  for (size_t i = 0; i < d; ++i) {
    double s = 0;
    const double* row = c.data() + i * d;
    for (size_t j = 0; j < d; ++j) s += row[j] * v[j];
    w[i] = s;
  }
}

}  // namespace

absl::StatusOr<std::vector<double>> Pca(const std::vector<float>& points, int dim, int components,
                                        std::vector<double>* explained) {
  if (dim < 1) return absl::InvalidArgumentError(absl::StrCat("Pca: dim must be >= 1, got ", dim));
  if (points.size() % static_cast<size_t>(dim) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("Pca: ", points.size(), " values are not a whole number of rows of ", dim));
  }
  const size_t n = points.size() / static_cast<size_t>(dim);
  if (n < 2) {
    return absl::InvalidArgumentError(absl::StrCat("Pca: needs at least 2 rows, got ", n));
  }
  if (components < 1 || components > dim) {
    return absl::InvalidArgumentError(
        absl::StrCat("Pca: components must be in [1, ", dim, "], got ", components));
  }
  for (size_t i = 0; i < points.size(); ++i) {
    if (!std::isfinite(points[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("Pca: row ", i / dim, " column ", i % dim, " is not a finite number"));
    }
  }
  const size_t d = static_cast<size_t>(dim);

  std::vector<double> mean(d, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < d; ++k) mean[k] += points[i * d + k];
  }
  for (double& m : mean) m /= static_cast<double>(n);

  // Covariance, [dim, dim]; only the upper triangle is accumulated, then mirrored.
  std::vector<double> cov(d * d, 0.0);
  std::vector<double> centred(d);
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < d; ++k) centred[k] = points[i * d + k] - mean[k];
    for (size_t a = 0; a < d; ++a) {
      const double ca = centred[a];
      double* row = cov.data() + a * d;
      for (size_t b = a; b < d; ++b) row[b] += ca * centred[b];
    }
  }
  for (size_t a = 0; a < d; ++a) {
    for (size_t b = a; b < d; ++b) {
      cov[a * d + b] /= static_cast<double>(n - 1);
      cov[b * d + a] = cov[a * d + b];
    }
  }
  double trace = 0;
  for (size_t a = 0; a < d; ++a) trace += cov[a * d + a];

  // A fixed pseudo-random start: deterministic, and (unlike a constant vector) not
  // orthogonal to the dominant axis of symmetric data.
  std::mt19937_64 rng(0x9E3779B97F4A7C15ull);
  std::vector<std::vector<double>> axes;
  std::vector<double> variances;
  std::vector<double> v(d);
  std::vector<double> w(d);
  for (int c = 0; c < components; ++c) {
    for (double& x : v) x = static_cast<double>(rng() >> 11) * 0x1.0p-53 - 0.5;
    if (!OrthonormalizeAgainst(axes, v)) {
      // Astronomically unlikely; fall back to the first basis vector not yet spanned.
      for (size_t k = 0; k < d; ++k) {
        std::fill(v.begin(), v.end(), 0.0);
        v[k] = 1;
        if (OrthonormalizeAgainst(axes, v)) break;
      }
    }
    double lambda = 0;
    for (int it = 0; it < kMaxIterations; ++it) {
      MatVec(cov, v, w);
      lambda = Dot(v, w);
      double residual = 0;
      for (size_t k = 0; k < d; ++k) residual += (w[k] - lambda * v[k]) * (w[k] - lambda * v[k]);
      if (std::sqrt(residual) <= kResidualTolerance * trace) break;
      // Re-orthogonalising each step keeps rounding from re-growing deflated axes.
      if (!OrthonormalizeAgainst(axes, w)) break;  // no variance left: keep v
      v.swap(w);
    }
    lambda = std::max(lambda, 0.0);
    // Sign: the largest-magnitude loading is positive (the first of equal ones).
    size_t largest = 0;
    for (size_t k = 1; k < d; ++k) {
      if (std::abs(v[k]) > std::abs(v[largest])) largest = k;
    }
    if (v[largest] < 0) {
      for (double& x : v) x = -x;
    }
    // Deflate: C -= lambda v v^T.
    for (size_t a = 0; a < d; ++a) {
      for (size_t b = 0; b < d; ++b) cov[a * d + b] -= lambda * v[a] * v[b];
    }
    axes.push_back(v);
    variances.push_back(lambda);
  }

  std::vector<double> out(n * static_cast<size_t>(components));
  for (size_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < d; ++k) centred[k] = points[i * d + k] - mean[k];
    for (int c = 0; c < components; ++c) out[i * components + c] = Dot(centred, axes[c]);
  }
  if (explained != nullptr) {
    explained->assign(components, std::numeric_limits<double>::quiet_NaN());
    if (trace > 0) {
      for (int c = 0; c < components; ++c) (*explained)[c] = variances[c] / trace;
    }
  }
  return out;
}

}  // namespace matalign::eval
