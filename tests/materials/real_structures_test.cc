// Walks every real structure file in ../shared/data/real: each must read and give a graph,
// (every one does today; a file that must be refused would get its own test).
#include <filesystem>

#include "materials/graph.h"
#include "materials/perov5.h"
#include "materials/structure_io.h"
#include "tests/test_util.h"

namespace matalign::materials {
namespace {

namespace fs = std::filesystem;

void CheckAll(const std::string& dir) {
  int read = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    auto st = ReadStructureFile(entry.path().string());
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_GT(st->Density(), 0.5) << name;
    EXPECT_LT(st->Density(), 25) << name;
    ASSERT_OK_AND_ASSIGN(StructureGraph g, BuildGraph(*st));
    EXPECT_EQ(g.num_nodes, static_cast<int>(st->sites.size()));
    EXPECT_GT(g.num_edges(), 0u) << name;
    if (st->sites.size() <= 200) {
      EXPECT_EQ(FindNeighbors(*st, 6.0), FindNeighborsBruteForce(*st, 6.0)) << name;
    }
    ++read;
  }
  EXPECT_GT(read, 0);
  std::printf("%s: %d files read\n", dir.c_str(), read);
}

TEST(RealStructuresTest, EveryCifReads) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "structures/cif");
  CheckAll(dir);
}

TEST(RealStructuresTest, EveryPoscarReads) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "structures/poscar");
  CheckAll(dir);
}

TEST(RealStructuresTest, BiFeO3HasTheR3cCell) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "structures/cif/BiFeO3_R3c.cif");
  ASSERT_OK_AND_ASSIGN(Structure st, ReadStructureFile(path));
  EXPECT_EQ(st.sites.size(), 30u);  // Z = 6 in the hexagonal setting
  EXPECT_EQ(st.ReducedFormula(), "BiFeO3");
  EXPECT_NEAR(st.Density(), 8.3, 0.2);
}

TEST(RealStructuresTest, EveryPerov5RowReads) {
  MATALIGN_REAL_DATA_OR_SKIP(path, "perov5/perov5_train.csv");
  ASSERT_OK_AND_ASSIGN(std::vector<Perov5Row> rows, ReadPerov5Csv(path));
  EXPECT_GT(rows.size(), 3000u);
  for (const Perov5Row& row : rows) {
    auto st = ParseStructure(row.cif, row.Source(path) + ".cif");
    ASSERT_TRUE(st.ok()) << st.status();
    ASSERT_EQ(st->sites.size(), 5u) << row.Source(path);
    ASSERT_OK_AND_ASSIGN(StructureGraph g, BuildGraph(*st));
    ASSERT_EQ(g.num_edges(), 5u * 12u) << row.Source(path);
  }
}

}  // namespace
}  // namespace matalign::materials
