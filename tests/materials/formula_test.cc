#include "materials/formula.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "materials/element.h"
#include "materials/structure.h"
#include "tests/test_util.h"

namespace matalign::materials {
namespace {

// Same keys, and amounts equal up to floating-point rounding of the parser's products.
void ExpectComposition(const Composition& actual, const Composition& expected,
                       const std::string& what) {
  std::vector<std::string> actual_keys, expected_keys;
  for (const auto& kv : actual) actual_keys.push_back(kv.first);
  for (const auto& kv : expected) expected_keys.push_back(kv.first);
  ASSERT_EQ(actual_keys, expected_keys) << what;
  for (const auto& [symbol, n] : expected) {
    EXPECT_NEAR(actual.at(symbol), n, 1e-12 * n) << what << ": " << symbol;
  }
}

struct ParseCase {
  const char* formula;
  Composition expected;
};

class ParseFormulaTest : public ::testing::TestWithParam<ParseCase> {};

TEST_P(ParseFormulaTest, GivesExactComposition) {
  const ParseCase& c = GetParam();
  ASSERT_OK_AND_ASSIGN(Composition composition, ParseFormula(c.formula));
  ExpectComposition(composition, c.expected, c.formula);
}

// Formatting and parsing again gives the same composition.
TEST_P(ParseFormulaTest, RoundTripsThroughFormatComposition) {
  const ParseCase& c = GetParam();
  ASSERT_OK_AND_ASSIGN(Composition composition, ParseFormula(c.formula));
  const std::string formatted = FormatComposition(composition);
  ASSERT_OK_AND_ASSIGN(Composition again, ParseFormula(formatted));
  ExpectComposition(again, composition, std::string(c.formula) + " -> " + formatted);
}

INSTANTIATE_TEST_SUITE_P(
    Examples, ParseFormulaTest,
    ::testing::Values(
        // The server's examples (issue 6).
        ParseCase{"BaTiO3", {{"Ba", 1}, {"Ti", 1}, {"O", 3}}},
        ParseCase{"Li(Ni0.8Co0.1Mn0.1)O2",
                  {{"Li", 1}, {"Ni", 0.8}, {"Co", 0.1}, {"Mn", 0.1}, {"O", 2}}},
        ParseCase{"CaCl2·2H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"CaCl2*2H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"Fe2O3", {{"Fe", 2}, {"O", 3}}},
        ParseCase{"(NH4)2SO4", {{"N", 2}, {"H", 8}, {"S", 1}, {"O", 4}}},
        ParseCase{"La0.7Sr0.3MnO3", {{"La", 0.7}, {"Sr", 0.3}, {"Mn", 1}, {"O", 3}}},
        // Other hydrate dots; the multiplier covers the whole part after the separator.
        ParseCase{"CaCl2•2H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"CaCl2⋅2H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"CaCl2∙2H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"Na2CO3·10H2O", {{"Na", 2}, {"C", 1}, {"O", 13}, {"H", 20}}},
        ParseCase{"Fe2O3*2SiO2", {{"Fe", 2}, {"O", 7}, {"Si", 2}}},
        ParseCase{"Al2O3·2SiO2·2H2O", {{"Al", 2}, {"O", 9}, {"Si", 2}, {"H", 4}}},
        // The '.' rule: hydrate when the number after it is followed by H2O or NH3 ...
        ParseCase{"CuSO4.5H2O", {{"Cu", 1}, {"S", 1}, {"O", 9}, {"H", 10}}},
        ParseCase{"CaCl2.2H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"CaCl2.8NH3", {{"Ca", 1}, {"Cl", 2}, {"N", 8}, {"H", 24}}},
        ParseCase{"CaSO4.0.5H2O", {{"Ca", 1}, {"S", 1}, {"O", 4.5}, {"H", 1}}},
        ParseCase{"LiOH.H2O", {{"Li", 1}, {"O", 2}, {"H", 3}}},
        ParseCase{"LiOH.2H2O", {{"Li", 1}, {"O", 3}, {"H", 5}}},
        // ... and a decimal point otherwise.
        ParseCase{"Li6.4La3Zr1.4Ta0.6O12",
                  {{"Li", 6.4}, {"La", 3}, {"Zr", 1.4}, {"Ta", 0.6}, {"O", 12}}},
        ParseCase{"YBa2Cu3O6.95", {{"Y", 1}, {"Ba", 2}, {"Cu", 3}, {"O", 6.95}}},
        ParseCase{"Li1.5Al0.5Ge1.5(PO4)3",
                  {{"Li", 1.5}, {"Al", 0.5}, {"Ge", 1.5}, {"P", 3}, {"O", 12}}},
        ParseCase{"C0.5H2O", {{"C", 0.5}, {"H", 2}, {"O", 1}}},  // a count cannot be 0
        ParseCase{"C2.5 H2O", {{"C", 2.5}, {"H", 2}, {"O", 1}}},
        ParseCase{"C2.5H2O", {{"C", 2}, {"H", 10}, {"O", 5}}},  // an adduct, as documented
        ParseCase{"La.7Sr.3MnO3", {{"La", 0.7}, {"Sr", 0.3}, {"Mn", 1}, {"O", 3}}},
        ParseCase{"(Fe)1.5O2.5H2O2", {{"Fe", 1.5}, {"O", 4.5}, {"H", 2}}},
        // Groups, repeats, whitespace, deuterium, a leading multiplier.
        ParseCase{"[Co(NH3)6]Cl3", {{"Co", 1}, {"N", 6}, {"H", 18}, {"Cl", 3}}},
        ParseCase{"[CuSO4·5H2O]2", {{"Cu", 2}, {"S", 2}, {"O", 18}, {"H", 20}}},
        ParseCase{"Ca3(PO4)2", {{"Ca", 3}, {"P", 2}, {"O", 8}}},
        ParseCase{"CH3COOH", {{"C", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{" Ba Ti O 3\t", {{"Ba", 1}, {"Ti", 1}, {"O", 3}}},
        ParseCase{"CaCl2 · 2 H2O", {{"Ca", 1}, {"Cl", 2}, {"H", 4}, {"O", 2}}},
        ParseCase{"D2O", {{"H", 2}, {"O", 1}}}, ParseCase{"2H2O", {{"H", 4}, {"O", 2}}},
        ParseCase{"((((((((((((((((H))))))))))))))))", {{"H", 1}}}));

struct ErrorCase {
  std::string formula;
  std::string message;
};

class ParseFormulaErrorTest : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(ParseFormulaErrorTest, IsInvalidArgumentWithMessage) {
  const ErrorCase& c = GetParam();
  const absl::StatusOr<Composition> result = ParseFormula(c.formula);
  ASSERT_FALSE(result.ok()) << c.formula;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), c.message);
}

INSTANTIATE_TEST_SUITE_P(
    Errors, ParseFormulaErrorTest,
    ::testing::Values(
        ErrorCase{"", "empty formula at position 0 in formula \"\""},
        ErrorCase{" \t", "empty formula at position 0 in formula \" \\t\""},
        ErrorCase{"XxO2", "unknown element 'Xx' at position 0 in formula \"XxO2\""},
        ErrorCase{"BaUueO3", "unknown element 'Uue' at position 2 in formula \"BaUueO3\""},
        ErrorCase{"Ca(OH2", "unbalanced '(': no matching ')' at position 2 in formula \"Ca(OH2\""},
        ErrorCase{"Fe2O3(", "unbalanced '(': no matching ')' at position 5 in formula \"Fe2O3(\""},
        ErrorCase{"[Co(NH3)6Cl3",
                  "unbalanced '[': no matching ']' at position 0 in formula \"[Co(NH3)6Cl3\""},
        ErrorCase{"CaOH)2", "unbalanced ')' at position 4 in formula \"CaOH)2\""},
        ErrorCase{")H", "unbalanced ')' at position 0 in formula \")H\""},
        ErrorCase{"Ca(OH]2",
                  "'(' at position 2 closed by ']' at position 5 in formula \"Ca(OH]2\""},
        ErrorCase{"Ca(]", "'(' at position 2 closed by ']' at position 3 in formula \"Ca(]\""},
        ErrorCase{"Ca()2", "empty group '()' at position 2 in formula \"Ca()2\""},
        ErrorCase{"Fe0O", "zero amount '0' at position 2 in formula \"Fe0O\""},
        ErrorCase{"Fe2O0.00", "zero amount '0.00' at position 4 in formula \"Fe2O0.00\""},
        ErrorCase{"(SO4)0", "zero amount '0' at position 5 in formula \"(SO4)0\""},
        ErrorCase{"CaCl2·0H2O", "zero amount '0' at position 7 in formula \"CaCl2·0H2O\""},
        ErrorCase{"Fe1000001",
                  "amount '1000001' is larger than 1000000 at position 2 in formula "
                  "\"Fe1000001\""},
        ErrorCase{"(H1000000)2",
                  "amount of H adds up to 2e+06, more than 1000000 in formula \"(H1000000)2\""},
        ErrorCase{"fe2o3",
                  "unexpected 'f' (element symbols start with an uppercase letter) at position 0 "
                  "in formula \"fe2o3\""},
        ErrorCase{"Fe3+", "unexpected character '+' at position 3 in formula \"Fe3+\""},
        ErrorCase{"Fe2O3€", "unexpected character '€' at position 5 in formula \"Fe2O3€\""},
        ErrorCase{"Fe2 3O",
                  "unexpected number (an amount must directly follow an element or group) at "
                  "position 4 in formula \"Fe2 3O\""},
        ErrorCase{"CaCl2·", "nothing after separator '·' at position 5 in formula \"CaCl2·\""},
        ErrorCase{"CaCl2..H2O",
                  "nothing after separator '.' at position 5 in formula \"CaCl2..H2O\""},
        ErrorCase{"(H2O*)", "nothing after separator '*' at position 4 in formula \"(H2O*)\""},
        ErrorCase{"·H2O", "nothing before separator '·' at position 0 in formula \"·H2O\""},
        ErrorCase{"CaCl2·2", "number '2' multiplies nothing at position 7 in formula \"CaCl2·2\""},
        ErrorCase{"3", "number '3' multiplies nothing at position 0 in formula \"3\""},
        ErrorCase{std::string(17, '(') + "H" + std::string(17, ')'),
                  "groups nested deeper than 16 at position 16 in formula \"" +
                      std::string(17, '(') + "H" + std::string(17, ')') + "\""},
        ErrorCase{"Fe\nO\x01",
                  "unexpected character '\\001' at position 4 in formula \"Fe\\nO\\001\""}));

TEST(ParseFormulaTest, QuotesOnlyThePrefixOfALongFormula) {
  const std::string formula = std::string(300, 'H') + "Xx";
  const absl::StatusOr<Composition> result = ParseFormula(formula);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().message(),
            "unknown element 'Xx' at position 300 in formula \"" + std::string(200, 'H') + "...\"");
}

TEST(FormatCompositionTest, PrintsHillOrderAndOmitsOnes) {
  EXPECT_EQ(FormatComposition({{"Fe", 2}, {"O", 3}}), "Fe2O3");
  EXPECT_EQ(FormatComposition({{"Ba", 1}, {"Ti", 1}, {"O", 3}}), "BaO3Ti");
  EXPECT_EQ(FormatComposition({{"O", 2}, {"H", 4}, {"C", 2}}), "C2H4O2");
  EXPECT_EQ(FormatComposition({{"H", 2}, {"O", 1}}), "H2O");
  EXPECT_EQ(FormatComposition({{"La", 0.7}, {"Sr", 0.3}, {"Mn", 1}, {"O", 3}}), "La0.7MnO3Sr0.3");
  EXPECT_EQ(FormatComposition({}), "");
}

TEST(FormatCompositionTest, RoundsToFourSignificantDigits) {
  EXPECT_EQ(FormatComposition({{"Fe", 1.0 / 3}}), "Fe0.3333");
  EXPECT_EQ(FormatComposition({{"Fe", 2.0 / 3}}), "Fe0.6667");
  EXPECT_EQ(FormatComposition({{"Fe", 123.456}}), "Fe123.5");
  EXPECT_EQ(FormatComposition({{"Fe", 12345.6}}), "Fe12346");
  EXPECT_EQ(FormatComposition({{"Fe", 0.00012346}}), "Fe0.0001235");
  EXPECT_EQ(FormatComposition({{"Fe", 2.5}, {"O", 1.00001}}), "Fe2.5O");
  EXPECT_EQ(FormatComposition({{"Fe", 9.99996}}), "Fe10");
  EXPECT_EQ(FormatComposition({{"Fe", 0}}), "Fe0");
}

TEST(FormatCompositionTest, FormatsParsedExamples) {
  for (const char* formula : {"Fe2O3", "H2O", "C2H4O2"}) {
    ASSERT_OK_AND_ASSIGN(Composition composition, ParseFormula(formula));
    EXPECT_EQ(FormatComposition(composition), formula);
  }
  ASSERT_OK_AND_ASSIGN(Composition nmc, ParseFormula("Li(Ni0.8Co0.1Mn0.1)O2"));
  EXPECT_EQ(FormatComposition(nmc), "Co0.1LiMn0.1Ni0.8O2");
  // The space keeps the decimal amount from reading back as a hydrate multiplier.
  EXPECT_EQ(FormatComposition({{"C", 2.5}, {"H", 2}, {"O", 1}}), "C2.5 H2O");
  EXPECT_EQ(FormatComposition({{"C", 2.5}, {"H", 2}, {"O", 2}}), "C2.5H2O2");
  ASSERT_OK_AND_ASSIGN(Composition gypsum, ParseFormula("CaSO4·2H2O"));
  EXPECT_EQ(FormatComposition(gypsum), "CaH4O6S");
}

int Z(const char* symbol) { return ElementBySymbol(symbol)->atomic_number; }

// Conventional rock-salt cell: 4 Na on the fcc sites, 4 Cl shifted by a/2.
Structure RockSalt() {
  Structure s;
  s.name = "NaCl";
  s.lattice = Lattice::FromParameters(5.64, 5.64, 5.64, 90, 90, 90);
  const Vec3 fcc[4] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
  for (const Vec3& f : fcc) {
    s.AddFractional(Z("Na"), f);
    s.AddFractional(Z("Cl"), {f[0] + 0.5, f[1], f[2]});
  }
  return s;
}

// Cubic perovskite ABO3 with `a_sites` (species, occupancy) sharing the A site.
Structure Perovskite(const std::vector<std::pair<const char*, double>>& a_sites) {
  Structure s;
  s.lattice = Lattice::FromParameters(3.9, 3.9, 3.9, 90, 90, 90);
  for (const auto& [symbol, occupancy] : a_sites) s.AddFractional(Z(symbol), {0, 0, 0}, occupancy);
  s.AddFractional(Z("Mn"), {0.5, 0.5, 0.5});
  s.AddFractional(Z("O"), {0.5, 0.5, 0});
  s.AddFractional(Z("O"), {0.5, 0, 0.5});
  s.AddFractional(Z("O"), {0, 0.5, 0.5});
  return s;
}

TEST(CompositionOfTest, ReducesRockSaltCellToNaCl) {
  const Structure s = RockSalt();
  ASSERT_EQ(s.sites.size(), 8u);
  const Composition composition = CompositionOf(s);
  ExpectComposition(composition, {{"Na", 1}, {"Cl", 1}}, "rock salt");
  ASSERT_OK_AND_ASSIGN(Composition parsed, ParseFormula("NaCl"));
  ExpectComposition(composition, parsed, "rock salt vs NaCl");
  EXPECT_EQ(FormatComposition(composition), s.ReducedFormula());
}

TEST(CompositionOfTest, KeepsAlreadyReducedCountsAndDividesByTheirGcd) {
  const Structure perovskite = Perovskite({{"Ba", 1.0}});
  ExpectComposition(CompositionOf(perovskite), {{"Ba", 1}, {"Mn", 1}, {"O", 3}}, "BaMnO3");
  EXPECT_EQ(FormatComposition(CompositionOf(perovskite)), perovskite.ReducedFormula());

  Structure hematite;  // Fe4 O6 -> Fe2 O3 (positions do not matter here)
  hematite.lattice = Lattice::FromParameters(10, 10, 10, 90, 90, 90);
  for (int i = 0; i < 4; ++i) hematite.AddFractional(Z("Fe"), {0.1 * i, 0, 0});
  for (int i = 0; i < 6; ++i) hematite.AddFractional(Z("O"), {0.1 * i, 0.5, 0.5});
  ExpectComposition(CompositionOf(hematite), {{"Fe", 2}, {"O", 3}}, "Fe4O6");
  EXPECT_EQ(FormatComposition(CompositionOf(hematite)), hematite.ReducedFormula());
}

TEST(CompositionOfTest, DividesFractionalCountsBySmallestOnlyWhenThatGivesIntegers) {
  // Na 0.5 + Cl 0.5 -> NaCl.
  Structure half;
  half.lattice = Lattice::FromParameters(5, 5, 5, 90, 90, 90);
  half.AddFractional(Z("Na"), {0, 0, 0}, 0.5);
  half.AddFractional(Z("Cl"), {0.5, 0.5, 0.5}, 0.5);
  ExpectComposition(CompositionOf(half), {{"Na", 1}, {"Cl", 1}}, "Na0.5Cl0.5");

  // Fe 3 x 0.25 + O 3 x 0.5 = Fe0.75 O1.5 -> FeO2.
  Structure dioxide;
  dioxide.lattice = Lattice::FromParameters(10, 10, 10, 90, 90, 90);
  for (int i = 0; i < 3; ++i) dioxide.AddFractional(Z("Fe"), {0.2 * i, 0, 0}, 0.25);
  for (int i = 0; i < 3; ++i) dioxide.AddFractional(Z("O"), {0.2 * i, 0.5, 0}, 0.5);
  ExpectComposition(CompositionOf(dioxide), {{"Fe", 1}, {"O", 2}}, "Fe0.75O1.5");

  // Fe 3 x 0.5 + O 3 x 0.75 = Fe1.5 O2.25: O / Fe = 1.5 is no integer, the cell counts stay.
  Structure iron_oxide;
  iron_oxide.lattice = Lattice::FromParameters(10, 10, 10, 90, 90, 90);
  for (int i = 0; i < 3; ++i) iron_oxide.AddFractional(Z("Fe"), {0.2 * i, 0, 0}, 0.5);
  for (int i = 0; i < 3; ++i) iron_oxide.AddFractional(Z("O"), {0.2 * i, 0.5, 0}, 0.75);
  ExpectComposition(CompositionOf(iron_oxide), {{"Fe", 1.5}, {"O", 2.25}}, "Fe1.5O2.25");

  // La 0.7 / Sr 0.3 on the A site: 0.7 / 0.3 is no integer, so the cell counts stay.
  const Structure lsmo = Perovskite({{"La", 0.7}, {"Sr", 0.3}});
  ExpectComposition(CompositionOf(lsmo), {{"La", 0.7}, {"Sr", 0.3}, {"Mn", 1}, {"O", 3}}, "LSMO");
  ASSERT_OK_AND_ASSIGN(Composition parsed, ParseFormula("La0.7Sr0.3MnO3"));
  ExpectComposition(CompositionOf(lsmo), parsed, "LSMO vs parsed");
}

TEST(CompositionOfTest, HandlesEmptyStructuresAndUnknownElements) {
  EXPECT_TRUE(CompositionOf(Structure{}).empty());
  Structure s;
  s.periodic = false;
  s.AddCartesian(0, {0, 0, 0});
  s.AddCartesian(Z("O"), {1, 0, 0});
  s.AddCartesian(Z("O"), {2, 0, 0});
  ExpectComposition(CompositionOf(s), {{"X", 1}, {"O", 2}}, "XO2");
}

}  // namespace
}  // namespace matalign::materials
