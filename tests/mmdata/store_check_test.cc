// `mmdata store check` against a real store: a healthy store passes, a damaged one is
// reported with the problem and exit status 1, a missing one is a clear error.
#include <string>
#include <vector>

#include "index/record_store.h"
#include "tests/index/raw_store.h"
#include "tests/test_util.h"

namespace matalign::index {
namespace {

using ::matalign::testing::BinaryPath;
using ::matalign::testing::RunCommand;
using ::matalign::testing::TempDir;

TEST(StoreCheckCliTest, HealthyDamagedAndMissingStores) {
  TempDir tmp;
  const std::string dir = tmp.Join("collection/store");
  {
    ASSERT_OK_AND_ASSIGN(auto store, RecordStore::Open(dir, {}));
    std::vector<StoredRecord> batch(3);
    for (int i = 0; i < 3; ++i) {
      batch[i].record.id = "r" + std::to_string(i);
      batch[i].record.composition = {{"Fe", 2}, {"O", 3}};
      batch[i].vectors = {{Modality::kText, "7", std::vector<float>(8, 0.5f)}};
    }
    ASSERT_OK(store->Put(batch));
    ASSERT_OK(store->SetModelVersion("7"));
  }
  // The collection directory works as well as the store directory.
  auto ok = RunCommand(BinaryPath("mmdata") + " store check " + tmp.Join("collection"));
  EXPECT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_NE(ok.out.find("3 records, 0 raw inputs, 3 vectors"), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("model 7: text d=8"), std::string::npos) << ok.out;

  {
    // Drop one vector behind the store's back.
    testing::RawStore raw(dir);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE(raw.DeleteFirst("vectors"));
  }
  auto bad = RunCommand(BinaryPath("mmdata") + " store check " + dir);
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.out.find("problem: record"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("1 problem(s)"), std::string::npos) << bad.out;

  auto missing = RunCommand(BinaryPath("mmdata") + " store check " + tmp.Join("nothing"));
  EXPECT_EQ(missing.exit_code, 1) << missing.out;
  EXPECT_NE(missing.out.find("no record store"), std::string::npos) << missing.out;
}

}  // namespace
}  // namespace matalign::index
