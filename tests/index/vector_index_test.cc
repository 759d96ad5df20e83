// VectorIndex against real FAISS, with exact brute force over a model of the live vectors
// as the oracle.
#include "index/vector_index.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/file.h"
#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::index {
namespace {

using ::matalign::testing::TempDir;

// n unit vectors of dim d, uniform on the sphere.
std::vector<float> RandomUnit(int64_t n, int d, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> x(static_cast<size_t>(n) * d);
  for (int64_t i = 0; i < n; ++i) {
    float* row = x.data() + i * d;
    double norm = 0;
    for (int j = 0; j < d; ++j) {
      row[j] = normal(rng);
      norm += row[j] * row[j];
    }
    for (int j = 0; j < d; ++j) row[j] = static_cast<float>(row[j] / std::sqrt(norm));
  }
  return x;
}

// n unit vectors of dim d around `clusters` random centres (spread 0.5 per coordinate).
std::vector<float> Clustered(int64_t n, int d, int clusters, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> centres(static_cast<size_t>(clusters) * d);
  for (float& v : centres) v = normal(rng);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::vector<float> x(static_cast<size_t>(n) * d);
  for (int64_t i = 0; i < n; ++i) {
    const float* c = centres.data() + pick(rng) * d;
    float* row = x.data() + i * d;
    double norm = 0;
    for (int j = 0; j < d; ++j) {
      row[j] = c[j] + 0.5f * normal(rng);
      norm += row[j] * row[j];
    }
    for (int j = 0; j < d; ++j) row[j] = static_cast<float>(row[j] / std::sqrt(norm));
  }
  return x;
}

float Dot(const float* a, const float* b, int d) {
  double s = 0;
  for (int j = 0; j < d; ++j) s += static_cast<double>(a[j]) * b[j];
  return static_cast<float>(s);
}

// The live vectors by id: what the index should hold.
using Model = std::map<int64_t, std::vector<float>>;

struct Hit {
  int64_t id;
  float score;
};

// Exact top-k of `query` over `model` (restricted to `allowed` if given), best first.
std::vector<Hit> BruteForce(const Model& model, const float* query, int d, int k,
                            const AllowedIds* allowed = nullptr) {
  std::vector<Hit> hits;
  for (const auto& [id, v] : model) {
    if (allowed != nullptr && !allowed->Contains(id)) continue;
    hits.push_back({id, Dot(query, v.data(), d)});
  }
  const size_t top = std::min<size_t>(k, hits.size());
  std::partial_sort(hits.begin(), hits.begin() + top, hits.end(),
                    [](const Hit& a, const Hit& b) { return a.score > b.score; });
  hits.resize(top);
  return hits;
}

constexpr float kScoreTolerance = 1e-4f;

// Checks row q of `result` against the exact answer. Every returned id must be live,
// allowed and carry its true score, rows must be sorted, padding only at the end. Exact
// indexes must return exactly the brute-force scores (ids may differ only between equal
// scores). Returns the number of the exact top-k ids that were found (for recall).
int CheckRow(const SearchResult& result, int64_t q, const Model& model, const float* query, int d,
             int k, const AllowedIds* allowed, bool exact) {
  const std::vector<Hit> truth = BruteForce(model, query, d, k, allowed);
  std::set<int64_t> truth_ids;
  for (const Hit& h : truth) truth_ids.insert(h.id);
  int found = 0;
  int returned = 0;
  std::set<int64_t> seen;
  for (int j = 0; j < k; ++j) {
    const int64_t id = result.id(q, j);
    if (id == -1) {
      EXPECT_EQ(result.score(q, j), -std::numeric_limits<float>::infinity());
      for (int t = j; t < k; ++t) EXPECT_EQ(result.id(q, t), -1) << "padding in the middle";
      break;
    }
    ++returned;
    EXPECT_TRUE(seen.insert(id).second) << "id " << id << " returned twice";
    auto it = model.find(id);
    if (it == model.end()) {
      ADD_FAILURE() << "query " << q << " returned id " << id << ", which is not live";
      continue;
    }
    if (allowed != nullptr) {
      EXPECT_TRUE(allowed->Contains(id)) << "id " << id << " not allowed";
    }
    EXPECT_NEAR(result.score(q, j), Dot(query, it->second.data(), d), kScoreTolerance);
    if (j > 0) {
      EXPECT_GE(result.score(q, j - 1), result.score(q, j) - kScoreTolerance);
    }
    if (truth_ids.count(id) != 0) ++found;
    if (exact && j < static_cast<int>(truth.size())) {
      EXPECT_NEAR(result.score(q, j), truth[j].score, kScoreTolerance) << "rank " << j;
    }
  }
  if (exact) {
    EXPECT_EQ(returned, static_cast<int>(truth.size()));
  }
  return found;
}

// ---------------------------------------------------------------------------------------
// Tests over index configurations.

struct Config {
  std::string name;
  std::string factory;
  int64_t exact_filter_below;  // 0: every filtered search goes through FAISS's IDSelector
  bool exact;                  // whether results must equal brute force
  bool tombstones;             // whether removal leaves tombstones
};

void PrintTo(const Config& config, std::ostream* os) { *os << config.name; }

class VectorIndexConfigTest : public ::testing::TestWithParam<Config> {
 protected:
  static constexpr int kDim = 32;
  static constexpr int64_t kCount = 2000;

  VectorIndexOptions Options() const {
    VectorIndexOptions options;
    options.dim = kDim;
    options.factory = GetParam().factory;
    options.exact_filter_below = GetParam().exact_filter_below;
    return options;
  }

  // Creates the index (trained if needed) holding kCount random vectors with ids 10, 17, ...
  void SetUp() override {
    auto index = VectorIndex::Create(Options());
    ASSERT_OK(index);
    index_ = std::move(index).value();
    if (index_->needs_training()) {
      ASSERT_OK(index_->Train(RandomUnit(4000, kDim, 99)));
    }
    const std::vector<float> x = RandomUnit(kCount, kDim, 1);
    std::vector<int64_t> ids(kCount);
    for (int64_t i = 0; i < kCount; ++i) {
      ids[i] = 10 + 7 * i;
      model_[ids[i]] = std::vector<float>(x.begin() + i * kDim, x.begin() + (i + 1) * kDim);
    }
    ASSERT_OK(index_->Upsert(ids, x));
  }

  // Checks `queries` (rows of kDim) with every k in `ks` against the model; returns recall.
  double CheckSearches(const VectorIndex& index, const std::vector<float>& queries,
                       std::vector<int> ks, const AllowedIds* allowed = nullptr) {
    int64_t found = 0, wanted = 0;
    const int64_t n = static_cast<int64_t>(queries.size() / kDim);
    for (int k : ks) {
      auto result = index.Search(queries, k, allowed);
      EXPECT_OK(result);
      if (!result.ok()) return 0;
      EXPECT_EQ(result->num_queries, n);
      EXPECT_EQ(result->k, k);
      for (int64_t q = 0; q < n; ++q) {
        found += CheckRow(*result, q, model_, queries.data() + q * kDim, kDim, k, allowed,
                          GetParam().exact);
        wanted += static_cast<int64_t>(
            BruteForce(model_, queries.data() + q * kDim, kDim, k, allowed).size());
      }
    }
    return wanted == 0 ? 1.0 : static_cast<double>(found) / wanted;
  }

  std::unique_ptr<VectorIndex> index_;
  Model model_;
};

TEST_P(VectorIndexConfigTest, RoundTrip) {
  EXPECT_EQ(index_->size(), kCount);
  EXPECT_EQ(index_->dim(), kDim);
  EXPECT_EQ(index_->factory(), GetParam().factory);
  std::vector<int64_t> expected_ids;
  for (const auto& [id, v] : model_) expected_ids.push_back(id);
  EXPECT_EQ(index_->Ids(), expected_ids);
  EXPECT_TRUE(index_->Contains(10));
  EXPECT_FALSE(index_->Contains(11));

  // Every stored vector finds itself first, with score |v|^2 = 1.
  int self_first = 0;
  for (int64_t id = 10; id < 10 + 7 * 200; id += 7) {
    const std::vector<float>& v = model_.at(id);
    ASSERT_OK_AND_ASSIGN(SearchResult r, index_->Search(v, 1));
    if (r.id(0, 0) == id) ++self_first;
    ASSERT_OK_AND_ASSIGN(std::vector<float> stored, index_->Reconstruct(id));
    EXPECT_EQ(stored, v) << "id " << id;
  }
  EXPECT_EQ(self_first, 200);
  EXPECT_EQ(index_->Reconstruct(11).status().code(), absl::StatusCode::kNotFound);

  const double recall = CheckSearches(*index_, RandomUnit(40, kDim, 2), {1, 10, 100});
  EXPECT_GE(recall, GetParam().exact ? 1.0 : 0.95);
}

TEST_P(VectorIndexConfigTest, UpsertReplaces) {
  const std::vector<float> fresh = RandomUnit(300, kDim, 3);
  std::vector<int64_t> ids;
  for (int i = 0; i < 300; ++i) {
    // 150 existing ids (replaced) and 150 new ones.
    const int64_t id = i < 150 ? 10 + 7 * (3 * i) : 1000000 + i;
    ids.push_back(id);
    model_[id] = std::vector<float>(fresh.begin() + i * kDim, fresh.begin() + (i + 1) * kDim);
  }
  ASSERT_OK(index_->Upsert(ids, fresh));
  EXPECT_EQ(index_->size(), kCount + 150);
  for (int i = 0; i < 300; i += 10) {
    ASSERT_OK_AND_ASSIGN(std::vector<float> stored, index_->Reconstruct(ids[i]));
    EXPECT_EQ(stored, model_.at(ids[i]));
    ASSERT_OK_AND_ASSIGN(SearchResult r, index_->Search(model_.at(ids[i]), 1));
    EXPECT_EQ(r.id(0, 0), ids[i]);
  }
  // Searching for a replaced id's old vector must not find it with its old score; the
  // full check compares every score with the model's (new) vectors.
  const double recall = CheckSearches(*index_, RandomUnit(40, kDim, 4), {1, 10, 50});
  EXPECT_GE(recall, GetParam().exact ? 1.0 : 0.95);
  if (GetParam().tombstones) {
    EXPECT_EQ(index_->num_tombstones(), 150);
  } else {
    EXPECT_EQ(index_->num_tombstones(), 0);
  }
}

TEST_P(VectorIndexConfigTest, Remove) {
  std::vector<int64_t> remove;
  for (int64_t i = 0; i < kCount; i += 9) remove.push_back(10 + 7 * i);
  const int64_t present = static_cast<int64_t>(remove.size());
  remove.push_back(11);         // never added
  remove.push_back(remove[0]);  // twice in one call
  int64_t removed = -1;
  ASSERT_OK(index_->Remove(remove, &removed));
  EXPECT_EQ(removed, present);
  for (int64_t id : remove) model_.erase(id);
  EXPECT_EQ(index_->size(), kCount - present);
  EXPECT_FALSE(index_->Contains(remove[0]));
  EXPECT_EQ(index_->Reconstruct(remove[1]).status().code(), absl::StatusCode::kNotFound);
  std::vector<int64_t> expected_ids;
  for (const auto& [id, v] : model_) expected_ids.push_back(id);
  EXPECT_EQ(index_->Ids(), expected_ids);

  // A removed vector is not found even by itself.
  const std::set<int64_t> gone(remove.begin(), remove.end());
  const std::vector<float> old = RandomUnit(kCount, kDim, 1);  // the vectors of SetUp
  for (int64_t i = 0; i < 20 * 9; i += 9) {
    ASSERT_OK_AND_ASSIGN(SearchResult r,
                         index_->Search(absl::MakeConstSpan(old.data() + i * kDim, kDim), 20));
    for (int j = 0; j < 20; ++j) EXPECT_EQ(gone.count(r.id(0, j)), 0u) << r.id(0, j);
  }
  const double recall = CheckSearches(*index_, RandomUnit(40, kDim, 5), {1, 10, 100});
  EXPECT_GE(recall, GetParam().exact ? 1.0 : 0.95);

  // Removing again is a no-op; re-adding works.
  ASSERT_OK(index_->Remove(absl::MakeConstSpan(remove.data(), 3), &removed));
  EXPECT_EQ(removed, 0);
  const std::vector<float> back = RandomUnit(1, kDim, 6);
  ASSERT_OK(index_->Upsert(absl::MakeConstSpan(remove.data(), 1), back));
  model_[remove[0]] = back;
  EXPECT_TRUE(index_->Contains(remove[0]));
  ASSERT_OK_AND_ASSIGN(SearchResult again, index_->Search(back, 1));
  EXPECT_EQ(again.id(0, 0), remove[0]);
}

TEST_P(VectorIndexConfigTest, FilterMatchesBruteForce) {
  std::mt19937_64 rng(7);
  const std::vector<float> queries = RandomUnit(15, kDim, 8);
  int64_t found = 0, wanted = 0;
  for (int64_t filter_size : {1, 5, 60, 400, 1500}) {
    for (int rep = 0; rep < 2; ++rep) {
      std::vector<int64_t> allowed_ids;
      std::uniform_int_distribution<int64_t> pick(0, kCount + 100);
      for (int64_t i = 0; i < filter_size; ++i) {
        allowed_ids.push_back(10 + 7 * pick(rng));  // some beyond the stored ids
      }
      allowed_ids.push_back(3);  // never stored
      const AllowedIds allowed(allowed_ids);
      for (int k : {1, 10, 100}) {
        ASSERT_OK_AND_ASSIGN(SearchResult r, index_->Search(queries, k, &allowed));
        for (int64_t q = 0; q < 15; ++q) {
          const float* query = queries.data() + q * kDim;
          found += CheckRow(r, q, model_, query, kDim, k, &allowed, GetParam().exact);
          wanted += static_cast<int64_t>(BruteForce(model_, query, kDim, k, &allowed).size());
        }
      }
    }
  }
  EXPECT_GE(static_cast<double>(found) / wanted, GetParam().exact ? 1.0 : 0.95);

  // An empty filter returns nothing.
  const AllowedIds none({});
  ASSERT_OK_AND_ASSIGN(SearchResult r, index_->Search(queries, 5, &none));
  for (int64_t id : r.ids) EXPECT_EQ(id, -1);
}

TEST_P(VectorIndexConfigTest, SaveLoadEquality) {
  // Leave removals (tombstones where the type keeps them) and replacements in the index.
  std::vector<int64_t> remove;
  for (int64_t i = 0; i < 200; ++i) remove.push_back(10 + 7 * (5 * i));
  ASSERT_OK(index_->Remove(remove));
  for (int64_t id : remove) model_.erase(id);
  const std::vector<float> fresh = RandomUnit(50, kDim, 9);
  std::vector<int64_t> ids;
  for (int i = 0; i < 50; ++i) {
    ids.push_back(10 + 7 * (5 * i + 1));
    model_[ids.back()] =
        std::vector<float>(fresh.begin() + i * kDim, fresh.begin() + (i + 1) * kDim);
  }
  ASSERT_OK(index_->Upsert(ids, fresh));

  TempDir dir;
  const std::string path = dir.Join("snapshots/structure.faiss");
  ASSERT_OK(index_->Save(path, 77));
  VectorIndexOptions options = Options();
  options.factory = "ignored by Load";
  ASSERT_OK_AND_ASSIGN(auto loaded, VectorIndex::Load(path, options));
  std::unique_ptr<VectorIndex> copy = std::move(loaded.first);
  EXPECT_EQ(loaded.second, 77u);
  EXPECT_EQ(copy->factory(), GetParam().factory);
  EXPECT_EQ(copy->dim(), kDim);
  EXPECT_EQ(copy->size(), index_->size());
  EXPECT_EQ(copy->Ids(), index_->Ids());
  EXPECT_EQ(copy->num_tombstones(), index_->num_tombstones());
  EXPECT_EQ(copy->needs_training(), false);

  const std::vector<float> queries = RandomUnit(30, kDim, 10);
  std::vector<int64_t> allowed_ids;
  for (int64_t i = 0; i < kCount; i += 3) allowed_ids.push_back(10 + 7 * i);
  const AllowedIds allowed(allowed_ids);
  for (const AllowedIds* filter : {static_cast<const AllowedIds*>(nullptr), &allowed}) {
    ASSERT_OK_AND_ASSIGN(SearchResult a, index_->Search(queries, 10, filter));
    ASSERT_OK_AND_ASSIGN(SearchResult b, copy->Search(queries, 10, filter));
    EXPECT_EQ(a.ids, b.ids);
    EXPECT_EQ(a.scores, b.scores);
  }
  for (int64_t id : {ids[0], ids[1], int64_t{10 + 7 * 2}}) {
    ASSERT_OK_AND_ASSIGN(std::vector<float> v, copy->Reconstruct(id));
    EXPECT_EQ(v, model_.at(id));
  }

  // The loaded index keeps working: enough removals to force a rebuild.
  std::vector<int64_t> more;
  for (int64_t i = 0; i < kCount; i += 2) {
    if (model_.count(10 + 7 * i) != 0) more.push_back(10 + 7 * i);
  }
  ASSERT_OK(copy->Remove(more));
  for (int64_t id : more) model_.erase(id);
  EXPECT_EQ(copy->num_tombstones(), 0);
  EXPECT_EQ(copy->size(), static_cast<int64_t>(model_.size()));
  const double recall = CheckSearches(*copy, queries, {10});
  EXPECT_GE(recall, GetParam().exact ? 1.0 : 0.95);

  // A second save with a new sequence replaces the first atomically.
  ASSERT_OK(copy->Save(path, 78));
  ASSERT_OK_AND_ASSIGN(auto reloaded, VectorIndex::Load(path, Options()));
  EXPECT_EQ(reloaded.second, 78u);
  EXPECT_EQ(reloaded.first->Ids(), copy->Ids());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.Join("snapshots"))) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "structure.faiss");
  }
  EXPECT_EQ(files, 1);  // no temporary files left behind
}

TEST_P(VectorIndexConfigTest, TombstonesAreCompacted) {
  if (!GetParam().tombstones) {
    // Native removal: nothing to compact.
    ASSERT_OK(index_->Remove({10, 17}));
    EXPECT_EQ(index_->num_tombstones(), 0);
    EXPECT_OK(index_->Compact());
    return;
  }
  // Default max_tombstone_fraction 0.25: 300 of 2000 stays below, 500 more crosses it.
  std::vector<int64_t> first, second;
  for (int64_t i = 0; i < 300; ++i) first.push_back(10 + 7 * i);
  for (int64_t i = 300; i < 800; ++i) second.push_back(10 + 7 * i);
  ASSERT_OK(index_->Remove(first));
  EXPECT_EQ(index_->num_tombstones(), 300);
  const size_t bytes_with_tombstones = index_->MemoryBytes();
  ASSERT_OK(index_->Remove(second));
  EXPECT_EQ(index_->num_tombstones(), 0);
  EXPECT_LT(index_->MemoryBytes(), bytes_with_tombstones);
  for (int64_t id : first) model_.erase(id);
  for (int64_t id : second) model_.erase(id);
  EXPECT_EQ(index_->size(), static_cast<int64_t>(model_.size()));
  double recall = CheckSearches(*index_, RandomUnit(30, kDim, 11), {1, 10});
  EXPECT_GE(recall, GetParam().exact ? 1.0 : 0.95);

  // Explicit Compact after a few replacements.
  const std::vector<float> fresh = RandomUnit(20, kDim, 12);
  std::vector<int64_t> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(10 + 7 * (900 + i));
    model_[ids.back()] =
        std::vector<float>(fresh.begin() + i * kDim, fresh.begin() + (i + 1) * kDim);
  }
  ASSERT_OK(index_->Upsert(ids, fresh));
  EXPECT_EQ(index_->num_tombstones(), 20);
  ASSERT_OK(index_->Compact());
  EXPECT_EQ(index_->num_tombstones(), 0);
  recall = CheckSearches(*index_, RandomUnit(30, kDim, 13), {1, 10});
  EXPECT_GE(recall, GetParam().exact ? 1.0 : 0.95);
  for (int64_t id : ids) {
    ASSERT_OK_AND_ASSIGN(std::vector<float> v, index_->Reconstruct(id));
    EXPECT_EQ(v, model_.at(id));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Configs, VectorIndexConfigTest,
    ::testing::Values(Config{"Flat", "Flat", 8192, /*exact=*/true, /*tombstones=*/false},
                      Config{"FlatFaissFilter", "Flat", 0, true, false},
                      Config{"Hnsw", "HNSW32", 8192, false, true},
                      Config{"HnswFaissFilter", "HNSW32", 0, false, true},
                      // nprobe (16) == nlist: the IVF scan is exhaustive, hence exact.
                      Config{"IvfExhaustive", "IVF16,Flat", 8192, true, true},
                      Config{"IvfExhaustiveFaissFilter", "IVF16,Flat", 0, true, true}),
    [](const ::testing::TestParamInfo<Config>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------

TEST(VectorIndexOptionsTest, Validate) {
  VectorIndexOptions options;
  EXPECT_EQ(options.Validate().code(), absl::StatusCode::kInvalidArgument);  // dim 0
  options.dim = 8;
  EXPECT_OK(options.Validate());
  auto bad = [&](auto mutate) {
    VectorIndexOptions o = options;
    mutate(o);
    return o.Validate().code();
  };
  EXPECT_EQ(bad([](auto& o) { o.dim = -1; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.dim = 70000; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.factory = ""; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.hnsw_ef_search = 0; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.hnsw_ef_construction = 0; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.ivf_nprobe = 0; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.threads = -1; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.exact_filter_below = -1; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.max_tombstone_fraction = -0.1; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](auto& o) { o.max_tombstone_fraction = std::nan(""); }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VectorIndex::Create(VectorIndexOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(VectorIndexTest, AllowedIdsSortsAndDeduplicates) {
  const AllowedIds allowed({5, -3, 2, 5, 9, 2});
  EXPECT_EQ(allowed.ids(), (std::vector<int64_t>{2, 5, 9}));
  EXPECT_EQ(allowed.size(), 3u);
  EXPECT_TRUE(allowed.Contains(5));
  EXPECT_FALSE(allowed.Contains(-3));
  EXPECT_FALSE(allowed.Contains(4));
}

TEST(VectorIndexTest, CreateRejectsUnsupportedFactories) {
  VectorIndexOptions options;
  options.dim = 16;
  for (const char* factory : {"NoSuchIndex", "PQ4", "IDMap2,Flat", "NSG32,Flat", "PCA8,Flat",
                              "IVF8,PQ4x4fs", "HNSW32x", "HNSW16,PQ4"}) {
    options.factory = factory;
    auto index = VectorIndex::Create(options);
    EXPECT_EQ(index.status().code(), absl::StatusCode::kInvalidArgument) << factory;
    EXPECT_NE(index.status().message().find(factory), absl::string_view::npos) << index.status();
  }
  for (const char* factory : {"Flat", "SQ8", "SQfp16", "HNSW16", "HNSW16,Flat", "HNSW16,SQ8",
                              "IVF4,Flat", "IVF4,SQ8", "IVF4,PQ4", "IVF4_HNSW8,Flat"}) {
    options.factory = factory;
    EXPECT_OK(VectorIndex::Create(options));
  }
}

TEST(VectorIndexTest, KBounds) {
  VectorIndexOptions options;
  options.dim = 4;
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  const std::vector<float> q = {1, 0, 0, 0};
  // Empty index: all padding.
  ASSERT_OK_AND_ASSIGN(SearchResult empty, index->Search(q, 3));
  EXPECT_EQ(empty.ids, (std::vector<int64_t>{-1, -1, -1}));
  for (float s : empty.scores) EXPECT_EQ(s, -std::numeric_limits<float>::infinity());

  ASSERT_OK(index->Upsert({1, 2, 3}, {1, 0, 0, 0, 0, 1, 0, 0, 0.5f, 0.5f, 0, 0}));
  for (int k : {0, -1, kMaxSearchK + 1}) {
    EXPECT_EQ(index->Search(q, k).status().code(), absl::StatusCode::kInvalidArgument) << k;
  }
  ASSERT_OK_AND_ASSIGN(SearchResult r, index->Search(q, kMaxSearchK));
  ASSERT_EQ(r.ids.size(), static_cast<size_t>(kMaxSearchK));
  EXPECT_EQ(r.id(0, 0), 1);
  EXPECT_FLOAT_EQ(r.score(0, 0), 1.0f);
  EXPECT_EQ(r.id(0, 1), 3);
  EXPECT_FLOAT_EQ(r.score(0, 1), 0.5f);
  EXPECT_EQ(r.id(0, 2), 2);
  EXPECT_FLOAT_EQ(r.score(0, 2), 0.0f);
  for (int j = 3; j < kMaxSearchK; ++j) {
    EXPECT_EQ(r.id(0, j), -1);
    EXPECT_EQ(r.score(0, j), -std::numeric_limits<float>::infinity());
  }
  // Zero queries is fine.
  ASSERT_OK_AND_ASSIGN(SearchResult none, index->Search(std::vector<float>{}, 5));
  EXPECT_EQ(none.num_queries, 0);
  EXPECT_TRUE(none.ids.empty());
}

TEST(VectorIndexTest, DimensionMismatch) {
  VectorIndexOptions options;
  options.dim = 8;
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  const std::vector<float> seven(7, 0.1f), sixteen(16, 0.1f);
  absl::Status s = index->Upsert({1, 2}, seven);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("need 16 floats, got 7"), absl::string_view::npos) << s;
  EXPECT_EQ(index->Upsert({1}, sixteen).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->size(), 0);
  EXPECT_EQ(index->Search(seven, 1).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Train(seven).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(index->Upsert(nullptr, nullptr, -1).code(), absl::StatusCode::kInvalidArgument);

  // A snapshot of dim 8 does not load as dim 16.
  ASSERT_OK(index->Upsert({1, 2}, sixteen));
  TempDir dir;
  ASSERT_OK(index->Save(dir.Join("x.faiss"), 1));
  options.dim = 16;
  auto loaded = VectorIndex::Load(dir.Join("x.faiss"), options);
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loaded.status().message().find("dim 8"), absl::string_view::npos) << loaded.status();
}

TEST(VectorIndexTest, RejectsBadValuesAndIdsWithoutChanges) {
  VectorIndexOptions options;
  options.dim = 2;
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  ASSERT_OK(index->Upsert({1}, {1, 0}));

  absl::Status s =
      index->Upsert({2, 3, 4}, {0, 1, 1, 1, std::numeric_limits<float>::quiet_NaN(), 0});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("row 2"), absl::string_view::npos) << s;
  s = index->Upsert({2, -5}, {0, 1, 1, 1});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("-5"), absl::string_view::npos) << s;
  EXPECT_EQ(index->Ids(), (std::vector<int64_t>{1}));

  s = index->Search({0, 1, std::numeric_limits<float>::infinity(), 0}, 1).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("query row 1"), absl::string_view::npos) << s;

  EXPECT_EQ(index->Remove({1, -1}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(index->Contains(1));
}

TEST(VectorIndexTest, DuplicateIdsInOneCallLastWins) {
  VectorIndexOptions options;
  options.dim = 2;
  for (const char* factory : {"Flat", "HNSW8"}) {
    options.factory = factory;
    ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
    ASSERT_OK(index->Upsert({7, 8, 7}, {1, 0, 0, 1, -1, 0}));
    EXPECT_EQ(index->size(), 2);
    ASSERT_OK_AND_ASSIGN(std::vector<float> v, index->Reconstruct(7));
    EXPECT_EQ(v, (std::vector<float>{-1, 0})) << factory;
    ASSERT_OK_AND_ASSIGN(SearchResult r, index->Search({-1, 0}, 2));
    EXPECT_EQ(r.id(0, 0), 7);
    EXPECT_FLOAT_EQ(r.score(0, 0), 1.0f);
    EXPECT_EQ(r.id(0, 1), 8);
  }
}

// The default HNSW settings must reach recall@10 >= 0.95 against exact search, on the hard
// case (uniform random unit vectors, no structure) and on clustered data.
TEST(VectorIndexTest, HnswRecallAtDefaultSettings) {
  constexpr int kDim = 64;
  constexpr int64_t kCount = 20000;
  constexpr int kQueries = 200;
  struct Data {
    const char* name;
    std::vector<float> x;
  };
  const Data datasets[] = {{"uniform", RandomUnit(kCount + kQueries, kDim, 21)},
                           {"clustered", Clustered(kCount + kQueries, kDim, 100, 22)}};
  for (const Data& data : datasets) {
    const absl::Span<const float> base(data.x.data(), kCount * kDim);
    const absl::Span<const float> queries(data.x.data() + kCount * kDim, kQueries * kDim);
    std::vector<int64_t> ids(kCount);
    for (int64_t i = 0; i < kCount; ++i) ids[i] = 3 * i + 1;
    VectorIndexOptions options;
    options.dim = kDim;
    ASSERT_OK_AND_ASSIGN(auto flat, VectorIndex::Create(options));
    options.factory = "HNSW32";
    ASSERT_OK_AND_ASSIGN(auto hnsw, VectorIndex::Create(options));
    ASSERT_OK(flat->Upsert(ids, base));
    ASSERT_OK(hnsw->Upsert(ids, base));
    ASSERT_OK_AND_ASSIGN(SearchResult truth, flat->Search(queries, 10));
    ASSERT_OK_AND_ASSIGN(SearchResult approx, hnsw->Search(queries, 10));
    int found = 0;
    for (int q = 0; q < kQueries; ++q) {
      std::set<int64_t> t(truth.ids.begin() + q * 10, truth.ids.begin() + (q + 1) * 10);
      for (int j = 0; j < 10; ++j) found += t.count(approx.id(q, j));
    }
    const double recall = found / (10.0 * kQueries);
    EXPECT_GE(recall, 0.95) << data.name;
    std::printf("HNSW32 defaults, %s d=%d n=%ld: recall@10 %.4f\n", data.name, kDim,
                static_cast<long>(kCount), recall);
  }
}

TEST(VectorIndexTest, IvfIsTrainedThenSearched) {
  constexpr int kDim = 32;
  VectorIndexOptions options;
  options.dim = kDim;
  options.factory = "IVF64,Flat";
  ASSERT_OK_AND_ASSIGN(auto ivf, VectorIndex::Create(options));
  EXPECT_TRUE(ivf->needs_training());
  const std::vector<float> x = Clustered(8000, kDim, 40, 31);
  std::vector<int64_t> ids(8000);
  for (int64_t i = 0; i < 8000; ++i) ids[i] = 1000 + i;
  EXPECT_EQ(ivf->Upsert(ids, x).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ivf->Train(absl::MakeConstSpan(x.data(), 10 * kDim)).code(),
            absl::StatusCode::kInvalidArgument);  // fewer vectors than lists
  ASSERT_OK(ivf->Train(absl::MakeConstSpan(x.data(), 4000 * kDim)));
  EXPECT_FALSE(ivf->needs_training());
  EXPECT_EQ(ivf->Train(x).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(ivf->Upsert(ids, x));

  options.factory = "Flat";
  ASSERT_OK_AND_ASSIGN(auto flat, VectorIndex::Create(options));
  EXPECT_OK(flat->Train(x));  // no training needed: a no-op
  ASSERT_OK(flat->Upsert(ids, x));
  const std::vector<float> queries = Clustered(100, kDim, 40, 31 + 1);
  ASSERT_OK_AND_ASSIGN(SearchResult truth, flat->Search(queries, 10));
  ASSERT_OK_AND_ASSIGN(SearchResult approx, ivf->Search(queries, 10));
  int found = 0;
  for (int q = 0; q < 100; ++q) {
    std::set<int64_t> t(truth.ids.begin() + q * 10, truth.ids.begin() + (q + 1) * 10);
    for (int j = 0; j < 10; ++j) found += t.count(approx.id(q, j));
  }
  EXPECT_GE(found / 1000.0, 0.9);
  ASSERT_OK_AND_ASSIGN(SearchResult self, ivf->Search(absl::MakeConstSpan(x.data(), kDim), 1));
  EXPECT_EQ(self.id(0, 0), 1000);
  ASSERT_OK_AND_ASSIGN(std::vector<float> v, ivf->Reconstruct(1005));
  EXPECT_EQ(v, std::vector<float>(x.begin() + 5 * kDim, x.begin() + 6 * kDim));

  // Training survives a snapshot.
  TempDir dir;
  ASSERT_OK(ivf->Save(dir.Join("ivf.faiss"), 5));
  options.factory = "Flat";  // ignored: the snapshot says IVF64,Flat
  ASSERT_OK_AND_ASSIGN(auto loaded, VectorIndex::Load(dir.Join("ivf.faiss"), options));
  EXPECT_EQ(loaded.first->factory(), "IVF64,Flat");
  EXPECT_FALSE(loaded.first->needs_training());
  ASSERT_OK_AND_ASSIGN(SearchResult again, loaded.first->Search(queries, 10));
  EXPECT_EQ(again.ids, approx.ids);
}

TEST(VectorIndexTest, ScalarQuantizerRemovesNatively) {
  constexpr int kDim = 16;
  VectorIndexOptions options;
  options.dim = kDim;
  options.factory = "SQ8";
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  ASSERT_TRUE(index->needs_training());
  const std::vector<float> x = RandomUnit(500, kDim, 41);
  ASSERT_OK(index->Train(x));
  std::vector<int64_t> ids(500);
  for (int64_t i = 0; i < 500; ++i) ids[i] = i;
  ASSERT_OK(index->Upsert(ids, x));
  ASSERT_OK(index->Remove({0, 1, 2}));
  EXPECT_EQ(index->num_tombstones(), 0);
  EXPECT_EQ(index->size(), 497);
  ASSERT_OK_AND_ASSIGN(SearchResult r,
                       index->Search(absl::MakeConstSpan(x.data() + 10 * kDim, kDim), 1));
  EXPECT_EQ(r.id(0, 0), 10);
  EXPECT_NEAR(r.score(0, 0), 1.0f, 0.05f);  // 8-bit codes: approximate scores
}

// With quantized storage the scores are approximate, so brute force over the raw vectors is
// no oracle; instead the exact filter path (scoring the allowed codes) and FAISS's selector
// path must agree.
TEST(VectorIndexTest, QuantizedFilterPathsAgree) {
  constexpr int kDim = 16;
  const std::vector<float> x = RandomUnit(3000, kDim, 71);
  std::vector<int64_t> ids(3000);
  for (int64_t i = 0; i < 3000; ++i) ids[i] = 5 * i;
  std::vector<int64_t> allowed_ids;
  for (int64_t i = 0; i < 3000; i += 4) allowed_ids.push_back(5 * i);
  const AllowedIds allowed(allowed_ids);
  const std::vector<float> queries = RandomUnit(20, kDim, 72);
  for (const char* factory : {"SQ8", "HNSW16,SQ8", "IVF8,SQ8"}) {
    VectorIndexOptions options;
    options.dim = kDim;
    options.factory = factory;
    options.ivf_nprobe = 8;  // exhaustive
    options.exact_filter_below = 1 << 20;
    ASSERT_OK_AND_ASSIGN(auto exact, VectorIndex::Create(options));
    options.exact_filter_below = 0;
    ASSERT_OK_AND_ASSIGN(auto faiss, VectorIndex::Create(options));
    for (VectorIndex* index : {exact.get(), faiss.get()}) {
      ASSERT_OK(index->Train(x));
      ASSERT_OK(index->Upsert(ids, x));
    }
    ASSERT_OK_AND_ASSIGN(SearchResult a, exact->Search(queries, 10, &allowed));
    ASSERT_OK_AND_ASSIGN(SearchResult b, faiss->Search(queries, 10, &allowed));
    int same = 0;
    for (int q = 0; q < 20; ++q) {
      std::map<int64_t, float> expected;
      for (int j = 0; j < 10; ++j) expected[a.id(q, j)] = a.score(q, j);
      for (int j = 0; j < 10; ++j) {
        EXPECT_TRUE(allowed.Contains(b.id(q, j))) << factory;
        auto it = expected.find(b.id(q, j));
        if (it == expected.end()) continue;
        ++same;
        EXPECT_NEAR(b.score(q, j), it->second, 1e-3) << factory;
      }
      EXPECT_NEAR(a.score(q, 0),
                  Dot(queries.data() + q * kDim, x.data() + a.id(q, 0) / 5 * kDim, kDim), 0.05)
          << factory;
    }
    EXPECT_GE(same, std::string(factory) == "HNSW16,SQ8" ? 180 : 200) << factory;
  }
}

TEST(VectorIndexTest, LoadRejectsDamagedSnapshots) {
  VectorIndexOptions options;
  options.dim = 8;
  options.factory = "HNSW16";
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  std::vector<int64_t> ids(300);
  for (int64_t i = 0; i < 300; ++i) ids[i] = i;
  ASSERT_OK(index->Upsert(ids, RandomUnit(300, 8, 51)));
  TempDir dir;
  const std::string good = dir.Join("good.faiss");
  ASSERT_OK(index->Save(good, 9));
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFile(good));

  EXPECT_EQ(VectorIndex::Load(dir.Join("missing.faiss"), options).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(VectorIndex::Load(dir.path(), options).status().code(),
            absl::StatusCode::kInvalidArgument);

  auto load_variant = [&](const std::string& name, const std::string& contents) {
    const std::string path = dir.Join(name);
    EXPECT_OK(WriteFileAtomic(path, contents));
    return VectorIndex::Load(path, options).status();
  };
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x10;
  absl::Status s = load_variant("flipped.faiss", flipped);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_NE(s.message().find("checksum"), absl::string_view::npos) << s;
  EXPECT_EQ(load_variant("truncated.faiss", bytes.substr(0, bytes.size() - 100)).code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(load_variant("short.faiss", bytes.substr(0, 10)).code(), absl::StatusCode::kDataLoss);
  s = load_variant("other.faiss", std::string(4096, 'x'));
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("not a MatAlign vector index snapshot"), absl::string_view::npos) << s;
  ASSERT_OK_AND_ASSIGN(auto ok, VectorIndex::Load(good, options));
  EXPECT_EQ(ok.second, 9u);
  EXPECT_EQ(ok.first->size(), 300);
}

TEST(VectorIndexTest, SaveReportsUnwritablePath) {
  VectorIndexOptions options;
  options.dim = 2;
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("file"), "x"));
  // The parent "directory" is a file.
  EXPECT_FALSE(index->Save(dir.Join("file/x.faiss"), 1).ok());
}

TEST(VectorIndexTest, MemoryBytesCountsTheVectors) {
  constexpr int kDim = 64;
  VectorIndexOptions options;
  options.dim = kDim;
  ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
  const size_t empty = index->MemoryBytes();
  std::vector<int64_t> ids(5000);
  for (int64_t i = 0; i < 5000; ++i) ids[i] = i;
  ASSERT_OK(index->Upsert(ids, RandomUnit(5000, kDim, 61)));
  const size_t vectors = 5000ull * kDim * sizeof(float);
  EXPECT_GE(index->MemoryBytes() - empty, vectors);
  EXPECT_LE(index->MemoryBytes() - empty, 2 * vectors);
}

// Searches run concurrently with a writer; every answer must be consistent with some state
// of the index. Each id's vector is a function of the id, so a returned (id, score) can be
// checked whenever it was written.
TEST(VectorIndexTest, ConcurrentSearchesWithOneWriter) {
  constexpr int kDim = 16;
  VectorIndexOptions options;
  options.dim = kDim;
  options.threads = 1;
  for (const char* factory : {"Flat", "HNSW16"}) {
    options.factory = factory;
    ASSERT_OK_AND_ASSIGN(auto index, VectorIndex::Create(options));
    auto vector_of = [](int64_t id) {
      std::vector<float> v = RandomUnit(1, kDim, 1000 + id);
      return v;
    };
    std::vector<int64_t> first_ids;
    std::vector<float> first;
    for (int64_t id = 0; id < 500; ++id) {
      first_ids.push_back(id);
      const std::vector<float> v = vector_of(id);
      first.insert(first.end(), v.begin(), v.end());
    }
    ASSERT_OK(index->Upsert(first_ids, first));

    std::atomic<bool> done{false};
    std::atomic<int> bad{0}, searches{0};
    auto reader = [&](int seed) {
      const std::vector<float> queries = RandomUnit(4, kDim, 5000 + seed);
      std::vector<int64_t> allowed_ids;
      for (int64_t id = seed; id < 2000; id += 3) allowed_ids.push_back(id);
      const AllowedIds allowed(allowed_ids);
      int rounds = 0;
      while (!done.load() || rounds < 20) {
        auto r = index->Search(queries, 10, rounds % 2 == 0 ? nullptr : &allowed);
        ++rounds;
        searches.fetch_add(1);
        if (!r.ok()) {
          bad.fetch_add(1);
          continue;
        }
        for (int q = 0; q < 4; ++q) {
          for (int j = 0; j < 10; ++j) {
            const int64_t id = r->id(q, j);
            if (id < 0) continue;
            const std::vector<float> v = vector_of(id);
            if (id >= 2000 || std::fabs(r->score(q, j) -
                                        Dot(queries.data() + q * kDim, v.data(), kDim)) > 1e-4f) {
              bad.fetch_add(1);
            }
          }
        }
      }
    };
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t) readers.emplace_back(reader, t);
    // The writer: add ids 500..1999 in batches and remove every 4th id as it goes.
    for (int64_t start = 500; start < 2000; start += 100) {
      std::vector<int64_t> ids;
      std::vector<float> x;
      for (int64_t id = start; id < start + 100; ++id) {
        ids.push_back(id);
        const std::vector<float> v = vector_of(id);
        x.insert(x.end(), v.begin(), v.end());
      }
      ASSERT_OK(index->Upsert(ids, x));
      std::vector<int64_t> remove;
      for (int64_t id = start - 500; id < start - 400; id += 4) remove.push_back(id);
      ASSERT_OK(index->Remove(remove));
    }
    done.store(true);
    for (std::thread& t : readers) t.join();
    EXPECT_EQ(bad.load(), 0) << factory;
    EXPECT_GE(searches.load(), 60);
    // 2000 ids, every 4th of 0..1499 removed.
    EXPECT_EQ(index->size(), 2000 - 375) << factory;
  }
}

}  // namespace
}  // namespace matalign::index
