// Deterministic random streams for the synthetic corpus: every record draws from its own
// stream derived from (seed, record index, purpose), so output does not depend on thread
// count or scheduling.
#ifndef MATALIGN_CORPUS_RNG_H_
#define MATALIGN_CORPUS_RNG_H_

#include <cstdint>
#include <random>

namespace matalign::corpus {

// SplitMix64 finalizer: a good 64-bit mix of x.
inline uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// The engine every generator uses. std::mt19937_64 output is specified by the standard, but
// the std:: distributions are not portable across standard libraries: generators that must
// be byte-identical use the helpers below instead of std::*_distribution.
using Rng = std::mt19937_64;

// A stream for `purpose` (any constant) of record `index` under corpus seed `seed`.
inline Rng StreamFor(uint64_t seed, uint64_t index, uint64_t purpose) {
  return Rng(Mix64(seed ^ Mix64(index ^ Mix64(purpose))));
}

// Uniform double in [0, 1).
inline double Uniform01(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }
// Uniform double in [lo, hi).
inline double Uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * Uniform01(rng); }
// Uniform integer in [0, n), n > 0.
inline uint64_t UniformIndex(Rng& rng, uint64_t n) { return rng() % n; }
// Standard normal (Box-Muller, one value per call).
double Normal(Rng& rng);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_RNG_H_
