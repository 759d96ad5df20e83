// Synthetic-corpus throughput: the whole generator (records/s, disk per 1000 records) and its
// parts. MATALIGN_SYNTH_BENCH_N sets the corpus size (default 1000; the figure uses
// 10000: `MATALIGN_SYNTH_BENCH_N=10000 build/bench/corpus_bench --benchmark_filter=Corpus`).
#include <cstdlib>
#include <filesystem>

#include "benchmark/benchmark.h"
#include "corpus/prototypes.h"
#include "corpus/recipe_stats.h"
#include "corpus/rng.h"
#include "corpus/sem_synth.h"
#include "corpus/synth.h"
#include "corpus/synthesis_text.h"

namespace matalign::corpus {
namespace {

void BM_GenerateCorpus(benchmark::State& state) {
  const char* env = std::getenv("MATALIGN_SYNTH_BENCH_N");
  const int64_t n = env ? std::atoll(env) : 1000;
  const std::string out =
      (std::filesystem::temp_directory_path() / "matalign_corpus_bench").string();
  for (auto _ : state) {
    std::filesystem::remove_all(out);
    SynthOptions options;
    options.n = n;
    options.out_dir = out;
    auto summary = GenerateCorpus(options);
    if (!summary.ok()) {
      state.SkipWithError(std::string(summary.status().message()).c_str());
      return;
    }
    state.counters["records/s"] = summary->records / summary->seconds;
    state.counters["MB_per_1000"] = summary->bytes / 1e6 / summary->records * 1000;
    state.counters["records"] = static_cast<double>(summary->records);
  }
  std::filesystem::remove_all(out);
}
BENCHMARK(BM_GenerateCorpus)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_SampleCrystal(benchmark::State& state) {
  Rng rng = StreamFor(1, 0, 0);
  for (auto _ : state) benchmark::DoNotOptimize(SampleCrystal(rng));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SampleCrystal)->Unit(benchmark::kMicrosecond);

void BM_RenderSem256(benchmark::State& state) {
  Rng rng = StreamFor(1, 0, 0);
  SemParams params;
  params.width = params.height = 256;
  for (auto _ : state) benchmark::DoNotOptimize(RenderSem(params, rng));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RenderSem256)->Unit(benchmark::kMillisecond);

void BM_GenerateSynthesisText(benchmark::State& state) {
  RecipeStats stats;
  AddAssumedRoutes(stats);
  Rng rng = StreamFor(1, 0, 0);
  const std::map<std::string, double> composition = {{"Ba", 1}, {"Ti", 1}, {"O", 3}};
  for (auto _ : state) {
    benchmark::DoNotOptimize(GenerateSynthesis(composition, "hydrothermal", stats, rng));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_GenerateSynthesisText)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace matalign::corpus
