// RecordStore on a real RocksDB in temp dirs: round trips, replacement, validation that
// writes nothing, deletion, iteration by model version, schema checks, store checks, and
// crash atomicity (a child process writing records is killed with SIGKILL mid-stream).
#include "index/record_store.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <set>

#include "tests/index/raw_store.h"
#include "tests/test_util.h"

namespace matalign::index {
namespace {

using ::matalign::testing::TempDir;

std::vector<float> RandomVector(std::mt19937* rng, int dim) {
  std::normal_distribution<float> g;
  std::vector<float> v(dim);
  for (float& x : v) x = g(*rng);
  return v;
}

// A complete record: structure text, synthesis, two images, vectors of model "1".
StoredRecord MakeRecord(int i, int dim = 8, uint32_t seed = 0) {
  std::mt19937 rng(seed * 7919 + i);
  StoredRecord r;
  r.record.id = "mat-" + std::to_string(i);
  r.record.composition = {{"Ba", 1}, {"Ti", 1}, {"O", 3}};
  r.record.structure =
      corpus::StructureRef{"structures/m.cif", "data_x\n_cell_length_a 4.0\n", "cif"};
  corpus::SynthesisRecipe syn;
  syn.text = "BaTiO3 was prepared from BaCO3 and TiO2 at 1200 °C for " + std::to_string(i) + " h.";
  syn.route = "solid-state";
  syn.precursors = {"BaCO3", "TiO2"};
  syn.temperatures_c = {1200};
  syn.times_h = {static_cast<double>(i)};
  r.record.synthesis = syn;
  r.record.images = {{"sem.png", "sem"}, {"", "xrd"}};
  r.image_bytes = {std::string("\x89PNG\r\n\x1a\n\0\x01", 10) + std::to_string(i), "xrd-bytes"};
  r.record.properties = {{"band_gap_ev", 3.2 + i}};
  r.record.labels = {{"defect", "none"}};
  r.record.source = "test";
  r.vectors = {{Modality::kStructure, "1", RandomVector(&rng, dim)},
               {Modality::kText, "1", RandomVector(&rng, dim)}};
  return r;
}

std::unique_ptr<RecordStore> OpenOrDie(const std::string& dir, RecordStoreOptions o = {}) {
  auto s = RecordStore::Open(dir, o);
  EXPECT_OK(s);
  return s.ok() ? *std::move(s) : nullptr;
}

void ExpectSameRecord(const StoredRecord& a, const StoredRecord& b) {
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.record.id, b.record.id);
  EXPECT_EQ(a.record.composition, b.record.composition);
  ASSERT_EQ(a.record.structure.has_value(), b.record.structure.has_value());
  if (a.record.structure) {
    EXPECT_EQ(a.record.structure->text, b.record.structure->text);
    EXPECT_EQ(a.record.structure->path, b.record.structure->path);
    EXPECT_EQ(a.record.structure->format, b.record.structure->format);
  }
  ASSERT_EQ(a.record.synthesis.has_value(), b.record.synthesis.has_value());
  if (a.record.synthesis) {
    EXPECT_EQ(a.record.synthesis->text, b.record.synthesis->text);
    EXPECT_EQ(a.record.synthesis->precursors, b.record.synthesis->precursors);
    EXPECT_EQ(a.record.synthesis->times_h, b.record.synthesis->times_h);
  }
  ASSERT_EQ(a.record.images.size(), b.record.images.size());
  for (size_t i = 0; i < a.record.images.size(); ++i) {
    EXPECT_EQ(a.record.images[i].path, b.record.images[i].path);
    EXPECT_EQ(a.record.images[i].kind, b.record.images[i].kind);
  }
  EXPECT_EQ(a.image_bytes, b.image_bytes);
  EXPECT_EQ(a.record.properties, b.record.properties);
  EXPECT_EQ(a.record.labels, b.record.labels);
  ASSERT_EQ(a.vectors.size(), b.vectors.size());
  std::set<std::tuple<int, std::string, std::vector<float>>> va, vb;
  for (const auto& v : a.vectors)
    va.insert({static_cast<int>(v.modality), v.model_version, v.values});
  for (const auto& v : b.vectors)
    vb.insert({static_cast<int>(v.modality), v.model_version, v.values});
  EXPECT_EQ(va, vb);
}

class RecordStoreTest : public ::testing::TestWithParam<Durability> {
 protected:
  RecordStoreOptions Options() const {
    RecordStoreOptions o;
    o.durability = GetParam();
    return o;
  }
  TempDir tmp_;
};

TEST_P(RecordStoreTest, PutGetRoundTripSurvivesReopen) {
  std::vector<StoredRecord> written;
  {
    auto store = OpenOrDie(tmp_.path(), Options());
    ASSERT_NE(store, nullptr);
    EXPECT_EQ(store->last_sequence(), 0u);
    for (int i = 0; i < 20; ++i) written.push_back(MakeRecord(i));
    std::vector<StoredRecord> batch = written;
    ASSERT_OK_AND_ASSIGN(uint64_t seq, store->Put(batch));
    EXPECT_EQ(seq, 1u);
    for (size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ(batch[i].key, RecordStore::KeyForName(batch[i].record.id));
      written[i].key = batch[i].key;
    }
    ASSERT_OK(store->SetModelVersion("1"));
  }
  auto store = OpenOrDie(tmp_.path(), Options());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->last_sequence(), 1u);
  EXPECT_EQ(store->model_version(), "1");
  for (const auto& w : written) {
    ASSERT_OK_AND_ASSIGN(StoredRecord r, store->Get(w.key));
    ExpectSameRecord(w, r);
  }
  // The image without a file name comes back without one.
  ASSERT_OK_AND_ASSIGN(StoredRecord r0, store->Get(written[0].key));
  EXPECT_EQ(r0.record.images[1].path, "");

  // Metadata only.
  GetOptions meta_only;
  meta_only.raw = false;
  meta_only.vectors = false;
  ASSERT_OK_AND_ASSIGN(StoredRecord m, store->Get(written[3].key, meta_only));
  EXPECT_EQ(m.record.id, "mat-3");
  EXPECT_TRUE(m.record.structure->text.empty());
  EXPECT_TRUE(m.vectors.empty());
  EXPECT_EQ(m.record.synthesis->precursors, written[3].record.synthesis->precursors);

  // MultiGet: found and missing keys in order.
  auto many = store->MultiGet({written[5].key, 12345, written[7].key});
  ASSERT_EQ(many.size(), 3u);
  ASSERT_OK(many[0]);
  EXPECT_EQ(many[0]->record.id, "mat-5");
  EXPECT_EQ(many[1].status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(many[2]);
  EXPECT_EQ(many[2]->record.id, "mat-7");

  ASSERT_OK_AND_ASSIGN(uint64_t found, store->Find("mat-9"));
  EXPECT_EQ(found, written[9].key);
  EXPECT_EQ(store->Find("nope").status().code(), absl::StatusCode::kNotFound);

  ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
  EXPECT_EQ(report.records, 20);
  EXPECT_EQ(report.vectors, 40);
  EXPECT_EQ(report.raw_entries, 20 * 4);
  EXPECT_EQ(report.num_problems, 0) << report.problems[0];
}

TEST_P(RecordStoreTest, PutReplacesTheWholeRecord) {
  auto store = OpenOrDie(tmp_.path(), Options());
  std::vector<StoredRecord> first = {MakeRecord(1)};
  ASSERT_OK(store->Put(first));
  // The same name again: fewer images, no synthesis, one vector of another model.
  StoredRecord second = MakeRecord(1, 8, /*seed=*/5);
  second.record.images.resize(1);
  second.image_bytes.resize(1);
  second.record.synthesis.reset();
  second.vectors = {{Modality::kImage, "2", std::vector<float>(16, 0.5f)}};
  std::vector<StoredRecord> batch = {second};
  ASSERT_OK(store->Put(batch));
  second.key = batch[0].key;
  ASSERT_OK_AND_ASSIGN(StoredRecord r, store->Get(second.key));
  ExpectSameRecord(second, r);
  ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
  EXPECT_EQ(report.num_problems, 0) << report.problems[0];  // no orphaned raw entries/vectors
  EXPECT_EQ(report.raw_entries, 2);                         // structure + one image

  // PutVectors adds to what is there.
  ASSERT_OK(store->PutVectors(second.key, {{Modality::kText, "2", std::vector<float>(16, 1.f)}}));
  ASSERT_OK_AND_ASSIGN(r, store->Get(second.key));
  EXPECT_EQ(r.vectors.size(), 2u);
  EXPECT_EQ(
      store->PutVectors(777, {{Modality::kText, "2", std::vector<float>(16, 1.f)}}).status().code(),
      absl::StatusCode::kNotFound);
}

TEST_P(RecordStoreTest, InvalidWritesChangeNothing) {
  auto store = OpenOrDie(tmp_.path(), Options());
  std::vector<StoredRecord> ok = {MakeRecord(0)};
  ASSERT_OK(store->Put(ok));
  const uint64_t seq = store->last_sequence();

  auto expect_rejected = [&](std::vector<StoredRecord> batch, absl::StatusCode code,
                             const std::string& fragment) {
    auto s = store->Put(batch);
    EXPECT_EQ(s.status().code(), code) << s.status();
    EXPECT_NE(s.status().message().find(fragment), std::string::npos) << s.status();
    EXPECT_EQ(store->last_sequence(), seq);
    for (const auto& r : batch) {
      if (r.record.id != "mat-0") {
        EXPECT_EQ(store->Find(r.record.id).status().code(), absl::StatusCode::kNotFound);
      }
    }
  };
  // A good record followed by a bad one: neither is written.
  {
    StoredRecord bad = MakeRecord(2, /*dim=*/9);
    bad.vectors.resize(1);
    expect_rejected({MakeRecord(1), bad}, absl::StatusCode::kInvalidArgument, "dimension 9");
  }
  {
    StoredRecord bad = MakeRecord(3);
    bad.vectors[0].values[2] = NAN;
    expect_rejected({bad}, absl::StatusCode::kInvalidArgument, "not finite");
  }
  {
    StoredRecord bad = MakeRecord(4);
    bad.image_bytes.pop_back();
    expect_rejected({bad}, absl::StatusCode::kInvalidArgument, "image contents");
  }
  {
    StoredRecord bad = MakeRecord(5);
    bad.vectors[1].modality = Modality::kStructure;
    expect_rejected({bad}, absl::StatusCode::kInvalidArgument, "two structure vectors");
  }
  expect_rejected({MakeRecord(6), MakeRecord(6)}, absl::StatusCode::kInvalidArgument, "twice");
  {
    StoredRecord bad = MakeRecord(7);
    bad.key = ok[0].key;  // taken by mat-0
    expect_rejected({bad}, absl::StatusCode::kAlreadyExists, "belongs to record 'mat-0'");
  }
  {
    StoredRecord bad = MakeRecord(9);
    bad.record.id = "bad\xff";
    expect_rejected({bad}, absl::StatusCode::kInvalidArgument, "invalid UTF-8");
  }
  {
    StoredRecord bad = MakeRecord(8);
    bad.record.composition["Xx"] = 1;
    expect_rejected({bad}, absl::StatusCode::kInvalidArgument, "record 0 ('mat-8')");
  }
  ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
  EXPECT_EQ(report.records, 1);
  EXPECT_EQ(report.num_problems, 0);
}

TEST_P(RecordStoreTest, DeleteRemovesEverythingAndLogsTheChange) {
  auto store = OpenOrDie(tmp_.path(), Options());
  std::vector<StoredRecord> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(MakeRecord(i));
  ASSERT_OK(store->Put(batch));
  int64_t deleted = -1;
  ASSERT_OK_AND_ASSIGN(uint64_t seq, store->Delete({batch[1].key, batch[3].key, 99}, &deleted));
  EXPECT_EQ(deleted, 2);
  EXPECT_EQ(seq, 2u);
  EXPECT_EQ(store->Get(batch[1].key).status().code(), absl::StatusCode::kNotFound);
  ASSERT_OK(store->Get(batch[2].key));
  // Deleting nothing writes nothing.
  ASSERT_OK_AND_ASSIGN(uint64_t same, store->Delete({batch[1].key}, &deleted));
  EXPECT_EQ(deleted, 0);
  EXPECT_EQ(same, 2u);

  std::vector<Change> changes;
  ASSERT_OK(store->ForEachChange(0, [&](const Change& c) {
    changes.push_back(c);
    return absl::OkStatus();
  }));
  ASSERT_EQ(changes.size(), 7u);
  EXPECT_EQ(changes[0].sequence, 1u);
  EXPECT_FALSE(changes[0].deleted);
  EXPECT_EQ(changes[5].sequence, 2u);
  EXPECT_TRUE(changes[5].deleted);
  std::set<uint64_t> deleted_keys = {changes[5].key, changes[6].key};
  EXPECT_EQ(deleted_keys, (std::set<uint64_t>{batch[1].key, batch[3].key}));

  int after_one = 0;
  ASSERT_OK(store->ForEachChange(1, [&](const Change&) {
    ++after_one;
    return absl::OkStatus();
  }));
  EXPECT_EQ(after_one, 2);
  ASSERT_OK(store->TrimChanges(1));
  int left = 0;
  ASSERT_OK(store->ForEachChange(0, [&](const Change&) {
    ++left;
    return absl::OkStatus();
  }));
  EXPECT_EQ(left, 2);

  ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
  EXPECT_EQ(report.records, 3);
  EXPECT_EQ(report.num_problems, 0);
}

TEST_P(RecordStoreTest, IteratesVectorsByModelVersionAndDropsOldVersions) {
  auto store = OpenOrDie(tmp_.path(), Options());
  std::vector<StoredRecord> batch;
  for (int i = 0; i < 30; ++i) batch.push_back(MakeRecord(i));
  ASSERT_OK(store->Put(batch));
  // Model 2 re-embeds the structures of half the records with another dimension.
  for (int i = 0; i < 30; i += 2) {
    ASSERT_OK(store->PutVectors(batch[i].key,
                                {{Modality::kStructure, "2", std::vector<float>(4, 0.25f * i)}}));
  }
  std::set<uint64_t> v1, v2;
  ASSERT_OK(
      store->ForEachVector("1", Modality::kStructure, [&](uint64_t key, const float*, int dim) {
        EXPECT_EQ(dim, 8);
        v1.insert(key);
        return absl::OkStatus();
      }));
  ASSERT_OK(
      store->ForEachVector("2", Modality::kStructure, [&](uint64_t key, const float*, int dim) {
        EXPECT_EQ(dim, 4);
        v2.insert(key);
        return absl::OkStatus();
      }));
  EXPECT_EQ(v1.size(), 30u);
  EXPECT_EQ(v2.size(), 15u);
  auto versions = store->VectorVersions();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions[1].first, "2");
  EXPECT_EQ(versions[1].second, (std::vector<std::pair<Modality, int>>{{Modality::kStructure, 4}}));

  ASSERT_OK(store->SetModelVersion("1"));
  EXPECT_EQ(store->DeleteModelVersion("1").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_OK(store->SetModelVersion("2"));
  ASSERT_OK(store->DeleteModelVersion("1"));
  int left = 0;
  for (Modality m : kAllModalities) {
    ASSERT_OK(store->ForEachVector("1", m, [&](uint64_t, const float*, int) {
      ++left;
      return absl::OkStatus();
    }));
  }
  EXPECT_EQ(left, 0);
  ASSERT_EQ(store->VectorVersions().size(), 1u);
  ASSERT_OK_AND_ASSIGN(StoredRecord r, store->Get(batch[0].key));
  ASSERT_EQ(r.vectors.size(), 1u);
  EXPECT_EQ(r.vectors[0].model_version, "2");
  ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
  EXPECT_EQ(report.num_problems, 0) << report.problems[0];
  // After the drop, model 1 may come back with a new dimension.
  ASSERT_OK(
      store->PutVectors(batch[1].key, {{Modality::kStructure, "1", std::vector<float>(3, 1)}}));
}

INSTANTIATE_TEST_SUITE_P(Durability, RecordStoreTest,
                         ::testing::Values(Durability::kSync, Durability::kAsync),
                         [](const auto& info) { return std::string(DurabilityName(info.param)); });

TEST(RecordStoreOpenTest, NewerSchemaIsRefusedWithAClearMessage) {
  TempDir tmp;
  { ASSERT_NE(OpenOrDie(tmp.path()), nullptr); }
  {
    // Pretend a future MatAlign wrote it.
    testing::RawStore raw(tmp.path());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.Put("meta", "schema_version", "7"));
  }
  auto s = RecordStore::Open(tmp.path(), {});
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.status().message().find("schema version 7; this build reads up to 1"),
            std::string::npos)
      << s.status();
}

TEST(RecordStoreOpenTest, MissingLockedAndReadOnly) {
  TempDir tmp;
  RecordStoreOptions no_create;
  no_create.create_if_missing = false;
  EXPECT_EQ(RecordStore::Open(tmp.Join("none"), no_create).status().code(),
            absl::StatusCode::kNotFound);
  auto store = OpenOrDie(tmp.path());
  std::vector<StoredRecord> batch = {MakeRecord(1)};
  ASSERT_OK(store->Put(batch));
  ASSERT_OK(store->Flush());
  // A second writer is refused while the first holds the store.
  auto second = RecordStore::Open(tmp.path(), {});
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  // A read-only view works alongside and cannot write.
  RecordStoreOptions ro;
  ro.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto view, RecordStore::Open(tmp.path(), ro));
  ASSERT_OK(view->Get(batch[0].key));
  std::vector<StoredRecord> more = {MakeRecord(2)};
  EXPECT_EQ(view->Put(more).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RecordStoreCheckTest, ReportsMissingAndOrphanedEntries) {
  TempDir tmp;
  std::vector<StoredRecord> batch;
  {
    auto store = OpenOrDie(tmp.path());
    for (int i = 0; i < 3; ++i) batch.push_back(MakeRecord(i));
    ASSERT_OK(store->Put(batch));
  }
  {
    // Damage: drop one vector, add a stray raw entry.
    testing::RawStore raw(tmp.path());
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.DeleteFirst("vectors"));
    ASSERT_TRUE(raw.Put("raw", "stray-key", "x"));
  }
  auto store = OpenOrDie(tmp.path());
  ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
  EXPECT_EQ(report.records, 3);
  EXPECT_EQ(report.num_problems, 2);
  std::string all;
  for (const auto& p : report.problems) all += p + "\n";
  EXPECT_NE(all.find("vector of 1"), std::string::npos) << all;
  EXPECT_NE(all.find("belongs to no record"), std::string::npos) << all;
}

// --- Crash atomicity ---------------------------------------------------------------------

constexpr char kCrashDirEnv[] = "MATALIGN_STORE_CRASH_DIR";

// Not a test on its own: the child process of KilledWriterLeavesOnlyCompleteRecords. Writes
// records (one Put each, async durability so that the kill lands mid-stream) forever and
// prints "ack <i>" after each Put returns.
TEST(RecordStoreCrashTest, DISABLED_ChildWriter) {
  const char* dir = std::getenv(kCrashDirEnv);
  ASSERT_NE(dir, nullptr);
  RecordStoreOptions o;
  o.durability = Durability::kAsync;
  auto store = OpenOrDie(dir, o);
  ASSERT_NE(store, nullptr);
  for (int i = 0;; ++i) {
    // Big records (a 256 KiB image) so that a kill often lands inside a write.
    StoredRecord r = MakeRecord(i, 64);
    r.image_bytes[0].append(256 << 10, static_cast<char>(i));
    std::vector<StoredRecord> batch = {std::move(r)};
    ASSERT_OK(store->Put(batch));
    std::printf("ack %d\n", i);
    std::fflush(stdout);
  }
}

TEST(RecordStoreCrashTest, KilledWriterLeavesOnlyCompleteRecords) {
  TempDir tmp;
  for (int round = 0; round < 5; ++round) {
    ::matalign::testing::ChildTest child;
    ASSERT_TRUE(
        child.Start("RecordStoreCrashTest.DISABLED_ChildWriter", {{kCrashDirEnv, tmp.path()}}));
    // Kill the child after a round-dependent number of acknowledged records.
    const int kill_after = 20 + 15 * round;
    const int acked = child.WaitForAck(kill_after);
    // Let the child run into its next write for a round-dependent while (fault injection, not
    // synchronisation): the kill lands before, inside or after that write.
    ::usleep(static_cast<useconds_t>(round * 400));
    ASSERT_TRUE(child.Kill()) << "the child ended on its own";
    ASSERT_GE(acked, kill_after);

    auto store = OpenOrDie(tmp.path());
    ASSERT_NE(store, nullptr);
    // Every acknowledged record is there and complete; whatever else is there is complete.
    ASSERT_OK_AND_ASSIGN(CheckReport report, store->Check());
    EXPECT_EQ(report.num_problems, 0) << report.problems[0];
    EXPECT_GE(report.records, acked + 1);
    for (int i = 0; i <= acked; ++i) {
      StoredRecord want = MakeRecord(i, 64);
      want.image_bytes[0].append(256 << 10, static_cast<char>(i));
      want.key = RecordStore::KeyForName(want.record.id);
      ASSERT_OK_AND_ASSIGN(StoredRecord got, store->Get(want.key));
      ExpectSameRecord(want, got);
    }
    EXPECT_EQ(report.vectors, 2 * report.records);
    EXPECT_EQ(report.raw_entries, 4 * report.records);
    std::printf("round %d: killed after %d acknowledged records, %lld complete on reopen\n", round,
                acked + 1, static_cast<long long>(report.records));
  }
}

}  // namespace
}  // namespace matalign::index
