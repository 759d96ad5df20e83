#include "materials/structure_writer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "materials/structure_io.h"
#include "tests/test_util.h"

namespace matalign::materials {
namespace {

namespace fs = std::filesystem;

// Cartesian length of the wrapped fractional difference a - b in `lattice`.
double FracDistance(const Lattice& lattice, const Vec3& a, const Vec3& b) {
  Vec3 d;
  for (int k = 0; k < 3; ++k) d[k] = (a[k] - b[k]) - std::round(a[k] - b[k]);
  const Vec3 c = lattice.ToCartesian(d);
  return std::sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
}

// The sites of `st` grouped by species in order of first appearance (what POSCAR does).
std::vector<Site> GroupedSites(const Structure& st) {
  std::vector<int> order;
  for (const Site& s : st.sites) {
    if (std::find(order.begin(), order.end(), s.atomic_number) == order.end()) {
      order.push_back(s.atomic_number);
    }
  }
  std::vector<Site> out;
  for (int z : order) {
    for (const Site& s : st.sites) {
      if (s.atomic_number == z) out.push_back(s);
    }
  }
  return out;
}

// Expects equal lattice parameters, species in order and positions to 1e-6 A; with
// `same_vectors` also the lattice vectors themselves.
void ExpectSame(const Structure& want, const std::vector<Site>& want_sites, const Structure& got,
                bool same_vectors, const std::string& what) {
  const auto pw = want.lattice.Parameters(), pg = got.lattice.Parameters();
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(pw[k], pg[k], 1e-7) << what;
  for (int k = 3; k < 6; ++k) EXPECT_NEAR(pw[k], pg[k], 1e-6) << what;
  if (same_vectors) {
    for (int r = 0; r < 3; ++r) {
      for (int k = 0; k < 3; ++k) {
        EXPECT_NEAR(want.lattice.vectors()[r][k], got.lattice.vectors()[r][k], 1e-7) << what;
      }
    }
  }
  ASSERT_EQ(want_sites.size(), got.sites.size()) << what;
  for (size_t i = 0; i < want_sites.size(); ++i) {
    EXPECT_EQ(want_sites[i].atomic_number, got.sites[i].atomic_number) << what << " site " << i;
    EXPECT_LT(FracDistance(want.lattice, want_sites[i].frac, got.sites[i].frac), 1e-6)
        << what << " site " << i;
  }
}

void RoundTripAll(const Structure& st, const std::string& what) {
  ASSERT_OK_AND_ASSIGN(std::string cif, WriteCif(st));
  ASSERT_OK_AND_ASSIGN(Structure from_cif, ParseStructure(cif, what + ".cif"));
  ExpectSame(st, st.sites, from_cif, /*same_vectors=*/false, what + " (cif)");
  for (size_t i = 0; i < st.sites.size() && i < from_cif.sites.size(); ++i) {
    EXPECT_NEAR(st.sites[i].occupancy, from_cif.sites[i].occupancy, 1e-6) << what;
  }

  ASSERT_OK_AND_ASSIGN(std::string poscar, WritePoscar(st));
  ASSERT_OK_AND_ASSIGN(Structure from_poscar, ParseStructure(poscar, "POSCAR"));
  ExpectSame(st, GroupedSites(st), from_poscar, /*same_vectors=*/true, what + " (poscar)");

  ASSERT_OK_AND_ASSIGN(std::string xyz, WriteXyz(st));
  ASSERT_OK_AND_ASSIGN(Structure from_xyz, ParseStructure(xyz, what + ".xyz"));
  EXPECT_TRUE(from_xyz.periodic);
  ExpectSame(st, st.sites, from_xyz, /*same_vectors=*/true, what + " (xyz)");
}

Structure Triclinic() {
  Structure st;
  st.name = "triclinic test";  // a space: the CIF block name must be sanitized
  st.source = "triclinic";
  st.lattice = Lattice::FromVectors(
      {Vec3{5.123456789, 0.3, -0.2}, Vec3{1.1, 6.2, 0.4}, Vec3{-0.7, 0.9, 7.3}});
  st.AddFractional(26, {0.0, 0.0, 0.0});
  st.AddFractional(8, {0.123456789, 0.87654321, 0.5});
  st.AddFractional(26, {0.5, 0.5, 0.25}, 0.75, "Fe weird label");
  st.AddFractional(8, {0.999999999, 0.3333333333, 0.6666666667});
  st.AddFractional(3, {0.71, 0.29, 0.05});
  return st;
}

TEST(StructureWriterTest, TriclinicRoundTripsThroughEveryFormat) {
  const Structure st = Triclinic();
  ASSERT_OK(ValidateStructure(st, {}));
  RoundTripAll(st, "triclinic");
  ASSERT_OK_AND_ASSIGN(std::string cif, WriteCif(st));
  EXPECT_EQ(cif.rfind("data_triclinic_test\n", 0), 0u) << cif;
  ASSERT_OK_AND_ASSIGN(std::string poscar, WritePoscar(st));
  EXPECT_NE(poscar.find("\nFe O Li\n2 2 1\nDirect\n"), std::string::npos) << poscar;
}

TEST(StructureWriterTest, UnnamedStructureIsNamedByItsFormula) {
  Structure st = Triclinic();
  st.name.clear();
  ASSERT_OK_AND_ASSIGN(std::string cif, WriteCif(st));
  EXPECT_EQ(cif.rfind("data_" + st.ReducedFormula() + "\n", 0), 0u) << cif;
}

TEST(StructureWriterTest, MoleculesAreWrittenAsXyzOnly) {
  Structure mol;
  mol.periodic = false;
  mol.name = "water";
  mol.source = "water.xyz";
  mol.AddCartesian(8, {0, 0, 0});
  mol.AddCartesian(1, {0.757, 0.586, 0});
  mol.AddCartesian(1, {-0.757, 0.586, 0});
  for (const auto& result : {WriteCif(mol), WritePoscar(mol)}) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(result.status().message().find("water.xyz"), absl::string_view::npos);
  }
  ASSERT_OK_AND_ASSIGN(std::string xyz, WriteXyz(mol));
  ASSERT_OK_AND_ASSIGN(Structure back, ParseStructure(xyz, "water.xyz"));
  EXPECT_FALSE(back.periodic);
  EXPECT_EQ(back.name, "water");
  ASSERT_EQ(back.sites.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(back.sites[i].atomic_number, mol.sites[i].atomic_number);
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(back.sites[i].cart[k], mol.sites[i].cart[k], 1e-9);
  }
}

TEST(StructureWriterTest, BadStructuresAreRefused) {
  Structure empty;
  empty.source = "empty.cif";
  EXPECT_EQ(WriteCif(empty).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteXyz(empty).status().code(), absl::StatusCode::kInvalidArgument);
  Structure bad = Triclinic();
  bad.sites[1].atomic_number = 250;
  EXPECT_EQ(WritePoscar(bad).status().code(), absl::StatusCode::kInvalidArgument);
  Structure flat = Triclinic();
  flat.lattice = Lattice::FromVectors({Vec3{1, 0, 0}, Vec3{0, 1, 0}, Vec3{0, 0, 0}});
  EXPECT_EQ(WriteCif(flat).status().code(), absl::StatusCode::kInvalidArgument);
}

void RoundTripDir(const std::string& dir) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto st = ReadStructureFile(entry.path().string());
    ASSERT_TRUE(st.ok()) << st.status();
    RoundTripAll(*st, entry.path().filename().string());
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST(StructureWriterTest, RealCifFilesRoundTrip) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "structures/cif");
  RoundTripDir(dir);
}

TEST(StructureWriterTest, RealPoscarFilesRoundTrip) {
  MATALIGN_REAL_DATA_OR_SKIP(dir, "structures/poscar");
  RoundTripDir(dir);
}

}  // namespace
}  // namespace matalign::materials
