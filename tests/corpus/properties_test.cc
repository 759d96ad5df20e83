#include "corpus/properties.h"

#include <cmath>
#include <cstdio>

#include "corpus/prototypes.h"
#include "tests/test_util.h"

namespace matalign::corpus {
namespace {

using materials::Structure;

Structure Make(PrototypeKind kind, std::map<Role, std::string> elements) {
  auto st = MakePrototype(kind, elements);
  EXPECT_TRUE(st.ok()) << st.status();
  return st.ok() ? *st : Structure{};
}

std::map<std::string, double> Noiseless(const PropertyInputs& in) {
  Rng rng = StreamFor(0, 0, 0);
  PropertyOptions options;
  options.noise_scale = 0;
  auto p = ComputeProperties(in, rng, options);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : std::map<std::string, double>{};
}

TEST(PropertiesTest, CanonicalCompoundsLookPlausible) {
  struct Case {
    PrototypeKind kind;
    std::map<Role, std::string> elements;
  };
  const std::vector<Case> cases = {
      {PrototypeKind::kRocksalt, {{Role::kA, "Na"}, {Role::kX, "Cl"}}},
      {PrototypeKind::kRocksalt, {{Role::kA, "Mg"}, {Role::kX, "O"}}},
      {PrototypeKind::kZincblende, {{Role::kA, "Zn"}, {Role::kX, "S"}}},
      {PrototypeKind::kRutile, {{Role::kA, "Ti"}, {Role::kX, "O"}}},
      {PrototypeKind::kPerovskite, {{Role::kA, "Sr"}, {Role::kB, "Ti"}, {Role::kX, "O"}}},
      {PrototypeKind::kCorundum, {{Role::kA, "Al"}, {Role::kX, "O"}}},
      {PrototypeKind::kCorundum, {{Role::kA, "Fe"}, {Role::kX, "O"}}},
      {PrototypeKind::kFluorite, {{Role::kA, "Ca"}, {Role::kX, "F"}}},
  };
  std::printf("%-10s %8s %10s %8s %10s\n", "formula", "gap_eV", "Ef_eV/at", "rho", "H_GPa");
  for (const Case& c : cases) {
    const Structure st = Make(c.kind, c.elements);
    PropertyInputs in;
    in.structure = &st;
    in.grain_size_nm = 1000;
    const auto p = Noiseless(in);
    std::printf("%-10s %8.2f %10.2f %8.3f %10.2f\n", st.ReducedFormula().c_str(), p.at(kBandGapEv),
                p.at(kFormationEnergyEvPerAtom), p.at(kDensityGCm3), p.at(kHardnessGpa));
    EXPECT_GT(p.at(kBandGapEv), 0.5) << st.name;
    EXPECT_LT(p.at(kBandGapEv), 15) << st.name;
    EXPECT_LT(p.at(kFormationEnergyEvPerAtom), -0.5) << st.name;
    EXPECT_GT(p.at(kFormationEnergyEvPerAtom), -6) << st.name;
    EXPECT_EQ(p.at(kDensityGCm3), st.Density()) << st.name;
    EXPECT_GT(p.at(kHardnessGpa), 0) << st.name;
    EXPECT_DOUBLE_EQ(p.at(kRelativeDensity), 1.0);
  }
}

TEST(PropertiesTest, DensityIsExactEvenWithNoise) {
  Rng rng = StreamFor(3, 0, 0);
  for (int i = 0; i < 50; ++i) {
    ASSERT_OK_AND_ASSIGN(Crystal c, SampleCrystal(rng));
    PropertyInputs in;
    in.structure = &c.structure;
    in.composition = c.composition;
    in.size_mismatch = c.size_mismatch;
    in.lattice_strain = c.strain;
    in.porosity = 0.1;
    in.grain_size_nm = 500;
    ASSERT_OK_AND_ASSIGN(auto p, ComputeProperties(in, rng));
    EXPECT_EQ(p.at(kDensityGCm3), c.structure.Density());
    EXPECT_EQ(p.size(), 5u);
    EXPECT_GE(p.at(kBandGapEv), 0);
    EXPECT_GE(p.at(kRelativeDensity), 0);
    EXPECT_LE(p.at(kRelativeDensity), 1);
  }
}

TEST(PropertiesTest, OxidesHaveLargerGapsThanSulfidesAndSelenides) {
  // Same cation, rocksalt / zincblende cells; averaged over noisy draws.
  Rng rng = StreamFor(4, 0, 0);
  double sum[3] = {0, 0, 0};
  int n = 0;
  for (const char* cation : {"Mg", "Ca", "Sr", "Ba", "Zn", "Cd", "Mn"}) {
    const char* anions[3] = {"O", "S", "Se"};
    for (int k = 0; k < 3; ++k) {
      const PrototypeKind kind = std::string(cation) == "Zn" || std::string(cation) == "Cd"
                                     ? PrototypeKind::kZincblende
                                     : PrototypeKind::kRocksalt;
      const Structure st = Make(kind, {{Role::kA, cation}, {Role::kX, anions[k]}});
      PropertyInputs in;
      in.structure = &st;
      const double noiseless = Noiseless(in).at(kBandGapEv);
      for (int r = 0; r < 20; ++r) {
        ASSERT_OK_AND_ASSIGN(auto p, ComputeProperties(in, rng));
        sum[k] += p.at(kBandGapEv);
      }
      if (k == 0) {
        const Structure s2 = Make(kind, {{Role::kA, cation}, {Role::kX, "S"}});
        PropertyInputs in2;
        in2.structure = &s2;
        EXPECT_GT(noiseless, Noiseless(in2).at(kBandGapEv)) << cation;
      }
    }
    ++n;
  }
  std::printf("mean gap O %.2f  S %.2f  Se %.2f eV\n", sum[0] / (20 * n), sum[1] / (20 * n),
              sum[2] / (20 * n));
  EXPECT_GT(sum[0], sum[1]);
  EXPECT_GT(sum[1], sum[2]);
}

TEST(PropertiesTest, HardnessFallsWithGrainSizeAndPorosity) {
  const Structure st = Make(PrototypeKind::kRocksalt, {{Role::kA, "Mg"}, {Role::kX, "O"}});
  PropertyInputs in;
  in.structure = &st;
  double last = 1e9;
  for (double d : {20.0, 100.0, 500.0, 2000.0, 10000.0}) {
    in.grain_size_nm = d;
    const double h = Noiseless(in).at(kHardnessGpa);
    EXPECT_LT(h, last) << d;
    last = h;
  }
  in.grain_size_nm = 500;
  const double dense = Noiseless(in).at(kHardnessGpa);
  in.porosity = 0.2;
  EXPECT_LT(Noiseless(in).at(kHardnessGpa), dense);
  EXPECT_NEAR(Noiseless(in).at(kRelativeDensity), 0.8, 1e-12);
  // On average under noise too: fine vs coarse grains.
  Rng rng = StreamFor(5, 0, 0);
  double fine = 0, coarse = 0;
  in.porosity = 0.05;
  for (int i = 0; i < 200; ++i) {
    in.grain_size_nm = 50;
    ASSERT_OK_AND_ASSIGN(auto pf, ComputeProperties(in, rng));
    fine += pf.at(kHardnessGpa);
    in.grain_size_nm = 5000;
    ASSERT_OK_AND_ASSIGN(auto pc, ComputeProperties(in, rng));
    coarse += pc.at(kHardnessGpa);
  }
  EXPECT_GT(fine, coarse);
}

TEST(PropertiesTest, AmorphousAndNanoShiftGapAndEnergy) {
  const Structure st = Make(PrototypeKind::kZincblende, {{Role::kA, "Zn"}, {Role::kX, "S"}});
  PropertyInputs bulk;
  bulk.structure = &st;
  const auto pb = Noiseless(bulk);

  Rng rng = StreamFor(6, 0, 0);
  ASSERT_OK_AND_ASSIGN(Structure am,
                       MakeAmorphous({{"Zn", 1}, {"S", 1}}, 64, 0.9 * st.Density(), rng));
  PropertyInputs amorphous;
  amorphous.structure = &am;
  amorphous.material_class = MaterialClass::kAmorphous;
  const auto pa = Noiseless(amorphous);
  EXPECT_LT(pa.at(kBandGapEv), pb.at(kBandGapEv));
  EXPECT_GT(pa.at(kFormationEnergyEvPerAtom), pb.at(kFormationEnergyEvPerAtom));
  EXPECT_NEAR(pa.at(kDensityGCm3), 0.9 * st.Density(), 1e-6);

  ASSERT_OK_AND_ASSIGN(Nanoparticle np, MakeNanoparticle(st, 8.0));
  PropertyInputs nano;
  nano.structure = &np.structure;
  nano.composition = {{"Zn", 1}, {"S", 1}};
  nano.material_class = MaterialClass::kNano;
  nano.particle_radius_a = np.radius_a;
  nano.bulk_density_g_cm3 = st.Density();
  const auto pn = Noiseless(nano);
  EXPECT_GT(pn.at(kBandGapEv), pb.at(kBandGapEv));
  EXPECT_GT(pn.at(kFormationEnergyEvPerAtom), pb.at(kFormationEnergyEvPerAtom));
  EXPECT_EQ(pn.at(kDensityGCm3), st.Density());
  nano.bulk_density_g_cm3 = 0;
  Rng r2 = StreamFor(0, 0, 0);
  EXPECT_EQ(ComputeProperties(nano, r2).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(PropertiesTest, MetalsHaveNoGap) {
  Structure cu;
  cu.lattice = materials::Lattice::FromParameters(3.61, 3.61, 3.61, 90, 90, 90);
  for (const auto& f : {materials::Vec3{0, 0, 0}, materials::Vec3{0, 0.5, 0.5},
                        materials::Vec3{0.5, 0, 0.5}, materials::Vec3{0.5, 0.5, 0}}) {
    cu.AddFractional(29, f);
  }
  PropertyInputs in;
  in.structure = &cu;
  EXPECT_EQ(Noiseless(in).at(kBandGapEv), 0);
  EXPECT_NEAR(Noiseless(in).at(kDensityGCm3), 8.93, 0.05);
}

TEST(PropertiesTest, DeterministicForTheSameStream) {
  const Structure st =
      Make(PrototypeKind::kSpinel, {{Role::kA, "Mg"}, {Role::kB, "Al"}, {Role::kX, "O"}});
  PropertyInputs in;
  in.structure = &st;
  in.grain_size_nm = 300;
  in.porosity = 0.07;
  Rng a = StreamFor(9, 1, 2), b = StreamFor(9, 1, 2);
  ASSERT_OK_AND_ASSIGN(auto pa, ComputeProperties(in, a));
  ASSERT_OK_AND_ASSIGN(auto pb, ComputeProperties(in, b));
  EXPECT_EQ(pa, pb);
  ASSERT_OK_AND_ASSIGN(auto pc, ComputeProperties(in, a));
  EXPECT_NE(pa, pc);  // the stream advanced
}

TEST(PropertiesTest, BadInputsAreRefused) {
  Rng rng = StreamFor(0, 0, 0);
  PropertyInputs in;
  EXPECT_EQ(ComputeProperties(in, rng).status().code(), absl::StatusCode::kInvalidArgument);
  const Structure st = Make(PrototypeKind::kRocksalt, {{Role::kA, "Na"}, {Role::kX, "Cl"}});
  in.structure = &st;
  in.porosity = 0.95;
  EXPECT_EQ(ComputeProperties(in, rng).status().code(), absl::StatusCode::kInvalidArgument);
  in.porosity = 0;
  in.grain_size_nm = -1;
  EXPECT_EQ(ComputeProperties(in, rng).status().code(), absl::StatusCode::kInvalidArgument);
  in.grain_size_nm = 0;
  in.composition = {{"Qq", 1}};
  EXPECT_EQ(ComputeProperties(in, rng).status().code(), absl::StatusCode::kInvalidArgument);
  in.composition.clear();
  PropertyOptions options;
  options.noise_scale = -1;
  EXPECT_FALSE(ComputeProperties(in, rng, options).ok());
}

}  // namespace
}  // namespace matalign::corpus
