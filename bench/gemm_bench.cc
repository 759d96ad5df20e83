// Plain single-precision GEMM through LibTorch: the machine's reference figure for matrix
// throughput (OpenBLAS behind Debian's LibTorch). Later encoder benchmarks compare to it.
#include <torch/torch.h>

#include <cstdlib>
#include <thread>

#include "benchmark/benchmark.h"

namespace {

void BM_TorchGemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  // OpenMP defaults to one thread on this machine: use every core unless told otherwise.
  const char* env = std::getenv("MATALIGN_THREADS");
  torch::set_num_threads(env ? std::atoi(env)
                             : static_cast<int>(std::thread::hardware_concurrency()));
  torch::manual_seed(0);
  const torch::Tensor a = torch::randn({n, n});
  const torch::Tensor b = torch::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b));
  const double flops = 2.0 * static_cast<double>(n) * n * n;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = torch::get_num_threads();
}
BENCHMARK(BM_TorchGemm)
    ->Arg(256)
    ->Arg(1024)
    ->Arg(2048)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
