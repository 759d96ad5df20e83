#include "corpus/prototypes.h"

#include <cmath>
#include <cstdio>
#include <set>
#include <string>

#include "materials/element.h"
#include "materials/graph.h"
#include "materials/structure_writer.h"
#include "tests/test_util.h"

namespace matalign::corpus {
namespace {

using materials::Structure;

struct Canonical {
  PrototypeKind kind;
  std::map<Role, std::string> elements;
  std::string reduced_formula;
  std::vector<std::pair<std::string, int>> cation_cn;  // cation symbol -> anion neighbours
  double a_exp;                                        // experimental a, Angstrom (0 = not checked)
  double c_exp;      // experimental c for hexagonal/tetragonal cells (0 = not checked)
  double tolerance;  // relative
};

std::vector<Canonical> Canonicals() {
  return {
      {PrototypeKind::kRocksalt,
       {{Role::kA, "Na"}, {Role::kX, "Cl"}},
       "ClNa",
       {{"Na", 6}},
       5.640,
       0,
       0.05},
      {PrototypeKind::kRocksalt,
       {{Role::kA, "Mg"}, {Role::kX, "O"}},
       "MgO",
       {{"Mg", 6}},
       4.212,
       0,
       0.05},
      {PrototypeKind::kCesiumChloride,
       {{Role::kA, "Cs"}, {Role::kX, "Cl"}},
       "ClCs",
       {{"Cs", 8}},
       4.123,
       0,
       0.05},
      {PrototypeKind::kZincblende,
       {{Role::kA, "Zn"}, {Role::kX, "S"}},
       "SZn",
       {{"Zn", 4}},
       5.410,
       0,
       0.05},
      {PrototypeKind::kWurtzite,
       {{Role::kA, "Zn"}, {Role::kX, "S"}},
       "SZn",
       {{"Zn", 4}},
       3.82,
       6.26,
       0.05},
      {PrototypeKind::kWurtzite,
       {{Role::kA, "Zn"}, {Role::kX, "O"}},
       "OZn",
       {{"Zn", 4}},
       3.250,
       5.207,
       0.05},
      {PrototypeKind::kFluorite,
       {{Role::kA, "Ca"}, {Role::kX, "F"}},
       "CaF2",
       {{"Ca", 8}},
       5.463,
       0,
       0.05},
      {PrototypeKind::kAntifluorite,
       {{Role::kA, "Li"}, {Role::kX, "O"}},
       "Li2O",
       {{"Li", 4}},
       4.61,
       0,
       0.05},
      {PrototypeKind::kRutile,
       {{Role::kA, "Ti"}, {Role::kX, "O"}},
       "O2Ti",
       {{"Ti", 6}},
       4.594,
       2.959,
       0.05},
      {PrototypeKind::kCdI2,
       {{Role::kA, "Ti"}, {Role::kX, "S"}},
       "S2Ti",
       {{"Ti", 6}},
       3.407,
       5.695,
       0.05},
      {PrototypeKind::kPerovskite,
       {{Role::kA, "Sr"}, {Role::kB, "Ti"}, {Role::kX, "O"}},
       "O3SrTi",
       {{"Ti", 6}, {"Sr", 12}},
       3.905,
       0,
       0.05},
      {PrototypeKind::kSpinel,
       {{Role::kA, "Mg"}, {Role::kB, "Al"}, {Role::kX, "O"}},
       "Al2MgO4",
       {{"Mg", 4}, {"Al", 6}},
       8.083,
       0,
       0.05},
      {PrototypeKind::kCorundum,
       {{Role::kA, "Al"}, {Role::kX, "O"}},
       "Al2O3",
       {{"Al", 6}},
       4.759,
       12.99,
       0.05},
      {PrototypeKind::kLayeredAbx2,
       {{Role::kA, "Li"}, {Role::kB, "Co"}, {Role::kX, "O"}},
       "CoLiO2",
       {{"Li", 6}, {"Co", 6}},
       2.816,
       14.05,
       0.05},
  };
}

// For every site of element `symbol`: the number of anion neighbours within 1.1 x the
// nearest anion distance; returns the set of counts seen and the nearest distance found.
std::set<int> AnionCoordination(const Structure& st, const std::string& symbol, double* nearest) {
  const auto neighbors = materials::FindNeighbors(st, 6.0);
  std::set<int> counts;
  *nearest = 1e9;
  for (size_t i = 0; i < st.sites.size(); ++i) {
    if (materials::ElementByNumber(st.sites[i].atomic_number)->symbol != symbol) continue;
    double dmin = 1e9;
    for (const auto& n : neighbors[i]) {
      const char* s = materials::ElementByNumber(st.sites[n.index].atomic_number)->symbol;
      if (AnionCharge(s) != 0) dmin = std::min(dmin, n.distance);
    }
    int count = 0;
    for (const auto& n : neighbors[i]) {
      const char* s = materials::ElementByNumber(st.sites[n.index].atomic_number)->symbol;
      if (AnionCharge(s) != 0 && n.distance <= 1.1 * dmin) ++count;
    }
    counts.insert(count);
    *nearest = std::min(*nearest, dmin);
  }
  return counts;
}

TEST(PrototypesTest, ThereAreAtLeastTenWithConsistentInfo) {
  EXPECT_GE(AllPrototypes().size(), 10u);
  for (PrototypeKind kind : AllPrototypes()) {
    const PrototypeInfo& info = GetPrototypeInfo(kind);
    EXPECT_EQ(info.kind, kind);
    ASSERT_OK_AND_ASSIGN(PrototypeKind parsed, ParsePrototypeName(info.name));
    EXPECT_EQ(parsed, kind);
    EXPECT_FALSE(info.roles.empty());
    EXPECT_EQ(info.roles.back().role, Role::kX);
  }
  EXPECT_FALSE(ParsePrototypeName("quasicrystal").ok());
}

TEST(PrototypesTest, CanonicalCompoundsHaveTheRightCellsAndCoordination) {
  std::printf("%-14s %-8s %9s %9s %7s %9s %9s %7s\n", "prototype", "formula", "a", "a_exp", "err%",
              "c", "c_exp", "err%");
  for (const Canonical& c : Canonicals()) {
    const std::string what = c.reduced_formula + " " + GetPrototypeInfo(c.kind).name;
    ASSERT_OK_AND_ASSIGN(Structure st, MakePrototype(c.kind, c.elements));
    ASSERT_OK(materials::ValidateStructure(st, {}));
    EXPECT_EQ(st.ReducedFormula(), c.reduced_formula) << what;
    // Stoichiometry per role.
    const PrototypeInfo& info = GetPrototypeInfo(c.kind);
    int fu_atoms = 0;
    for (const RoleInfo& r : info.roles) fu_atoms += r.count;
    EXPECT_EQ(st.sites.size() % fu_atoms, 0u) << what;
    for (const auto& [symbol, cn] : c.cation_cn) {
      double nearest = 0;
      const std::set<int> counts = AnionCoordination(st, symbol, &nearest);
      EXPECT_EQ(counts, std::set<int>{cn}) << what << " " << symbol;
      // Nearest cation-anion distance close to the radius sum the lattice was built from.
      Role role = Role::kA;
      for (const auto& [r, s] : c.elements) {
        if (s == symbol) role = r;
      }
      int rcn = 6, xcn = 6;
      for (const RoleInfo& r : info.roles) {
        if (r.role == role) rcn = r.coordination;
        if (r.role == Role::kX) xcn = r.coordination;
      }
      const char* x = c.elements.at(Role::kX).c_str();
      int q = 0;
      for (int charge = 1; charge <= 6 && q == 0; ++charge) {
        if (IonicRadius(symbol, charge, 6) > 0) q = charge;
      }
      if (c.kind == PrototypeKind::kLayeredAbx2 && symbol == "Co") q = 3;
      if (c.kind == PrototypeKind::kPerovskite && symbol == "Ti") q = 4;
      if (c.kind == PrototypeKind::kRutile || c.kind == PrototypeKind::kCdI2) q = 4;
      const double sum = IonicRadius(symbol, q, rcn) + IonicRadius(x, AnionCharge(x), xcn);
      // Tetrahedral AX bonds mix in the covalent sum; perovskite A sits at a / sqrt(2) set
      // by B; the spinel fit and corundum average leave a few percent.
      if (c.kind != PrototypeKind::kPerovskite || symbol == "Ti") {
        EXPECT_NEAR(nearest / sum, 1.0, 0.08)
            << what << " " << symbol << " nearest " << nearest << " radius sum " << sum;
      }
    }
    const auto p = st.lattice.Parameters();
    const double a_err = 100 * (p[0] / c.a_exp - 1);
    const double c_err = c.c_exp > 0 ? 100 * (p[2] / c.c_exp - 1) : 0;
    std::printf("%-14s %-8s %9.3f %9.3f %7.1f %9.3f %9.3f %7.1f\n", info.name,
                c.reduced_formula.c_str(), p[0], c.a_exp, a_err, p[2], c.c_exp, c_err);
    EXPECT_LT(std::fabs(a_err), 100 * c.tolerance) << what;
    if (c.c_exp > 0) {
      EXPECT_LT(std::fabs(c_err), 100 * c.tolerance) << what;
    }
  }
}

TEST(PrototypesTest, FluoriteAnionsAreTetrahedral) {
  ASSERT_OK_AND_ASSIGN(
      Structure st, MakePrototype(PrototypeKind::kFluorite, {{Role::kA, "Ca"}, {Role::kX, "F"}}));
  const auto neighbors = materials::FindNeighbors(st, 4.0);
  for (size_t i = 0; i < st.sites.size(); ++i) {
    if (st.sites[i].atomic_number != 9) continue;
    const double d0 = neighbors[i][0].distance;
    int ca = 0;
    for (const auto& n : neighbors[i]) {
      if (st.sites[n.index].atomic_number == 20 && n.distance <= 1.1 * d0) ++ca;
    }
    EXPECT_EQ(ca, 4);
  }
}

TEST(PrototypesTest, BadArgumentsAreRefused) {
  auto expect_invalid = [](const absl::StatusOr<Structure>& st) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.status().code(), absl::StatusCode::kInvalidArgument) << st.status();
  };
  expect_invalid(MakePrototype(PrototypeKind::kRocksalt, {{Role::kA, "Na"}}));
  expect_invalid(MakePrototype(PrototypeKind::kRocksalt, {{Role::kA, "Na"}, {Role::kX, "Fe"}}));
  expect_invalid(MakePrototype(PrototypeKind::kRocksalt, {{Role::kA, "Xe"}, {Role::kX, "O"}}));
  expect_invalid(MakePrototype(PrototypeKind::kRocksalt,
                               {{Role::kA, "Na"}, {Role::kB, "K"}, {Role::kX, "Cl"}}));
  // Na+ cannot balance O2- in AX.
  expect_invalid(MakePrototype(PrototypeKind::kRocksalt, {{Role::kA, "Na"}, {Role::kX, "O"}}));
  expect_invalid(
      MakePrototype(PrototypeKind::kRocksalt, {{Role::kA, "Na"}, {Role::kX, "Cl"}}, 3.0));
}

int ChargeSum(const Crystal& c) {
  double sum = 0;
  for (const auto& [symbol, n] : c.composition) sum += n * c.oxidation_states.at(symbol);
  return static_cast<int>(std::lround(sum));
}

TEST(PrototypesTest, SampledCrystalsAreValidBalancedAndVaried) {
  Rng rng = StreamFor(7, 0, 1);
  std::map<std::string, int> used;
  std::set<std::string> formulas;
  for (int i = 0; i < 500; ++i) {
    ASSERT_OK_AND_ASSIGN(Crystal c, SampleCrystal(rng));
    ASSERT_OK(materials::ValidateStructure(c.structure, {}));
    EXPECT_EQ(ChargeSum(c), 0) << c.structure.name;
    EXPECT_LE(std::fabs(c.strain), 0.03 + 1e-12);
    EXPECT_GE(c.size_mismatch, 0);
    ++used[c.prototype_name];
    formulas.insert(c.structure.ReducedFormula());
    // The composition is the cell's formula divided by the number of formula units.
    std::map<int, double> cell;
    for (const auto& s : c.structure.sites) cell[s.atomic_number] += 1;
    double fu = -1;
    for (const auto& [symbol, n] : c.composition) {
      const double k = cell[materials::ElementBySymbol(symbol)->atomic_number] / n;
      if (fu < 0) fu = k;
      EXPECT_NEAR(k, fu, 1e-9) << c.structure.name;
    }
    if (c.prototype == PrototypeKind::kPerovskite) {
      EXPECT_GE(c.screening_value, 0.85);
      EXPECT_LE(c.screening_value, 1.06);
    }
  }
  EXPECT_GE(used.size(), 10u);
  EXPECT_GE(formulas.size(), 150u);
  for (const auto& [name, n] : used) std::printf("%-16s %d\n", name.c_str(), n);
  std::printf("%zu distinct formulas in 500 draws\n", formulas.size());
}

TEST(PrototypesTest, SamplingIsDeterministic) {
  for (int round = 0; round < 2; ++round) {
    Rng a = StreamFor(99, 3, 1), b = StreamFor(99, 3, 1);
    for (int i = 0; i < 20; ++i) {
      ASSERT_OK_AND_ASSIGN(Crystal ca, SampleCrystal(a));
      ASSERT_OK_AND_ASSIGN(Crystal cb, SampleCrystal(b));
      ASSERT_OK_AND_ASSIGN(std::string wa, materials::WriteCif(ca.structure));
      ASSERT_OK_AND_ASSIGN(std::string wb, materials::WriteCif(cb.structure));
      EXPECT_EQ(wa, wb);
    }
  }
}

TEST(PrototypesTest, SamplerHonoursThePrototypeList) {
  Rng rng = StreamFor(1, 2, 3);
  CrystalSamplerOptions options;
  options.prototypes = {PrototypeKind::kSpinel};
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(Crystal c, SampleCrystal(rng, options));
    EXPECT_EQ(c.prototype, PrototypeKind::kSpinel);
    EXPECT_EQ(c.structure.sites.size(), 56u);
  }
  options.strain_sigma = -1;
  EXPECT_FALSE(SampleCrystal(rng, options).ok());
}

double MinPairMargin(const Structure& st, const std::map<std::string, double>& comp,
                     double factor) {
  // Smallest d / (factor x contact distance) over all pairs (periodic images included).
  const auto neighbors = materials::FindNeighbors(st, 6.0);
  double worst = 1e9;
  for (size_t i = 0; i < st.sites.size(); ++i) {
    for (const auto& n : neighbors[i]) {
      const double m = std::max(
          0.7, factor * MinContactDistance(
                            comp, materials::ElementByNumber(st.sites[i].atomic_number)->symbol,
                            materials::ElementByNumber(st.sites[n.index].atomic_number)->symbol));
      worst = std::min(worst, n.distance / m);
    }
  }
  return worst;
}

TEST(AmorphousTest, PacksAtTheRequestedDensityWithoutCloseContacts) {
  const std::vector<std::pair<std::map<std::string, double>, double>> cases = {
      {{{"Si", 1}, {"O", 2}}, 2.2},
      {{{"Mg", 1}, {"O", 1}}, 3.3},
      {{{"Sr", 1}, {"Ti", 1}, {"O", 3}}, 4.6},
      {{{"Zn", 1}, {"S", 1}}, 3.7},
      {{{"Cu", 1}, {"Zr", 1}}, 7.0},  // metallic glass: covalent radii
  };
  Rng rng = StreamFor(5, 0, 2);
  for (const auto& [comp, density] : cases) {
    ASSERT_OK_AND_ASSIGN(Structure st, MakeAmorphous(comp, 90, density, rng));
    ASSERT_OK(materials::ValidateStructure(st, {}));
    EXPECT_NEAR(st.Density(), density, 0.1 * density) << st.name;
    EXPECT_NEAR(st.Density(), density, 1e-6 * density) << st.name;  // exact by construction
    EXPECT_GE(st.sites.size(), 60u);
    EXPECT_LE(st.sites.size(), 120u);
    ASSERT_FALSE(st.notes.empty());
    double factor = 0;
    ASSERT_EQ(std::sscanf(st.notes.back().c_str(), "min_distance_factor %lf", &factor), 1);
    EXPECT_GE(factor, 0.6 - 1e-9);
    EXPECT_GE(MinPairMargin(st, comp, factor), 1.0 - 1e-9) << st.name;
    std::printf("%-24s %3zu atoms, factor %.2f\n", st.name.c_str(), st.sites.size(), factor);
  }
}

TEST(AmorphousTest, SampledCrystalsGiveAmorphousAnalogues) {
  Rng rng = StreamFor(11, 0, 4);
  int ok = 0;
  for (int i = 0; i < 60; ++i) {
    ASSERT_OK_AND_ASSIGN(Crystal c, SampleCrystal(rng));
    const int n = 30 + static_cast<int>(UniformIndex(rng, 91));
    auto st = MakeAmorphous(c.composition, n, 0.9 * c.structure.Density(), rng);
    ASSERT_TRUE(st.ok()) << c.structure.name << ": " << st.status();
    ASSERT_OK(materials::ValidateStructure(*st, {}));
    EXPECT_EQ(st->ReducedFormula(), c.structure.ReducedFormula());
    EXPECT_GE(MinPairMargin(*st, c.composition, 0.6), 1.0 - 1e-9) << st->name;
    ++ok;
  }
  EXPECT_EQ(ok, 60);
}

TEST(AmorphousTest, IsDeterministic) {
  Rng a = StreamFor(8, 8, 8), b = StreamFor(8, 8, 8);
  ASSERT_OK_AND_ASSIGN(Structure sa, MakeAmorphous({{"Al", 2}, {"O", 3}}, 100, 3.5, a));
  ASSERT_OK_AND_ASSIGN(Structure sb, MakeAmorphous({{"Al", 2}, {"O", 3}}, 100, 3.5, b));
  ASSERT_OK_AND_ASSIGN(std::string wa, materials::WriteCif(sa));
  ASSERT_OK_AND_ASSIGN(std::string wb, materials::WriteCif(sb));
  EXPECT_EQ(wa, wb);
}

TEST(AmorphousTest, TooDenseOrBadInputFailsGracefully) {
  Rng rng = StreamFor(1, 1, 1);
  auto dense = MakeAmorphous({{"Na", 1}, {"Cl", 1}}, 64, 20.0, rng);
  ASSERT_FALSE(dense.ok());
  EXPECT_EQ(dense.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(dense.status().message().find("too dense"), absl::string_view::npos) << dense.status();
  EXPECT_FALSE(MakeAmorphous({{"Qq", 1}}, 64, 2.0, rng).ok());
  EXPECT_FALSE(MakeAmorphous({}, 64, 2.0, rng).ok());
  EXPECT_FALSE(MakeAmorphous({{"Si", 1}}, 0, 2.0, rng).ok());
  EXPECT_FALSE(MakeAmorphous({{"Si", 1}}, 64, -1, rng).ok());
}

TEST(NanoparticleTest, IsASphereInAVacuumBox) {
  ASSERT_OK_AND_ASSIGN(Structure nacl, MakePrototype(PrototypeKind::kRocksalt,
                                                     {{Role::kA, "Na"}, {Role::kX, "Cl"}}));
  ASSERT_OK_AND_ASSIGN(Nanoparticle np, MakeNanoparticle(nacl, 8.0, 12.0));
  const Structure& st = np.structure;
  ASSERT_OK(materials::ValidateStructure(st, {}));
  EXPECT_DOUBLE_EQ(np.radius_a, 8.0);
  EXPECT_LE(st.sites.size(), 400u);
  // Centroid, extent and radius of gyration of a filled sphere: sqrt(3/5) R.
  materials::Vec3 c{0, 0, 0};
  for (const auto& s : st.sites) {
    for (int k = 0; k < 3; ++k) c[k] += s.cart[k] / st.sites.size();
  }
  double rg2 = 0, rmax = 0;
  for (const auto& s : st.sites) {
    double r2 = 0;
    for (int k = 0; k < 3; ++k) r2 += (s.cart[k] - c[k]) * (s.cart[k] - c[k]);
    rg2 += r2 / st.sites.size();
    rmax = std::max(rmax, std::sqrt(r2));
  }
  EXPECT_LE(rmax, 8.0 + 0.5);
  EXPECT_NEAR(std::sqrt(rg2), std::sqrt(0.6) * 8.0, 0.15 * std::sqrt(0.6) * 8.0);
  // Periodic images are at least the vacuum apart.
  const auto p = st.lattice.Parameters();
  EXPECT_GE(p[0] - 2 * rmax, 12.0);
  // Bulk atom count estimate: sphere volume x atoms per cell volume.
  const double expected = 4.0 / 3 * M_PI * 512 * 8 / nacl.lattice.Volume();
  EXPECT_NEAR(st.sites.size(), expected, 0.25 * expected);
}

TEST(NanoparticleTest, LargeRadiiShrinkToTheAtomBound) {
  Rng rng = StreamFor(3, 0, 0);
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK_AND_ASSIGN(Crystal c, SampleCrystal(rng));
    ASSERT_OK_AND_ASSIGN(Nanoparticle np, MakeNanoparticle(c.structure, 15.0, 10.0, 400));
    ASSERT_OK(materials::ValidateStructure(np.structure, {}));
    EXPECT_LE(np.structure.sites.size(), 400u);
    EXPECT_LE(np.radius_a, 15.0);
    EXPECT_GT(np.radius_a, 5.0);
  }
  Structure mol;
  mol.periodic = false;
  mol.AddCartesian(1, {0, 0, 0});
  EXPECT_FALSE(MakeNanoparticle(mol, 8.0).ok());
  ASSERT_OK_AND_ASSIGN(Structure nacl, MakePrototype(PrototypeKind::kRocksalt,
                                                     {{Role::kA, "Na"}, {Role::kX, "Cl"}}));
  EXPECT_FALSE(MakeNanoparticle(nacl, 0.5).ok());
  EXPECT_FALSE(MakeNanoparticle(nacl, 8, -1).ok());
}

}  // namespace
}  // namespace matalign::corpus
