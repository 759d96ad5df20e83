#include "corpus/rng.h"

#include <cmath>

#include "gtest/gtest.h"

namespace matalign::corpus {
namespace {

TEST(RngTest, StreamsAreDeterministicAndDistinct) {
  Rng a = StreamFor(1, 7, 3), b = StreamFor(1, 7, 3), c = StreamFor(1, 8, 3);
  const uint64_t x = a();
  EXPECT_EQ(x, b());
  EXPECT_NE(x, c());
}

TEST(RngTest, NormalHasUnitMomentsAndUniformStaysInRange) {
  Rng rng = StreamFor(42, 0, 0);
  double sum = 0, sq = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double z = Normal(rng);
    sum += z;
    sq += z * z;
    const double u = Uniform(rng, 2, 3);
    ASSERT_GE(u, 2);
    ASSERT_LT(u, 3);
  }
  EXPECT_NEAR(sum / n, 0, 0.01);
  EXPECT_NEAR(sq / n, 1, 0.01);
}

}  // namespace
}  // namespace matalign::corpus
