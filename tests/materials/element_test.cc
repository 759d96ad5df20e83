#include "materials/element.h"

#include "gtest/gtest.h"

namespace matalign::materials {
namespace {

TEST(ElementTest, LooksUpBySymbolAndNumber) {
  const ElementInfo* fe = ElementBySymbol("Fe");
  ASSERT_NE(fe, nullptr);
  EXPECT_EQ(fe->atomic_number, 26);
  EXPECT_EQ(fe->group, 8);
  EXPECT_EQ(fe->period, 4);
  EXPECT_NEAR(fe->electronegativity, 1.83, 1e-9);
  EXPECT_NEAR(fe->mass, 55.845, 1e-3);
  EXPECT_EQ(ElementBySymbol("FE"), fe);
  EXPECT_EQ(ElementByNumber(26), fe);
  EXPECT_EQ(ElementBySymbol("Xx"), nullptr);
  EXPECT_EQ(ElementByNumber(0), nullptr);
  EXPECT_EQ(ElementByNumber(kMaxAtomicNumber + 1), nullptr);
}

TEST(ElementTest, GroupsAndPeriodsFollowThePeriodicTable) {
  struct Case {
    const char* symbol;
    int group, period;
  } cases[] = {{"H", 1, 1},  {"He", 18, 1}, {"Li", 1, 2},  {"O", 16, 2},  {"Al", 13, 3},
               {"K", 1, 4},  {"Zn", 12, 4}, {"Kr", 18, 4}, {"Sr", 2, 5},  {"La", 3, 6},
               {"Lu", 3, 6}, {"Hf", 4, 6},  {"Pb", 14, 6}, {"Rn", 18, 6}, {"U", 3, 7}};
  for (const Case& c : cases) {
    const ElementInfo* e = ElementBySymbol(c.symbol);
    ASSERT_NE(e, nullptr) << c.symbol;
    EXPECT_EQ(e->group, c.group) << c.symbol;
    EXPECT_EQ(e->period, c.period) << c.symbol;
  }
}

TEST(ElementTest, SymbolPrefixStripsChargesLabelsAndSuffixes) {
  EXPECT_EQ(ElementSymbolPrefix("Fe3+"), "Fe");
  EXPECT_EQ(ElementSymbolPrefix("O2-"), "O");
  EXPECT_EQ(ElementSymbolPrefix("Co1"), "Co");
  EXPECT_EQ(ElementSymbolPrefix("C1"), "C");
  EXPECT_EQ(ElementSymbolPrefix("Sr_sv"), "Sr");
  EXPECT_EQ(ElementSymbolPrefix("CO3"), "C");  // upper-case label: carbon
  EXPECT_EQ(ElementSymbolPrefix("1Fe"), "");
}

}  // namespace
}  // namespace matalign::materials
