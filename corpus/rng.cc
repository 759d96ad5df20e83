#include "corpus/rng.h"

#include <cmath>

namespace matalign::corpus {

double Normal(Rng& rng) {
  double u1 = Uniform01(rng);
  while (u1 <= 0) u1 = Uniform01(rng);
  const double u2 = Uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace matalign::corpus
