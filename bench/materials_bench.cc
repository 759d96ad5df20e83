// Structure parsing and neighbour-graph construction throughput.
#include <random>

#include "benchmark/benchmark.h"
#include "common/file.h"
#include "common/real_data.h"
#include "materials/graph.h"
#include "materials/structure_io.h"

namespace matalign::materials {
namespace {

Structure RandomCell(int n, uint32_t seed) {
  // Density of a typical oxide: ~11 A^3 per atom.
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  const double a = std::cbrt(11.0 * n);
  Structure st;
  st.lattice = Lattice::FromParameters(a, a, a, 90, 90, 90);
  for (int i = 0; i < n; ++i) st.AddFractional(8 + i % 20, {u(rng), u(rng), u(rng)});
  return st;
}

void BM_BuildGraph(benchmark::State& state) {
  const Structure st = RandomCell(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) benchmark::DoNotOptimize(BuildGraph(st));
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel("atoms/s in items");
}
BENCHMARK(BM_BuildGraph)->Arg(5)->Arg(50)->Arg(200)->Arg(1000)->Unit(benchmark::kMicrosecond);

void BM_NeighborsBruteForce(benchmark::State& state) {
  const Structure st = RandomCell(static_cast<int>(state.range(0)), 1);
  for (auto _ : state) benchmark::DoNotOptimize(FindNeighborsBruteForce(st, 6.0));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_NeighborsBruteForce)->Arg(50)->Arg(200)->Unit(benchmark::kMicrosecond);

void BM_ParseBiFeO3Cif(benchmark::State& state) {
  auto dir = RealDataDir();
  if (!dir) {
    state.SkipWithError("real data absent");
    return;
  }
  auto content = ReadFile(*dir + "/structures/cif/BiFeO3_R3c.cif");
  if (!content.ok()) {
    state.SkipWithError("BiFeO3_R3c.cif absent");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(ParseStructure(*content, "BiFeO3_R3c.cif"));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ParseBiFeO3Cif)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace matalign::materials
