#include "eval/metrics.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <utility>

namespace matalign::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Pearson correlation of the first n values of a and b; NaN when n < 2, when either series
// is constant (compared exactly, so that rounding in the mean cannot fake a variance) or
// when a value is NaN.
double Pearson(const std::vector<double>& a, const std::vector<double>& b, size_t n) {
  if (n < 2) return kNaN;
  bool a_constant = true;
  bool b_constant = true;
  double mean_a = 0;
  double mean_b = 0;
  for (size_t i = 0; i < n; ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) return kNaN;
    a_constant = a_constant && a[i] == a[0];
    b_constant = b_constant && b[i] == b[0];
    mean_a += a[i];
    mean_b += b[i];
  }
  if (a_constant || b_constant) return kNaN;
  mean_a /= static_cast<double>(n);
  mean_b /= static_cast<double>(n);
  double sab = 0;
  double saa = 0;
  double sbb = 0;
  for (size_t i = 0; i < n; ++i) {
    const double da = a[i] - mean_a;
    const double db = b[i] - mean_b;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  if (saa <= 0 || sbb <= 0) return kNaN;
  // Rounding can push |r| a hair above 1 for perfectly linear series.
  return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

double SquaredDistance(const float* a, const float* b, int dim) {
  double s = 0;
  for (int k = 0; k < dim; ++k) {
    const double d = static_cast<double>(a[k]) - static_cast<double>(b[k]);
    s += d * d;
  }
  return s;
}

// The points and labels that clustering metrics use: the first n = min(points / dim, labels)
// rows, with negative labels (noise, by the usual convention) left out. Cluster ids are
// compacted to 0..num_clusters-1 in increasing order of label.
struct Clustering {
  std::vector<const float*> rows;
  std::vector<int> cluster;   // [rows.size()]
  std::vector<int64_t> size;  // [num_clusters]
  int num_clusters = 0;
};

Clustering MakeClustering(const std::vector<float>& points, int dim,
                          const std::vector<int>& labels) {
  Clustering c;
  if (dim <= 0) return c;
  assert(points.size() % static_cast<size_t>(dim) == 0);
  assert(points.size() / static_cast<size_t>(dim) == labels.size());
  const size_t n = std::min(points.size() / static_cast<size_t>(dim), labels.size());
  std::map<int, int> ids;
  for (size_t i = 0; i < n; ++i) {
    if (labels[i] >= 0) ids.emplace(labels[i], 0);
  }
  for (auto& [label, id] : ids) id = c.num_clusters++;
  c.size.assign(c.num_clusters, 0);
  for (size_t i = 0; i < n; ++i) {
    if (labels[i] < 0) continue;
    const int id = ids[labels[i]];
    c.rows.push_back(points.data() + i * static_cast<size_t>(dim));
    c.cluster.push_back(id);
    ++c.size[id];
  }
  return c;
}

}  // namespace

std::vector<double> AverageRanks(const std::vector<double>& values) {
  std::vector<double> ranks(values.size(), kNaN);
  std::vector<size_t> order;
  order.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (!std::isnan(values[i])) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return values[a] < values[b]; });
  for (size_t start = 0; start < order.size();) {
    size_t end = start + 1;
    while (end < order.size() && values[order[end]] == values[order[start]]) ++end;
    // Positions start..end-1 hold ranks start+1..end; each gets their mean.
    const double rank = 0.5 * static_cast<double>(start + 1 + end);
    for (size_t i = start; i < end; ++i) ranks[order[i]] = rank;
    start = end;
  }
  return ranks;
}

RegressionMetrics Regression(const std::vector<double>& predicted,
                             const std::vector<double>& truth) {
  assert(predicted.size() == truth.size());
  const size_t n = std::min(predicted.size(), truth.size());
  RegressionMetrics m;
  m.n = static_cast<int64_t>(n);
  if (n == 0) {
    m.mae = m.rmse = m.pearson = m.spearman = kNaN;
    return m;
  }
  double abs_sum = 0;
  double sq_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const double e = predicted[i] - truth[i];
    abs_sum += std::abs(e);
    sq_sum += e * e;
  }
  m.mae = abs_sum / static_cast<double>(n);
  m.rmse = std::sqrt(sq_sum / static_cast<double>(n));
  m.pearson = Pearson(predicted, truth, n);
  const std::vector<double> rp =
      AverageRanks(std::vector<double>(predicted.begin(), predicted.begin() + n));
  const std::vector<double> rt =
      AverageRanks(std::vector<double>(truth.begin(), truth.begin() + n));
  m.spearman = Pearson(rp, rt, n);
  return m;
}

double RocAuc(const std::vector<double>& scores, const std::vector<bool>& labels) {
  assert(scores.size() == labels.size());
  const size_t n = std::min(scores.size(), labels.size());
  std::vector<double> s(scores.begin(), scores.begin() + n);
  for (double v : s) {
    if (std::isnan(v)) return kNaN;
  }
  const std::vector<double> ranks = AverageRanks(s);
  double positives = 0;
  double rank_sum = 0;
  for (size_t i = 0; i < n; ++i) {
    if (labels[i]) {
      positives += 1;
      rank_sum += ranks[i];
    }
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return kNaN;
  // U = rank sum of the positives minus its minimum; a tie contributes 1/2 through the
  // average ranks.
  const double u = rank_sum - positives * (positives + 1) / 2;
  return u / (positives * negatives);
}

ClassificationMetrics Classification(const std::vector<int>& truth,
                                     const std::vector<int>& predicted, int num_classes,
                                     const std::vector<std::vector<double>>& scores) {
  assert(truth.size() == predicted.size());
  assert(scores.empty() || scores.size() == truth.size());
  ClassificationMetrics m;
  const int c = std::max(num_classes, 0);
  m.confusion.assign(c, std::vector<int64_t>(c, 0));
  m.per_class_f1.assign(c, kNaN);
  const size_t total = std::min(truth.size(), predicted.size());
  std::vector<size_t> used;  // examples with both indices in range
  used.reserve(total);
  int64_t correct = 0;
  for (size_t i = 0; i < total; ++i) {
    const int t = truth[i];
    const int p = predicted[i];
    if (t < 0 || t >= c || p < 0 || p >= c) continue;  // not a class: left out
    ++m.confusion[t][p];
    if (t == p) ++correct;
    used.push_back(i);
  }
  m.n = static_cast<int64_t>(used.size());
  if (m.n == 0) {
    m.accuracy = m.precision_macro = m.recall_macro = m.f1_macro = m.roc_auc_ovr = kNaN;
    return m;
  }
  m.accuracy = static_cast<double>(correct) / static_cast<double>(m.n);

  int present = 0;
  double p_sum = 0;
  double r_sum = 0;
  double f_sum = 0;
  for (int k = 0; k < c; ++k) {
    int64_t tp = m.confusion[k][k];
    int64_t in_truth = 0;
    int64_t in_pred = 0;
    for (int j = 0; j < c; ++j) {
      in_truth += m.confusion[k][j];
      in_pred += m.confusion[j][k];
    }
    if (in_truth == 0 && in_pred == 0) continue;  // absent: not averaged, F1 stays NaN
    ++present;
    const double precision = in_pred > 0 ? static_cast<double>(tp) / in_pred : 0.0;
    const double recall = in_truth > 0 ? static_cast<double>(tp) / in_truth : 0.0;
    // 2tp / (2tp + fp + fn): the harmonic mean of P and R, and 0 where both are 0.
    const double f1 = static_cast<double>(2 * tp) / static_cast<double>(in_truth + in_pred);
    m.per_class_f1[k] = f1;
    p_sum += precision;
    r_sum += recall;
    f_sum += f1;
  }
  m.precision_macro = p_sum / present;
  m.recall_macro = r_sum / present;
  m.f1_macro = f_sum / present;

  m.roc_auc_ovr = kNaN;
  if (scores.empty()) return m;
  for (size_t i : used) {
    if (i >= scores.size() || scores[i].size() != static_cast<size_t>(c)) return m;
  }
  double auc_sum = 0;
  int auc_classes = 0;
  std::vector<double> column(used.size());
  std::vector<bool> positive(used.size());
  for (int k = 0; k < c; ++k) {
    for (size_t j = 0; j < used.size(); ++j) {
      column[j] = scores[used[j]][k];
      positive[j] = truth[used[j]] == k;
    }
    const double auc = RocAuc(column, positive);  // NaN without positives or negatives
    if (std::isnan(auc)) continue;
    auc_sum += auc;
    ++auc_classes;
  }
  if (auc_classes > 0) m.roc_auc_ovr = auc_sum / auc_classes;
  return m;
}

double RecallAtK(const ScoreMatrix& sim, const std::vector<int64_t>& relevant, int k) {
  assert(sim.scores.size() == static_cast<size_t>(sim.num_queries * sim.num_docs));
  const int64_t nd = std::max<int64_t>(sim.num_docs, 0);
  int64_t rows = std::max<int64_t>(sim.num_queries, 0);
  rows = std::min<int64_t>(rows, static_cast<int64_t>(relevant.size()));
  if (nd > 0) rows = std::min<int64_t>(rows, static_cast<int64_t>(sim.scores.size()) / nd);
  int64_t counted = 0;
  int64_t hits = 0;
  for (int64_t q = 0; q < rows; ++q) {
    const int64_t rel = relevant[q];
    if (rel < 0) continue;
    ++counted;
    if (rel >= nd) continue;  // cannot be retrieved: a miss
    const float* row = sim.scores.data() + q * nd;
    const float own = row[rel];
    if (std::isnan(own)) continue;
    int64_t above = 0;  // other documents ranked at or above the relevant one
    for (int64_t d = 0; d < nd; ++d) {
      if (d != rel && !(row[d] < own)) ++above;  // a NaN score counts as above: pessimistic
    }
    if (above < k) ++hits;
  }
  if (counted == 0) return kNaN;
  return static_cast<double>(hits) / static_cast<double>(counted);
}

double NdcgAtK(const ScoreMatrix& sim, const std::vector<int>& relevance, int k) {
  assert(sim.scores.size() == static_cast<size_t>(sim.num_queries * sim.num_docs));
  assert(relevance.size() == sim.scores.size());
  const int64_t nd = std::max<int64_t>(sim.num_docs, 0);
  if (k <= 0 || nd == 0) return kNaN;
  int64_t rows = std::max<int64_t>(sim.num_queries, 0);
  rows = std::min<int64_t>(rows, static_cast<int64_t>(sim.scores.size()) / nd);
  rows = std::min<int64_t>(rows, static_cast<int64_t>(relevance.size()) / nd);
  const int64_t depth = std::min<int64_t>(k, nd);
  std::vector<double> discount(depth);
  for (int64_t r = 0; r < depth; ++r) discount[r] = 1.0 / std::log2(static_cast<double>(r + 2));
  auto gain = [](int grade) { return std::exp2(static_cast<double>(std::max(grade, 0))) - 1.0; };

  double sum = 0;
  int64_t counted = 0;
  std::vector<int64_t> order(nd);
  std::vector<int> ideal(nd);
  for (int64_t q = 0; q < rows; ++q) {
    const float* row = sim.scores.data() + q * nd;
    const int* grades = relevance.data() + q * nd;
    if (std::none_of(grades, grades + nd, [](int g) { return g > 0; })) continue;
    std::iota(order.begin(), order.end(), 0);
    // Highest score first; NaN scores last; equal scores keep document order.
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      const bool a_nan = std::isnan(row[a]);
      const bool b_nan = std::isnan(row[b]);
      if (a_nan || b_nan) return !a_nan && b_nan;
      return row[a] > row[b];
    });
    ideal.assign(grades, grades + nd);
    std::sort(ideal.begin(), ideal.end(), std::greater<int>());
    double dcg = 0;
    double idcg = 0;
    for (int64_t r = 0; r < depth; ++r) {
      dcg += gain(grades[order[r]]) * discount[r];
      idcg += gain(ideal[r]) * discount[r];
    }
    sum += dcg / idcg;  // idcg > 0: some grade is positive and sorts first
    ++counted;
  }
  if (counted == 0) return kNaN;
  return sum / static_cast<double>(counted);
}

double Silhouette(const std::vector<float>& points, int dim, const std::vector<int>& labels) {
  const Clustering c = MakeClustering(points, dim, labels);
  const size_t n = c.rows.size();
  if (n < 2 || c.num_clusters < 2) return kNaN;
  // sums[i * C + j]: total distance from point i to the points of cluster j.
  const size_t nc = static_cast<size_t>(c.num_clusters);
  std::vector<double> sums(n * nc, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double d = std::sqrt(SquaredDistance(c.rows[i], c.rows[j], dim));
      sums[i * nc + c.cluster[j]] += d;
      sums[j * nc + c.cluster[i]] += d;
    }
  }
  double total = 0;
  for (size_t i = 0; i < n; ++i) {
    const int own = c.cluster[i];
    if (c.size[own] < 2) continue;  // a singleton scores 0
    const double a = sums[i * nc + own] / static_cast<double>(c.size[own] - 1);
    double b = std::numeric_limits<double>::infinity();
    for (size_t j = 0; j < nc; ++j) {
      if (static_cast<int>(j) == own) continue;
      b = std::min(b, sums[i * nc + j] / static_cast<double>(c.size[j]));
    }
    const double denom = std::max(a, b);
    if (denom > 0) total += (b - a) / denom;  // all distances 0: scores 0
  }
  return total / static_cast<double>(n);
}

double DaviesBouldin(const std::vector<float>& points, int dim, const std::vector<int>& labels) {
  const Clustering c = MakeClustering(points, dim, labels);
  if (c.num_clusters < 2) return kNaN;
  const size_t nc = static_cast<size_t>(c.num_clusters);
  const size_t d = static_cast<size_t>(dim);
  std::vector<double> centroid(nc * d, 0.0);
  for (size_t i = 0; i < c.rows.size(); ++i) {
    for (size_t k = 0; k < d; ++k) centroid[c.cluster[i] * d + k] += c.rows[i][k];
  }
  for (size_t j = 0; j < nc; ++j) {
    for (size_t k = 0; k < d; ++k) centroid[j * d + k] /= static_cast<double>(c.size[j]);
  }
  std::vector<double> spread(nc, 0.0);  // mean distance to the centroid
  for (size_t i = 0; i < c.rows.size(); ++i) {
    const double* mu = centroid.data() + c.cluster[i] * d;
    double s = 0;
    for (size_t k = 0; k < d; ++k) {
      const double diff = c.rows[i][k] - mu[k];
      s += diff * diff;
    }
    spread[c.cluster[i]] += std::sqrt(s);
  }
  for (size_t j = 0; j < nc; ++j) spread[j] /= static_cast<double>(c.size[j]);
  double total = 0;
  for (size_t i = 0; i < nc; ++i) {
    double worst = 0;
    for (size_t j = 0; j < nc; ++j) {
      if (i == j) continue;
      double s = 0;
      for (size_t k = 0; k < d; ++k) {
        const double diff = centroid[i * d + k] - centroid[j * d + k];
        s += diff * diff;
      }
      // Coincident centroids contribute 0, as scikit-learn (which divides by inf there).
      if (s > 0) worst = std::max(worst, (spread[i] + spread[j]) / std::sqrt(s));
    }
    total += worst;
  }
  return total / static_cast<double>(nc);
}

std::vector<int> StratifiedFolds(const std::vector<int>& labels, int folds, uint64_t seed) {
  assert(folds >= 1);
  folds = std::max(folds, 1);
  std::map<int, std::vector<size_t>> members;  // ordered by label: deterministic
  for (size_t i = 0; i < labels.size(); ++i) members[labels[i]].push_back(i);
  // mt19937_64's output sequence is fixed by the standard (unlike std::shuffle and the
  // distributions), so the folds are the same with every standard library.
  std::mt19937_64 rng(seed);
  std::vector<int> fold(labels.size(), 0);
  int next = 0;  // the deal continues across classes so that fold sizes differ by <= 1
  for (auto& [label, idx] : members) {
    for (size_t i = idx.size(); i > 1; --i) {
      std::swap(idx[i - 1], idx[rng() % i]);
    }
    for (size_t i : idx) {
      fold[i] = next;
      next = (next + 1) % folds;
    }
  }
  return fold;
}

}  // namespace matalign::eval
