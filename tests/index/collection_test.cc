// Collection = RecordStore + FAISS indexes, both real, in temp dirs: searches find what was
// put, filters agree with brute force, and after a process is killed mid-stream the indexes
// (snapshot + replay) hold exactly the store's vectors, the same as a full rebuild.
#include "index/collection.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "tests/test_util.h"

namespace matalign::index {
namespace {

using ::matalign::testing::TempDir;

constexpr int kDim = 16;
const char* const kElements[] = {"Li", "Na", "K", "Mg", "Ca", "Ti",
                                 "Fe", "Ni", "O", "S",  "N",  "Cl"};
const char* const kRoutes[] = {"solid-state", "sol-gel", "hydrothermal"};

std::vector<float> UnitVector(std::mt19937* rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(kDim);
  double norm = 0;
  for (float& x : v) {
    x = g(*rng);
    norm += x * x;
  }
  for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
  return v;
}

// Record i of a deterministic corpus; `variant` changes its vectors (a re-ingest).
StoredRecord MakeRecord(int i, int variant = 0) {
  std::mt19937 rng(1000 * variant + i);
  StoredRecord r;
  r.record.id = "m" + std::to_string(i);
  std::uniform_int_distribution<int> pick(0, 11);
  for (int j = 0; j < 3; ++j) r.record.composition[kElements[pick(rng)]] = 1 + j;
  r.record.material_class = static_cast<corpus::MaterialClass>(i % 3);
  corpus::SynthesisRecipe syn;
  syn.text = "recipe " + std::to_string(i);
  syn.route = kRoutes[i % 3];
  r.record.synthesis = syn;
  r.vectors.push_back({Modality::kText, "v1", UnitVector(&rng)});
  if (i % 4 != 0) r.vectors.push_back({Modality::kStructure, "v1", UnitVector(&rng)});
  return r;
}

std::vector<int64_t> StoreKeys(const RecordStore& store, Modality m, const std::string& v,
                               std::map<int64_t, std::vector<float>>* vectors = nullptr) {
  std::vector<int64_t> keys;
  EXPECT_OK(store.ForEachVector(v, m, [&](uint64_t key, const float* x, int dim) {
    keys.push_back(static_cast<int64_t>(key));
    if (vectors) (*vectors)[static_cast<int64_t>(key)] = std::vector<float>(x, x + dim);
    return absl::OkStatus();
  }));
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool Matches(const corpus::Record& r, const RecordFilter& f) {
  for (const auto& e : f.required_elements) {
    if (!r.composition.count(e)) return false;
  }
  for (const auto& e : f.excluded_elements) {
    if (r.composition.count(e)) return false;
  }
  if (!f.routes.empty() &&
      std::find(f.routes.begin(), f.routes.end(), r.synthesis->route) == f.routes.end()) {
    return false;
  }
  if (!f.material_classes.empty() &&
      std::find(f.material_classes.begin(), f.material_classes.end(),
                std::string(corpus::MaterialClassName(r.material_class))) ==
          f.material_classes.end()) {
    return false;
  }
  return true;
}

TEST(CollectionTest, SearchFindsWhatWasPutAndFiltersAgreeWithBruteForce) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), {}));
  EXPECT_EQ(c->model_version(), "");
  std::vector<StoredRecord> records;
  for (int i = 0; i < 400; ++i) records.push_back(MakeRecord(i));
  std::vector<StoredRecord> batch = records;
  ASSERT_OK(c->Put(batch));
  for (size_t i = 0; i < batch.size(); ++i) records[i].key = batch[i].key;
  EXPECT_EQ(c->model_version(), "v1");
  EXPECT_EQ(c->IndexedKeys(Modality::kText), StoreKeys(c->store(), Modality::kText, "v1"));
  EXPECT_EQ(c->IndexedKeys(Modality::kStructure).size(), 300u);
  EXPECT_EQ(c->IndexSize(Modality::kStructure), 300);
  EXPECT_EQ(c->IndexSize(Modality::kImage), 0);
  EXPECT_EQ(
      c->Search(Modality::kImage, records[0].vectors[0].values.data(), 1, kDim, 5).status().code(),
      absl::StatusCode::kFailedPrecondition);

  // Every record finds itself first by its own text vector.
  for (int i = 0; i < 400; i += 37) {
    ASSERT_OK_AND_ASSIGN(
        auto hits, c->Search(Modality::kText, records[i].vectors[0].values.data(), 1, kDim, 3));
    ASSERT_EQ(hits.size(), 1u);
    ASSERT_EQ(hits[0].size(), 3u);
    EXPECT_EQ(hits[0][0].key, records[i].key);
    EXPECT_NEAR(hits[0][0].score, 1.0f, 1e-5);
  }

  // Filters: the allowed set and the filtered top-k both equal brute force.
  std::mt19937 rng(7);
  std::vector<RecordFilter> filters(4);
  filters[0].required_elements = {"O"};
  filters[1].excluded_elements = {"O", "S"};
  filters[1].routes = {"sol-gel"};
  filters[2].material_classes = {"nano", "amorphous"};
  filters[2].required_elements = {"Fe"};
  filters[3].required_elements = {"Li", "Cl"};
  for (const RecordFilter& f : filters) {
    std::vector<int64_t> want;
    for (const auto& r : records) {
      if (Matches(r.record, f)) want.push_back(static_cast<int64_t>(r.key));
    }
    std::sort(want.begin(), want.end());
    ASSERT_OK_AND_ASSIGN(std::vector<int64_t> got, c->MatchingKeys(f));
    EXPECT_EQ(got, want);
    const std::vector<float> q = UnitVector(&rng);
    for (int k : {1, 10, 50}) {
      ASSERT_OK_AND_ASSIGN(auto hits, c->Search(Modality::kText, q.data(), 1, kDim, k, f));
      std::vector<std::pair<float, uint64_t>> scored;
      for (const auto& r : records) {
        if (!Matches(r.record, f)) continue;
        float s = 0;
        for (int j = 0; j < kDim; ++j) s += q[j] * r.vectors[0].values[j];
        scored.push_back({s, r.key});
      }
      std::sort(scored.rbegin(), scored.rend());
      ASSERT_EQ(hits[0].size(), std::min<size_t>(k, scored.size()));
      for (size_t j = 0; j < hits[0].size(); ++j) {
        EXPECT_EQ(hits[0][j].key, scored[j].second) << "k=" << k << " rank " << j;
      }
    }
  }
  RecordFilter bad;
  bad.required_elements = {"Qq"};
  EXPECT_EQ(c->MatchingKeys(bad).status().code(), absl::StatusCode::kInvalidArgument);

  // Delete and re-put with other vectors: the index follows.
  ASSERT_OK(c->Delete({records[1].key, records[2].key}));
  std::vector<StoredRecord> again = {MakeRecord(3, /*variant=*/1)};
  ASSERT_OK(c->Put(again));
  EXPECT_EQ(c->IndexedKeys(Modality::kText), StoreKeys(c->store(), Modality::kText, "v1"));
  EXPECT_EQ(c->IndexedKeys(Modality::kText).size(), 398u);
  ASSERT_OK_AND_ASSIGN(auto hits,
                       c->Search(Modality::kText, again[0].vectors[0].values.data(), 1, kDim, 1));
  EXPECT_EQ(hits[0][0].key, again[0].key);
  EXPECT_NEAR(hits[0][0].score, 1.0f, 1e-5);
}

// Child process of KilledWriterRecoversIndexesEqualToTheStore: puts, replaces and deletes
// records forever, snapshotting now and then, printing "ack <n>" after each write.
constexpr char kDirEnv[] = "MATALIGN_COLLECTION_CRASH_DIR";
constexpr char kFactoryEnv[] = "MATALIGN_COLLECTION_CRASH_FACTORY";

TEST(CollectionCrashChild, DISABLED_ChildWriter) {
  const char* dir = std::getenv(kDirEnv);
  ASSERT_NE(dir, nullptr);
  CollectionOptions o;
  o.store.durability = Durability::kAsync;
  o.snapshot_on_close = false;
  o.index.factory = std::getenv(kFactoryEnv);
  ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(dir, o));
  std::mt19937 rng(static_cast<uint32_t>(::getpid()));
  for (int n = 0;; ++n) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      std::vector<StoredRecord> batch;
      for (int j = 0; j < 8; ++j) batch.push_back(MakeRecord(rng() % 500, rng() % 3));
      std::sort(batch.begin(), batch.end(),
                [](const auto& a, const auto& b) { return a.record.id < b.record.id; });
      batch.erase(
          std::unique(batch.begin(), batch.end(),
                      [](const auto& a, const auto& b) { return a.record.id == b.record.id; }),
          batch.end());
      ASSERT_OK(c->Put(batch));
    } else if (op < 9) {
      std::vector<uint64_t> keys;
      for (int j = 0; j < 3; ++j)
        keys.push_back(RecordStore::KeyForName("m" + std::to_string(rng() % 500)));
      ASSERT_OK(c->Delete(keys));
    } else {
      ASSERT_OK(c->Snapshot());
    }
    std::printf("ack %d\n", n);
    std::fflush(stdout);
  }
}

// Flat deletes natively; HNSW keeps tombstones (and compacts): both must recover exactly.
class CollectionCrashTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CollectionCrashTest, KilledWriterRecoversIndexesEqualToTheStore) {
  TempDir tmp;
  CollectionOptions first;
  first.index.factory = GetParam();
  {
    // A starting population and a first snapshot.
    ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), first));
    std::vector<StoredRecord> batch;
    for (int i = 0; i < 500; i += 2) batch.push_back(MakeRecord(i));
    ASSERT_OK(c->Put(batch));
  }
  for (int round = 0; round < 3; ++round) {
    ::matalign::testing::ChildTest child;
    ASSERT_TRUE(child.Start("CollectionCrashChild.DISABLED_ChildWriter",
                            {{kDirEnv, tmp.path()}, {kFactoryEnv, GetParam()}}));
    const int kill_after = 100 + 50 * round;
    ASSERT_GE(child.WaitForAck(kill_after), kill_after);
    ::usleep(static_cast<useconds_t>(round * 300));  // fault injection: land mid-write
    ASSERT_TRUE(child.Kill()) << "the child ended on its own";

    CollectionOptions o = first;
    o.snapshot_on_close = false;
    std::map<Modality, std::vector<int64_t>> recovered;
    {
      ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), o));
      for (const auto& report : c->load_reports()) {
        std::printf("round %d: %s index %s (%s), %lld changes replayed, %lld vectors\n", round,
                    std::string(ModalityName(report.modality)).c_str(),
                    report.from_snapshot ? "from snapshot" : "rebuilt", report.note.c_str(),
                    static_cast<long long>(report.replayed_changes),
                    static_cast<long long>(report.vectors));
      }
      for (Modality m : {Modality::kText, Modality::kStructure}) {
        std::map<int64_t, std::vector<float>> vectors;
        const std::vector<int64_t> keys = StoreKeys(c->store(), m, "v1", &vectors);
        recovered[m] = c->IndexedKeys(m);
        EXPECT_EQ(recovered[m], keys) << ModalityName(m);
        // Same vectors too: each finds itself with score 1.
        int checked = 0;
        for (const auto& [key, v] : vectors) {
          if (++checked % 25 != 0) continue;
          ASSERT_OK_AND_ASSIGN(auto hits, c->Search(m, v.data(), 1, kDim, 1));
          ASSERT_EQ(hits[0].size(), 1u);
          EXPECT_EQ(hits[0][0].key, static_cast<uint64_t>(key));
          EXPECT_NEAR(hits[0][0].score, 1.0f, 1e-5);
        }
      }
      // The filter attributes (snapshot + replay) agree with the records in the store.
      RecordFilter f;
      f.required_elements = {"O"};
      f.routes = {"sol-gel", "hydrothermal"};
      std::vector<int64_t> want;
      ASSERT_OK(c->store().ForEachRecord([&](const StoredRecord& r) {
        if (Matches(r.record, f)) want.push_back(static_cast<int64_t>(r.key));
        return absl::OkStatus();
      }));
      ASSERT_OK_AND_ASSIGN(std::vector<int64_t> got, c->MatchingKeys(f));
      EXPECT_EQ(got, want);
      EXPECT_GT(got.size(), 10u);
    }
    // A full rebuild agrees.
    o.rebuild = true;
    ASSERT_OK_AND_ASSIGN(auto rebuilt, Collection::Open(tmp.path(), o));
    for (const auto& [m, keys] : recovered) EXPECT_EQ(rebuilt->IndexedKeys(m), keys);
    for (const auto& report : rebuilt->load_reports()) EXPECT_FALSE(report.from_snapshot);
  }
}

INSTANTIATE_TEST_SUITE_P(Factories, CollectionCrashTest, ::testing::Values("Flat", "HNSW32"));

TEST(CollectionTest, NewModelVersionIsPreparedThenSwappedIn) {
  TempDir tmp;
  ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), {}));
  std::vector<StoredRecord> batch;
  for (int i = 0; i < 60; ++i) batch.push_back(MakeRecord(i));
  ASSERT_OK(c->Put(batch));
  // Version "v2" (another dimension) for the text of every record, written while v1 serves.
  std::mt19937 rng(3);
  std::map<uint64_t, std::vector<float>> v2;
  for (const auto& r : batch) {
    std::vector<float> x(8);
    double norm = 0;
    for (float& e : x) {
      e = std::normal_distribution<float>()(rng);
      norm += e * e;
    }
    for (float& e : x) e = static_cast<float>(e / std::sqrt(norm));  // unit: self scores best
    v2[r.key] = x;
    ASSERT_OK(c->PutVectors(r.key, {{Modality::kText, "v2", x}}));
  }
  EXPECT_EQ(c->model_version(), "v1");
  EXPECT_EQ(c->IndexedKeys(Modality::kText).size(), 60u);
  const auto& q1 = batch[5].vectors[0].values;
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search(Modality::kText, q1.data(), 1, kDim, 1));
  EXPECT_EQ(hits[0][0].key, batch[5].key);

  ASSERT_OK(c->SetModelVersion("v2"));
  EXPECT_EQ(c->model_version(), "v2");
  EXPECT_EQ(c->IndexedKeys(Modality::kText).size(), 60u);
  EXPECT_TRUE(c->IndexedKeys(Modality::kStructure).empty());  // v2 has no structure vectors
  EXPECT_EQ(c->Search(Modality::kText, q1.data(), 1, kDim, 1).status().code(),
            absl::StatusCode::kInvalidArgument);  // v1's dimension
  const auto& q2 = v2[batch[7].key];
  ASSERT_OK_AND_ASSIGN(hits, c->Search(Modality::kText, q2.data(), 1, 8, 1));
  EXPECT_EQ(hits[0][0].key, batch[7].key);
  EXPECT_EQ(c->store().model_version(), "v2");
}

TEST(CollectionTest, IndexThatNeedsTrainingServesExactlyUntilItCanBeTrained) {
  TempDir tmp;
  CollectionOptions o;
  o.index.factory = "IVF64,Flat";  // 64 lists cannot be trained on 30 vectors
  std::vector<StoredRecord> batch;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), o));
    for (int i = 0; i < 30; ++i) batch.push_back(MakeRecord(i));
    ASSERT_OK(c->Put(batch));
    EXPECT_EQ(c->IndexedKeys(Modality::kText).size(), 30u);
    ASSERT_OK_AND_ASSIGN(auto hits,
                         c->Search(Modality::kText, batch[4].vectors[0].values.data(), 1, kDim, 1));
    EXPECT_EQ(hits[0][0].key, batch[4].key);
  }
  o.rebuild = true;
  ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), o));
  bool noted = false;
  for (const auto& r : c->load_reports()) {
    noted = noted || r.note.find("not trained") != std::string::npos;
  }
  EXPECT_TRUE(noted);
  EXPECT_EQ(c->IndexedKeys(Modality::kText).size(), 30u);
}

TEST(CollectionTest, DamagedSnapshotIsRebuiltFromTheStore) {
  TempDir tmp;
  std::vector<int64_t> keys;
  {
    ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), {}));
    std::vector<StoredRecord> batch;
    for (int i = 0; i < 50; ++i) batch.push_back(MakeRecord(i));
    ASSERT_OK(c->Put(batch));
    keys = c->IndexedKeys(Modality::kText);
  }  // snapshot on close
  {
    ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), {}));
    for (const auto& r : c->load_reports()) {
      EXPECT_TRUE(r.from_snapshot) << r.note;
      EXPECT_EQ(r.replayed_changes, 0);
    }
    EXPECT_EQ(c->IndexedKeys(Modality::kText), keys);
  }
  const std::string path = tmp.path() + "/snapshots/v1/text.faiss";
  ASSERT_TRUE(std::filesystem::exists(path));
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  CollectionOptions o;
  o.snapshot_on_close = false;
  ASSERT_OK_AND_ASSIGN(auto c, Collection::Open(tmp.path(), o));
  bool saw_text = false;
  for (const auto& r : c->load_reports()) {
    if (r.modality != Modality::kText) continue;
    saw_text = true;
    EXPECT_FALSE(r.from_snapshot);
    EXPECT_NE(r.note.find("snapshot unusable"), std::string::npos) << r.note;
  }
  EXPECT_TRUE(saw_text);
  EXPECT_EQ(c->IndexedKeys(Modality::kText), keys);
}

}  // namespace
}  // namespace matalign::index
