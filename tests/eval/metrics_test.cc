#include "eval/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "gtest/gtest.h"

namespace matalign::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kTol = 1e-12;

// ---- Regression ---------------------------------------------------------------------------

TEST(RegressionTest, HandComputedFigures) {
  // errors 0, -1, 1, -2: MAE 4/4 = 1, RMSE sqrt(6/4).
  // Pearson: deviations (-1.5, -.5, .5, 1.5) and (-2, 0, -1, 3): 7 / sqrt(5 * 14).
  // Spearman: ranks (1 2 3 4) vs (1 3 2 4): 1 - 6 * 2 / (4 * 15) = 0.8.
  const RegressionMetrics m = Regression({1, 2, 3, 4}, {1, 3, 2, 6});
  EXPECT_EQ(m.n, 4);
  EXPECT_NEAR(m.mae, 1.0, kTol);
  EXPECT_NEAR(m.rmse, std::sqrt(1.5), kTol);
  EXPECT_NEAR(m.pearson, 7 / std::sqrt(70.0), kTol);
  EXPECT_NEAR(m.spearman, 0.8, kTol);
}

TEST(RegressionTest, PearsonOfLinearSeriesIsPlusMinusOne) {
  std::vector<double> x;
  std::vector<double> up;
  std::vector<double> down;
  for (int i = 0; i < 10; ++i) {
    x.push_back(0.1 * i);
    up.push_back(2 * 0.1 * i + 1);
    down.push_back(-3 * 0.1 * i);
  }
  EXPECT_NEAR(Regression(up, x).pearson, 1.0, kTol);
  EXPECT_NEAR(Regression(down, x).pearson, -1.0, kTol);
  EXPECT_NEAR(Regression(down, x).spearman, -1.0, kTol);
}

TEST(RegressionTest, SpearmanWithTiesUsesAverageRanks) {
  // Ranks (1, 2.5, 2.5, 4) vs (1, 2, 3, 4); deviations (-1.5, 0, 0, 1.5) and
  // (-1.5, -.5, .5, 1.5): 4.5 / sqrt(4.5 * 5) = sqrt(0.9). Ordinal ranks (1 2 3 4) would give 1.
  const RegressionMetrics m = Regression({1, 2, 2, 3}, {1, 2, 3, 4});
  EXPECT_NEAR(m.spearman, std::sqrt(0.9), kTol);
  // Pearson on the raw values: deviations (-1, 0, 0, 1): 3 / sqrt(2 * 5).
  EXPECT_NEAR(m.pearson, 3 / std::sqrt(10.0), kTol);
}

TEST(RegressionTest, UndefinedFiguresAreNaN) {
  const RegressionMetrics empty = Regression({}, {});
  EXPECT_EQ(empty.n, 0);
  EXPECT_TRUE(std::isnan(empty.mae));
  EXPECT_TRUE(std::isnan(empty.rmse));
  EXPECT_TRUE(std::isnan(empty.pearson));
  EXPECT_TRUE(std::isnan(empty.spearman));

  const RegressionMetrics one = Regression({2}, {5});
  EXPECT_NEAR(one.mae, 3, kTol);
  EXPECT_NEAR(one.rmse, 3, kTol);
  EXPECT_TRUE(std::isnan(one.pearson));
  EXPECT_TRUE(std::isnan(one.spearman));

  // A constant truth has no correlation, even where rounding makes the mean inexact.
  const RegressionMetrics constant = Regression({1, 2, 3}, {0.1, 0.1, 0.1});
  EXPECT_NEAR(constant.mae, (0.9 + 1.9 + 2.9) / 3, kTol);
  EXPECT_TRUE(std::isnan(constant.pearson));
  EXPECT_TRUE(std::isnan(constant.spearman));

  const RegressionMetrics nan_input = Regression({1, kNaN, 3}, {1, 2, 3});
  EXPECT_TRUE(std::isnan(nan_input.mae));
  EXPECT_TRUE(std::isnan(nan_input.pearson));
  EXPECT_TRUE(std::isnan(nan_input.spearman));
}

TEST(AverageRanksTest, TiesShareTheirMeanRank) {
  // Sorted: 10 10 | 20 20 20 | 30 -> ranks (1+2)/2, (3+4+5)/3, 6.
  EXPECT_EQ(AverageRanks({10, 20, 10, 30, 20, 20}), (std::vector<double>{1.5, 4, 1.5, 6, 4, 4}));
  EXPECT_EQ(AverageRanks({3, -1, 2}), (std::vector<double>{3, 1, 2}));
  EXPECT_TRUE(AverageRanks({}).empty());
}

TEST(AverageRanksTest, NaNIsNotRanked) {
  const std::vector<double> r = AverageRanks({3, kNaN, 1});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], 2);
  EXPECT_TRUE(std::isnan(r[1]));
  EXPECT_EQ(r[2], 1);
}

// ---- ROC-AUC -----------------------------------------------------------------------------

TEST(RocAucTest, TiesCountHalf) {
  // Positives 0.9 and 0.8, negatives 0.8, 0.3, 0.8: 6 pairs. 0.9 beats all three (3);
  // 0.8 ties two (0.5 + 0.5) and beats 0.3 (1): (3 + 2) / 6.
  EXPECT_NEAR(RocAuc({0.9, 0.8, 0.8, 0.3, 0.8}, {true, true, false, false, false}), 5.0 / 6, kTol);
}

TEST(RocAucTest, PerfectReversedAndTiedRankings) {
  EXPECT_NEAR(RocAuc({0.9, 0.8, 0.1, 0.2}, {true, true, false, false}), 1.0, kTol);
  EXPECT_NEAR(RocAuc({0.1, 0.2, 0.9, 0.8}, {true, true, false, false}), 0.0, kTol);
  EXPECT_NEAR(RocAuc({0.5, 0.5, 0.5, 0.5}, {true, false, true, false}), 0.5, kTol);
}

TEST(RocAucTest, UndefinedIsNaN) {
  EXPECT_TRUE(std::isnan(RocAuc({0.1, 0.2}, {true, true})));
  EXPECT_TRUE(std::isnan(RocAuc({0.1, 0.2}, {false, false})));
  EXPECT_TRUE(std::isnan(RocAuc({}, {})));
  EXPECT_TRUE(std::isnan(RocAuc({0.1, kNaN}, {true, false})));
}

// ---- Classification ------------------------------------------------------------------------

// truth (0 0 1 1 2 2), predicted (0 1 1 1 0 0): class 2 is never predicted.
// confusion [truth][pred] = {{1,1,0}, {0,2,0}, {2,0,0}}; accuracy 3/6.
// class 0: P 1/3 (column 1+0+2), R 1/2, F1 2*1/(2+3) = 0.4
// class 1: P 2/3, R 1, F1 2*2/(2+3) = 0.8
// class 2: P 0 (nothing predicted: zero_division=0), R 0, F1 0
// macro: P 1/3, R 1/2, F1 0.4.
const std::vector<int> kTruth = {0, 0, 1, 1, 2, 2};
const std::vector<int> kPredicted = {0, 1, 1, 1, 0, 0};

TEST(ClassificationTest, MacroFiguresWithANeverPredictedClass) {
  const ClassificationMetrics m = Classification(kTruth, kPredicted, 3);
  EXPECT_EQ(m.n, 6);
  EXPECT_NEAR(m.accuracy, 0.5, kTol);
  EXPECT_NEAR(m.precision_macro, 1.0 / 3, kTol);
  EXPECT_NEAR(m.recall_macro, 0.5, kTol);
  EXPECT_NEAR(m.f1_macro, 0.4, kTol);
  ASSERT_EQ(m.per_class_f1.size(), 3u);
  EXPECT_NEAR(m.per_class_f1[0], 0.4, kTol);
  EXPECT_NEAR(m.per_class_f1[1], 0.8, kTol);
  EXPECT_NEAR(m.per_class_f1[2], 0.0, kTol);
  EXPECT_TRUE(std::isnan(m.roc_auc_ovr));  // no scores given
}

TEST(ClassificationTest, ConfusionIsTruthByPrediction) {
  const ClassificationMetrics m = Classification(kTruth, kPredicted, 3);
  const std::vector<std::vector<int64_t>> expected = {{1, 1, 0}, {0, 2, 0}, {2, 0, 0}};
  EXPECT_EQ(m.confusion, expected);
}

TEST(ClassificationTest, AbsentClassIsNotAveraged) {
  // Class 3 occurs neither in the truth nor in the predictions: same macro figures as with 3
  // classes, and its F1 is undefined.
  const ClassificationMetrics m = Classification(kTruth, kPredicted, 4);
  EXPECT_NEAR(m.precision_macro, 1.0 / 3, kTol);
  EXPECT_NEAR(m.recall_macro, 0.5, kTol);
  EXPECT_NEAR(m.f1_macro, 0.4, kTol);
  ASSERT_EQ(m.per_class_f1.size(), 4u);
  EXPECT_TRUE(std::isnan(m.per_class_f1[3]));
  ASSERT_EQ(m.confusion.size(), 4u);
  EXPECT_EQ(m.confusion[3], (std::vector<int64_t>{0, 0, 0, 0}));
}

TEST(ClassificationTest, OneVsRestRocAuc) {
  const std::vector<std::vector<double>> scores = {
      {0.6, 0.3, 0.1}, {0.4, 0.5, 0.1},  // truth 0
      {0.2, 0.7, 0.1}, {0.3, 0.6, 0.1},  // truth 1
      {0.5, 0.2, 0.3}, {0.4, 0.3, 0.3},  // truth 2
  };
  // Class 0: positives 0.6, 0.4 vs negatives 0.2 0.3 0.5 0.4: 4 + (2 + 0.5) = 6.5 of 8.
  // Class 1: positives 0.7, 0.6 above every negative: 1. Class 2: 0.3, 0.3 above 0.1s: 1.
  const ClassificationMetrics m = Classification(kTruth, kPredicted, 3, scores);
  EXPECT_NEAR(m.roc_auc_ovr, (6.5 / 8 + 1 + 1) / 3, kTol);

  // A class absent from the truth has no positives and is left out of the average.
  const ClassificationMetrics two =
      Classification({0, 0, 1, 1}, {0, 0, 1, 1}, 3,
                     {{0.9, 0.1, 0.0}, {0.2, 0.1, 0.7}, {0.5, 0.4, 0.1}, {0.1, 0.8, 0.1}});
  // Class 0: 0.9 beats 0.5, 0.1; 0.2 beats 0.1 only: 3 of 4. Class 1: 0.4, 0.8 vs 0.1, 0.1: 1.
  EXPECT_NEAR(two.roc_auc_ovr, (0.75 + 1) / 2, kTol);
}

TEST(ClassificationTest, UndefinedFiguresAreNaN) {
  const ClassificationMetrics empty = Classification({}, {}, 3);
  EXPECT_EQ(empty.n, 0);
  EXPECT_TRUE(std::isnan(empty.accuracy));
  EXPECT_TRUE(std::isnan(empty.f1_macro));
  EXPECT_TRUE(std::isnan(empty.roc_auc_ovr));

  // One class in the truth: no negatives for ROC-AUC.
  const ClassificationMetrics single = Classification({1, 1}, {1, 0}, 2, {{0.2, 0.8}, {0.6, 0.4}});
  EXPECT_NEAR(single.accuracy, 0.5, kTol);
  EXPECT_TRUE(std::isnan(single.roc_auc_ovr));
}

TEST(ClassificationTest, OutOfRangeIndicesAreLeftOut) {
  const ClassificationMetrics m = Classification({0, 5, 1, -1}, {0, 0, 0, 1}, 2);
  EXPECT_EQ(m.n, 2);
  EXPECT_NEAR(m.accuracy, 0.5, kTol);
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{1, 0}, {1, 0}}));
}

// ---- Ranking ------------------------------------------------------------------------------

TEST(RecallAtKTest, TiesArePessimisticAndNegativeSkips) {
  ScoreMatrix sim;
  sim.num_queries = 3;
  sim.num_docs = 3;
  sim.scores = {
      0.9f, 0.5f, 0.9f,  // relevant 0 ties with doc 2: rank 2 (pessimistic)
      0.1f, 0.8f, 0.3f,  // relevant 1 is first
      0.7f, 0.2f, 0.1f,  // skipped
  };
  const std::vector<int64_t> relevant = {0, 1, -1};
  EXPECT_NEAR(RecallAtK(sim, relevant, 1), 0.5, kTol);
  EXPECT_NEAR(RecallAtK(sim, relevant, 2), 1.0, kTol);
  EXPECT_NEAR(RecallAtK(sim, relevant, 3), 1.0, kTol);
  EXPECT_TRUE(std::isnan(RecallAtK(sim, {-1, -1, -1}, 1)));
}

TEST(RecallAtKTest, RelevantDocumentOutOfRangeIsAMiss) {
  ScoreMatrix sim{1, 2, {0.5f, 0.4f}};
  EXPECT_NEAR(RecallAtK(sim, {7}, 2), 0.0, kTol);
}

// One query, scores (0.1 0.9 0.5 0.5), grades (3 0 1 2). Ranking (ties by doc index):
// doc1 (grade 0), doc2 (1), doc3 (2), doc0 (3); gains 2^g - 1 = 0, 1, 3, 7.
// DCG@3 = 0/log2(2) + 1/log2(3) + 3/log2(4); ideal grades 3 2 1: 7 + 3/log2(3) + 1/2.
double ExpectedNdcg3() { return (1 / std::log2(3.0) + 3.0 / 2) / (7 + 3 / std::log2(3.0) + 0.5); }

TEST(NdcgAtKTest, HandComputedWithStableTieBreak) {
  ScoreMatrix sim{1, 4, {0.1f, 0.9f, 0.5f, 0.5f}};
  const std::vector<int> grades = {3, 0, 1, 2};
  EXPECT_NEAR(NdcgAtK(sim, grades, 3), ExpectedNdcg3(), kTol);
  // k beyond the number of documents: every document counts.
  const double dcg = 1 / std::log2(3.0) + 3.0 / 2 + 7 / std::log2(5.0);
  const double idcg = 7 + 3 / std::log2(3.0) + 1.0 / 2;
  EXPECT_NEAR(NdcgAtK(sim, grades, 10), dcg / idcg, kTol);
  // k = 1: the top document has grade 0.
  EXPECT_NEAR(NdcgAtK(sim, grades, 1), 0.0, kTol);
}

TEST(NdcgAtKTest, AllZeroQueriesAreSkippedAndOthersAveraged) {
  ScoreMatrix sim{3,
                  4,
                  {
                      0.1f, 0.9f, 0.5f, 0.5f,  // the hand-computed query
                      0.4f, 0.3f, 0.2f, 0.1f,  // all grades 0: skipped
                      0.4f, 0.3f, 0.2f, 0.1f,  // ideal order: 1
                  }};
  const std::vector<int> grades = {3, 0, 1, 2, 0, 0, 0, 0, 2, 1, 1, 0};
  EXPECT_NEAR(NdcgAtK(sim, grades, 3), (ExpectedNdcg3() + 1) / 2, kTol);
  EXPECT_TRUE(std::isnan(NdcgAtK(ScoreMatrix{1, 2, {0.5f, 0.1f}}, {0, 0}, 2)));
  EXPECT_TRUE(std::isnan(NdcgAtK(sim, grades, 0)));
}

// ---- Clustering -------------------------------------------------------------------------

// A (0,0), B (0,1) in cluster 0; C (3,0), D (3,1) in cluster 1.
const std::vector<float> kSquarePoints = {0, 0, 0, 1, 3, 0, 3, 1};
const std::vector<int> kSquareLabels = {0, 0, 1, 1};

TEST(SilhouetteTest, TwoClustersByHand) {
  // For A: a = |AB| = 1, b = (|AC| + |AD|) / 2 = (3 + sqrt(10)) / 2, s = 1 - a / b; the four
  // points are symmetric, so the mean is the same.
  const double b = (3 + std::sqrt(10.0)) / 2;
  EXPECT_NEAR(Silhouette(kSquarePoints, 2, kSquareLabels), 1 - 1 / b, 1e-9);
}

TEST(SilhouetteTest, SingletonScoresZero) {
  // 1-D: A 0, B 2 (cluster 0), C 5 (cluster 1, alone). A: a 2, b 5 -> 3/5. B: a 2, b 3 ->
  // 1/3. C: 0. Mean (3/5 + 1/3) / 3 = 14/45.
  EXPECT_NEAR(Silhouette({0, 2, 5}, 1, {0, 0, 1}), 14.0 / 45, 1e-9);
}

TEST(SilhouetteTest, NegativeLabelsAreLeftOut) {
  std::vector<float> points = kSquarePoints;
  points.insert(points.end(), {100, 100});
  std::vector<int> labels = kSquareLabels;
  labels.push_back(-1);
  EXPECT_NEAR(Silhouette(points, 2, labels), Silhouette(kSquarePoints, 2, kSquareLabels), 1e-12);
}

TEST(SilhouetteTest, UndefinedIsNaN) {
  EXPECT_TRUE(std::isnan(Silhouette({0, 1, 2}, 1, {0, 0, 0})));  // one cluster
  EXPECT_TRUE(std::isnan(Silhouette({0}, 1, {0})));              // one point
  EXPECT_TRUE(std::isnan(Silhouette({}, 1, {})));
}

TEST(DaviesBouldinTest, TwoClustersByHand) {
  // Centroids (0, .5) and (3, .5), 3 apart; every point is 0.5 from its centroid:
  // R = (0.5 + 0.5) / 3 for both clusters.
  EXPECT_NEAR(DaviesBouldin(kSquarePoints, 2, kSquareLabels), 1.0 / 3, 1e-9);
}

TEST(DaviesBouldinTest, ThreeClustersByHand) {
  // 1-D: {0, 2} centroid 1 spread 1; {10} centroid 10 spread 0; {20, 24} centroid 22 spread 2.
  // R01 = 1/9, R02 = 3/21 = 1/7, R12 = 2/12 = 1/6. Max per cluster: 1/7, 1/6, 1/6.
  EXPECT_NEAR(DaviesBouldin({0, 2, 10, 20, 24}, 1, {0, 0, 1, 2, 2}),
              (1.0 / 7 + 1.0 / 6 + 1.0 / 6) / 3, 1e-9);
}

TEST(DaviesBouldinTest, UndefinedIsNaN) {
  EXPECT_TRUE(std::isnan(DaviesBouldin({0, 1, 2}, 1, {4, 4, 4})));
  EXPECT_TRUE(std::isnan(DaviesBouldin({}, 2, {})));
}

// ---- Cross-validation ---------------------------------------------------------------------

TEST(StratifiedFoldsTest, EachClassAndEachFoldIsBalanced) {
  std::vector<int> labels;
  for (int i = 0; i < 10; ++i) labels.push_back(0);
  for (int i = 0; i < 7; ++i) labels.push_back(1);
  for (int i = 0; i < 3; ++i) labels.push_back(2);
  std::rotate(labels.begin(), labels.begin() + 5, labels.end());  // interleave a little
  const int folds = 3;
  const std::vector<int> fold = StratifiedFolds(labels, folds, 42);
  ASSERT_EQ(fold.size(), labels.size());
  std::vector<std::vector<int>> count(3, std::vector<int>(folds, 0));
  std::vector<int> size(folds, 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    ASSERT_GE(fold[i], 0);
    ASSERT_LT(fold[i], folds);
    ++count[labels[i]][fold[i]];
    ++size[fold[i]];
  }
  for (const auto& per_fold : count) {
    const auto [lo, hi] = std::minmax_element(per_fold.begin(), per_fold.end());
    EXPECT_LE(*hi - *lo, 1);
  }
  const auto [lo, hi] = std::minmax_element(size.begin(), size.end());
  EXPECT_LE(*hi - *lo, 1);  // 20 examples: 7, 7, 6
}

TEST(StratifiedFoldsTest, DeterministicForASeedAndShuffledAcrossSeeds) {
  std::vector<int> labels(60);
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int>(i % 3);
  const std::vector<int> a = StratifiedFolds(labels, 5, 7);
  EXPECT_EQ(a, StratifiedFolds(labels, 5, 7));
  EXPECT_NE(a, StratifiedFolds(labels, 5, 8));
  // Shuffled: not the deal of each class's members in input order.
  std::vector<int> unshuffled(labels.size());
  int next = 0;
  for (int c = 0; c < 3; ++c) {
    for (size_t i = c; i < labels.size(); i += 3) unshuffled[i] = next++ % 5;
  }
  EXPECT_NE(a, unshuffled);
}

TEST(StratifiedFoldsTest, OneFoldAndEmptyInput) {
  EXPECT_EQ(StratifiedFolds({0, 1, 1}, 1, 3), (std::vector<int>{0, 0, 0}));
  EXPECT_TRUE(StratifiedFolds({}, 4, 3).empty());
}

}  // namespace
}  // namespace matalign::eval
