// Benchmarks of the xrd library: powder simulation (real BiFeO3 and ~500/1000-atom
// synthetic cells), pattern parsing (.xrdml, .xy) and resampling.
// Real-data benchmarks report an error (and are skipped) when the real data is absent.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "common/file.h"
#include "common/real_data.h"
#include "materials/structure.h"
#include "materials/structure_io.h"
#include "xrd/pattern.h"
#include "xrd/simulate.h"

namespace matalign::xrd {
namespace {

// Rock-salt NaCl (a = 5.64 A) repeated n x n x n: 8 n^3 atoms.
materials::Structure RockSaltSupercell(int n) {
  const double a = 5.64 * n;
  materials::Structure s;
  s.name = s.source = "NaCl_supercell";
  s.lattice = materials::Lattice::FromParameters(a, a, a, 90, 90, 90);
  const double fcc[4][3] = {{0, 0, 0}, {0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}};
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      for (int k = 0; k < n; ++k) {
        for (const auto& f : fcc) {
          s.AddFractional(11, {(f[0] + i) / n, (f[1] + j) / n, (f[2] + k) / n});
          s.AddFractional(17, {(f[0] + 0.5 + i) / n, (f[1] + j) / n, (f[2] + k) / n});
        }
      }
    }
  }
  return s;
}

std::string RealPath(const std::string& subpath) {
  const auto dir = RealDataDir();
  return dir ? *dir + "/" + subpath : "";
}

void BM_SimulateBiFeO3(benchmark::State& state) {
  auto structure = materials::ReadStructureFile(RealPath("structures/cif/BiFeO3_R3c.cif"));
  if (!structure.ok()) {
    state.SkipWithError(std::string(structure.status().message()).c_str());
    return;
  }
  SimulationOptions options;
  options.two_theta_min = 10;
  options.two_theta_max = static_cast<double>(state.range(0));
  size_t lines = 0;
  for (auto _ : state) {
    auto reflections = ComputeReflections(*structure, options);
    auto pattern = ProfileFromReflections(*reflections, options);
    lines = reflections->size();
    benchmark::DoNotOptimize(pattern);
  }
  state.counters["atoms"] = static_cast<double>(structure->sites.size());
  state.counters["lines"] = static_cast<double>(lines);
}
BENCHMARK(BM_SimulateBiFeO3)->Arg(90)->Arg(140)->Unit(benchmark::kMillisecond);

// Arg: supercell repeat n (4 -> 512 atoms, 5 -> 1000 atoms), Cu K-alpha1, 2-theta 5..90.
void BM_SimulateSupercell(benchmark::State& state) {
  const materials::Structure structure = RockSaltSupercell(static_cast<int>(state.range(0)));
  SimulationOptions options;
  for (auto _ : state) {
    auto pattern = SimulatePattern(structure, options);
    benchmark::DoNotOptimize(pattern);
  }
  const size_t lines = ComputeReflections(structure, options)->size();
  state.counters["atoms"] = static_cast<double>(structure.sites.size());
  state.counters["lines"] = static_cast<double>(lines);
}
BENCHMARK(BM_SimulateSupercell)->Arg(4)->Arg(5)->Unit(benchmark::kMillisecond);

void BM_ParseXrdml(benchmark::State& state) {
  auto content = ReadFile(RealPath("xrd/Fe3O4-3ZnO_1000C_60min.xrdml"));
  if (!content.ok()) {
    state.SkipWithError(std::string(content.status().message()).c_str());
    return;
  }
  size_t points = 0;
  for (auto _ : state) {
    auto pattern = ParseXrdml(*content, "bench.xrdml");
    points = pattern->two_theta.size();
    benchmark::DoNotOptimize(pattern);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * content->size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * points));
}
BENCHMARK(BM_ParseXrdml)->Unit(benchmark::kMicrosecond);

void BM_ParseXy(benchmark::State& state) {
  auto content = ReadFile(RealPath("xrd/BiFeO3.xy"));
  if (!content.ok()) {
    state.SkipWithError(std::string(content.status().message()).c_str());
    return;
  }
  size_t points = 0;
  for (auto _ : state) {
    auto pattern = ParseXy(*content, "bench.xy");
    points = pattern->two_theta.size();
    benchmark::DoNotOptimize(pattern);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * content->size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * points));
}
BENCHMARK(BM_ParseXy)->Unit(benchmark::kMicrosecond);

void BM_ResampleAndRender(benchmark::State& state) {
  auto pattern = ReadPatternFile(RealPath("xrd/BiFeO3.xy"));
  if (!pattern.ok()) {
    state.SkipWithError(std::string(pattern.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    auto grid = ResampleToGrid(*pattern, GridOptions{});
    auto image = RenderPatternImage(*grid, 512, 128);
    benchmark::DoNotOptimize(image);
  }
}
BENCHMARK(BM_ResampleAndRender)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace matalign::xrd

// main() comes from benchmark::benchmark_main (bench/CMakeLists.txt's matalign_bench).
