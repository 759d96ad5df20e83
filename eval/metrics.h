// Evaluation metrics of `mmtrain eval`, `ablate` and `bench-real`: regression, classification,
// ranking and clustering figures over plain vectors. Torch-free; every function is a pure
// computation, so each is unit-tested against hand-computed values (tests/eval/).
//
// Conventions: a metric that is undefined for its input (fewer than two points, a constant
// series, a single class) is NaN, and report writers print it as "n/a"; inputs of mismatched
// sizes are a programming error (checked with assert-like CHECKs in debug builds, and the
// shorter length is used otherwise).
#ifndef MATALIGN_EVAL_METRICS_H_
#define MATALIGN_EVAL_METRICS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace matalign::eval {

// ---- Regression -----------------------------------------------------------------------

struct RegressionMetrics {
  int64_t n = 0;
  double mae = 0;       // mean |pred - truth|
  double rmse = 0;      // sqrt(mean (pred - truth)^2)
  double pearson = 0;   // linear correlation; NaN when either series is constant or n < 2
  double spearman = 0;  // Pearson of the ranks (ties get their average rank); NaN likewise
};

// Figures of `predicted` against `truth` (same length). n = 0 gives NaN everywhere.
RegressionMetrics Regression(const std::vector<double>& predicted,
                             const std::vector<double>& truth);

// Ranks 1..n with ties given their average rank (the fractional ranking Spearman uses). A NaN
// value gets a NaN rank and the others are ranked among themselves (so a Spearman with a NaN
// input is NaN).
std::vector<double> AverageRanks(const std::vector<double>& values);

// ---- Classification -------------------------------------------------------------------

struct ClassificationMetrics {
  int64_t n = 0;
  double accuracy = 0;
  // Macro averages over the classes that occur in the truth or in the predictions; a class
  // never predicted has precision 0 (and likewise recall), as scikit-learn's zero_division=0.
  // NaN (like accuracy) when n = 0.
  double precision_macro = 0;
  double recall_macro = 0;
  double f1_macro = 0;
  // One-vs-rest ROC-AUC averaged (unweighted) over the classes present in the truth that also
  // have negatives; NaN when no class qualifies or no scores were given.
  double roc_auc_ovr = 0;
  std::vector<double> per_class_f1;  // [num_classes]; NaN for a class in neither truth nor preds
  std::vector<std::vector<int64_t>> confusion;  // [truth][predicted], num_classes x num_classes
};

// `truth` and `predicted` hold class indices in [0, num_classes). `scores` is optional
// (empty = no ROC-AUC): one row of num_classes scores (probabilities or logits) per example.
// An example whose truth or prediction is outside [0, num_classes) is left out (not counted in
// n); rows of `scores` that do not hold num_classes values make roc_auc_ovr NaN.
ClassificationMetrics Classification(const std::vector<int>& truth,
                                     const std::vector<int>& predicted, int num_classes,
                                     const std::vector<std::vector<double>>& scores = {});

// Area under the ROC curve of binary `labels` (true = positive) ranked by `scores`, with
// ties counted as half (the Mann-Whitney U form). NaN without both positives and negatives,
// or when a score is NaN.
double RocAuc(const std::vector<double>& scores, const std::vector<bool>& labels);

// ---- Ranking ----------------------------------------------------------------------------

// A similarity matrix, row-major: sim[q * num_docs + d] is the score of document d for query q.
struct ScoreMatrix {
  int64_t num_queries = 0;
  int64_t num_docs = 0;
  std::vector<float> scores;
};

// Fraction of queries whose relevant document `relevant[q]` is among the k highest scored
// documents; a document tied with the relevant one counts as ranked above it (pessimistic,
// as train::RecallAtK). relevant[q] < 0 skips the query (not counted); relevant[q] >= num_docs,
// or a NaN score for it, is a miss, and another document's NaN score counts as above it.
// k <= 0 gives 0. NaN if every query is skipped.
double RecallAtK(const ScoreMatrix& sim, const std::vector<int64_t>& relevant, int k);

// Normalized discounted cumulative gain at k with graded relevance: gain(d) = 2^rel - 1,
// discount log2(rank + 1) (rank 1-based), normalised by the ideal ordering of the same
// query's grades. `relevance` is row-major like `sim` (grades >= 0). A query whose grades are
// all 0 is skipped. Ties in score are broken by document index (stable), so results are
// deterministic; NaN scores rank last. NaN if every query is skipped or k <= 0.
double NdcgAtK(const ScoreMatrix& sim, const std::vector<int>& relevance, int k);

// ---- Embedding quality -------------------------------------------------------------------

// Points are rows of a row-major [n, dim] matrix; labels in [0, num_labels). A point with a
// negative label (noise, as DBSCAN's -1) is left out.

// Mean silhouette coefficient with Euclidean distances: for each point, (b - a) / max(a, b)
// with a the mean distance to its own cluster and b the smallest mean distance to another
// cluster; a point alone in its cluster scores 0 (scikit-learn's convention). NaN with fewer
// than 2 clusters or fewer than 2 points.
double Silhouette(const std::vector<float>& points, int dim, const std::vector<int>& labels);

// Davies-Bouldin index (lower is better): mean over clusters of max_j (s_i + s_j) / d(c_i, c_j),
// with s the mean Euclidean distance of a cluster's points to its centroid. A pair of clusters
// with coincident centroids contributes 0 (scikit-learn's convention). NaN with fewer than 2
// clusters.
double DaviesBouldin(const std::vector<float>& points, int dim, const std::vector<int>& labels);

// ---- Cross-validation ------------------------------------------------------------------

// Stratified k-fold: fold index in [0, folds) for each example, such that each class is spread
// over the folds as evenly as possible (class members shuffled with `seed`, then dealt round
// robin, classes in increasing label order, each class's deal continuing where the previous
// one stopped): per class and in total, fold sizes differ by at most 1. Deterministic for a
// seed, with any standard library. `folds` < 1 is treated as 1.
std::vector<int> StratifiedFolds(const std::vector<int>& labels, int folds, uint64_t seed);

}  // namespace matalign::eval

#endif  // MATALIGN_EVAL_METRICS_H_
