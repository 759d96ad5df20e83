// Throughput of the image path a model sees: decode of a real SEM JPEG (448x336 gray, with
// a data bar), data-bar detection, preprocessing to 224x224, and the whole LoadForModel.
// Needs the real data (MATALIGN_REAL_DATA or ../shared/data/real); reports images/s.
#include <benchmark/benchmark.h>

#include <string>

#include "common/file.h"
#include "common/real_data.h"
#include "imaging/data_bar.h"
#include "imaging/image.h"
#include "imaging/preprocess.h"

namespace matalign::imaging {
namespace {

// Returns the bytes of one real SEM micrograph, or "" (after marking `state`) if absent.
std::string SemJpeg(benchmark::State& state) {
  const auto dir = RealDataDir();
  if (!dir) {
    state.SkipWithError("real data not found (set MATALIGN_REAL_DATA)");
    return "";
  }
  auto bytes = ReadFile(*dir + "/sem_ncm/images/333_000.jpg");
  if (!bytes.ok()) {
    state.SkipWithError(std::string(bytes.status().message()).c_str());
    return "";
  }
  return *std::move(bytes);
}

void SetImageRate(benchmark::State& state) {
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_DecodeSemJpeg(benchmark::State& state) {
  const std::string bytes = SemJpeg(state);
  if (bytes.empty()) return;
  for (auto _ : state) {
    auto image = DecodeImage(bytes, "333_000.jpg");
    if (!image.ok()) {
      state.SkipWithError(std::string(image.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(image);
  }
  SetImageRate(state);
}
BENCHMARK(BM_DecodeSemJpeg);

void BM_DetectDataBar(benchmark::State& state) {
  const std::string bytes = SemJpeg(state);
  if (bytes.empty()) return;
  const auto image = DecodeImage(bytes, "333_000.jpg");
  if (!image.ok()) return state.SkipWithError(std::string(image.status().message()).c_str());
  for (auto _ : state) {
    auto bar = DetectDataBar(*image);
    benchmark::DoNotOptimize(bar);
  }
  SetImageRate(state);
}
BENCHMARK(BM_DetectDataBar);

// Arg: output size.
void BM_Preprocess(benchmark::State& state) {
  const std::string bytes = SemJpeg(state);
  if (bytes.empty()) return;
  const auto image = DecodeImage(bytes, "333_000.jpg");
  if (!image.ok()) return state.SkipWithError(std::string(image.status().message()).c_str());
  PreprocessOptions options;
  options.size = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto out = Preprocess(*image, options);
    benchmark::DoNotOptimize(out);
  }
  SetImageRate(state);
}
BENCHMARK(BM_Preprocess)->Arg(224)->Arg(384);

// Decode + data-bar crop + resize/centre-crop + normalize: the full per-image cost.
void BM_LoadForModel(benchmark::State& state) {
  const std::string bytes = SemJpeg(state);
  if (bytes.empty()) return;
  for (auto _ : state) {
    auto out = LoadForModel(bytes, "333_000.jpg");
    if (!out.ok()) {
      state.SkipWithError(std::string(out.status().message()).c_str());
      break;
    }
    benchmark::DoNotOptimize(out);
  }
  SetImageRate(state);
}
BENCHMARK(BM_LoadForModel);

}  // namespace
}  // namespace matalign::imaging

BENCHMARK_MAIN();
