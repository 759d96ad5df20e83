#include "materials/graph.h"

#include <cmath>
#include <random>

#include "materials/structure_io.h"
#include "tests/test_util.h"

namespace matalign::materials {
namespace {

Structure RockSalt(double a) {
  Structure st;
  st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
  const Vec3 fcc[4] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  for (const Vec3& p : fcc) {
    st.AddFractional(11, p);
    st.AddFractional(17, {p[0] + 0.5, p[1], p[2]});
  }
  return st;
}

// A random triclinic cell, strongly skewed at times, with atoms at least 1 A apart.
Structure RandomTriclinic(std::mt19937* rng, int n) {
  std::uniform_real_distribution<double> len(2.0, 12.0), ang(35, 145), u(0, 1);
  Structure st;
  do {
    st.lattice =
        Lattice::FromParameters(len(*rng), len(*rng), len(*rng), ang(*rng), ang(*rng), ang(*rng));
  } while (!(st.lattice.Volume() > 1.0) || st.lattice.PerpendicularWidths()[0] < 1.0 ||
           st.lattice.PerpendicularWidths()[1] < 1.0 || st.lattice.PerpendicularWidths()[2] < 1.0);
  while (static_cast<int>(st.sites.size()) < n) {
    st.AddFractional(1 + static_cast<int>(u(*rng) * 80), {u(*rng), u(*rng), u(*rng)});
    const int last = static_cast<int>(st.sites.size()) - 1;
    for (int j = 0; j < last; ++j) {
      if (MinimumImageDistance(st, j, last) < 1.0) {
        st.sites.pop_back();
        break;
      }
    }
  }
  return st;
}

TEST(GraphTest, CellListMatchesBruteForceOnRandomCells) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 60; ++trial) {
    Structure st = RandomTriclinic(&rng, 1 + trial % 7);
    for (double cutoff : {3.0, 6.0, 8.5}) {
      EXPECT_EQ(FindNeighbors(st, cutoff), FindNeighborsBruteForce(st, cutoff))
          << "trial " << trial << " cutoff " << cutoff;
    }
  }
}

TEST(GraphTest, MoleculeHasNoImages) {
  Structure st;
  st.periodic = false;
  st.AddCartesian(8, {0, 0, 0});
  st.AddCartesian(1, {0.96, 0, 0});
  st.AddCartesian(1, {-0.24, 0.93, 0});
  auto nb = FindNeighbors(st, 6.0);
  ASSERT_EQ(nb.size(), 3u);
  EXPECT_EQ(nb[0].size(), 2u);
  EXPECT_EQ(nb, FindNeighborsBruteForce(st, 6.0));
}

TEST(GraphTest, RockSaltHasSixNearestNeighbours) {
  Structure st = RockSalt(5.64);
  ASSERT_OK_AND_ASSIGN(StructureGraph g, BuildGraph(st));
  EXPECT_EQ(g.num_nodes, 8);
  EXPECT_EQ(g.num_edges(), 8u * 12u);  // capped at max_neighbors
  // The six nearest neighbours of Na are Cl at a/2.
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(g.atomic_numbers[g.edge_dst[k]], 17);
    EXPECT_NEAR(g.edge_distance[k], 2.82, 1e-6);
  }
  // Coordination number 6, stored as 6/12.
  EXPECT_FLOAT_EQ(g.node_features[5], 0.5f);
  EXPECT_FLOAT_EQ(g.node_features[0], 0.11f);
}

TEST(GraphTest, RadialBasisPeaksAtTheNearestCentre) {
  Structure st = RockSalt(5.64);
  GraphOptions options;
  options.max_neighbors = 100;
  ASSERT_OK_AND_ASSIGN(StructureGraph g, BuildGraph(st, options));
  EXPECT_EQ(g.num_rbf, 40);
  ASSERT_EQ(g.edge_rbf.size(), g.num_edges() * 40);
  for (size_t e = 0; e < g.num_edges(); ++e) {
    const float* rbf = &g.edge_rbf[e * 40];
    const int best = static_cast<int>(std::max_element(rbf, rbf + 40) - rbf);
    const double spacing = 6.0 / 39;
    EXPECT_NEAR(best * spacing, g.edge_distance[e], spacing / 2 + 1e-9);
    EXPECT_LE(g.edge_distance[e], 6.0);
  }
  // Every neighbour within 6 A is present: Na-Cl at a/2 (6), Na-Na at a/sqrt2 (12),
  // Na-Cl at a*sqrt(3)/2 (8), Na-Na at a (6) = 32; Na-Cl at a*sqrt(5)/2 = 6.3 A is out.
  size_t from_first = 0;
  for (size_t e = 0; e < g.num_edges(); ++e) from_first += g.edge_src[e] == 0;
  EXPECT_EQ(from_first, 32u);
}

TEST(GraphTest, SmallCellSeesItsOwnImages) {
  Structure st;
  st.lattice = Lattice::FromParameters(2.5, 2.5, 2.5, 90, 90, 90);
  st.AddFractional(26, {0, 0, 0});
  ASSERT_OK_AND_ASSIGN(StructureGraph g, BuildGraph(st));
  EXPECT_EQ(g.num_edges(), 12u);
  for (size_t e = 0; e < g.num_edges(); ++e) EXPECT_EQ(g.edge_dst[e], 0);
  EXPECT_NEAR(g.edge_distance[0], 2.5, 1e-9);
}

TEST(GraphTest, RejectsBadOptions) {
  GraphOptions bad;
  bad.cutoff = -1;
  EXPECT_EQ(BuildGraph(RockSalt(5.64), bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = GraphOptions();
  bad.num_rbf = 1;
  EXPECT_EQ(BuildGraph(RockSalt(5.64), bad).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matalign::materials
