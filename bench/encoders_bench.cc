// Forward-pass throughput of the MatAlign encoders (encoders/model.h) in eval mode, next to a
// plain single-precision GEMM measured in the same run, so the fraction of the machine's
// matrix speed that the image encoder achieves reads off one table:
//   BM_ImageEncoderForward  GFLOP/s (ImageEncoder::ForwardFlops) and images/s for the
//                           tiny / small / base presets;
//   BM_Gemm                 GFLOP/s of torch::mm on square float matrices (the reference);
//   BM_TextEncoderForward   sequences/s, and GFLOP/s of its matrix products;
//   BM_GraphEncoderForward  graphs/s on random batches shaped like CollateGraphs output.
// Threads: MATALIGN_THREADS, else every core; the count is printed in the run's context.
// Inputs are random with fixed seeds: speed does not depend on the values.
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>

#include "benchmark/benchmark.h"
#include "encoders/config.h"
#include "encoders/model.h"
#include "materials/graph.h"

namespace {

namespace enc = matalign::encoders;

// Width of the shared embedding space (ModelConfig's default); only the projection heads
// depend on it.
constexpr int kEmbedDim = 128;

// Parses MATALIGN_THREADS; anything but a positive integer means "every core".
int ThreadsFromEnvironment() {
  if (const char* env = std::getenv("MATALIGN_THREADS")) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n > 0 && n <= 4096) return static_cast<int>(n);
  }
  // OpenMP defaults to one thread on some machines: use every core unless told otherwise.
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

// Sets torch's intra-op thread count once, before any benchmark runs, and records it in the
// context block that google-benchmark prints at the top of the run (and in JSON output).
const int kThreads = [] {
  const int n = ThreadsFromEnvironment();
  torch::set_num_threads(n);
  benchmark::AddCustomContext("torch_threads", std::to_string(n));
  return n;
}();

// The ModelConfig check of a config: the encoders themselves assume valid arguments.
bool SkipIfInvalid(benchmark::State& state, const enc::ModelConfig& config) {
  const absl::Status status = config.Validate();
  if (status.ok()) return false;
  state.SkipWithError(status.ToString().c_str());
  return true;
}

// ---------------------------------------------------------------------------------------
// Args: depth, base_width, input_size, batch.
void BM_ImageEncoderForward(benchmark::State& state) {
  enc::ModelConfig config;
  config.image.depth = static_cast<int>(state.range(0));
  config.image.base_width = static_cast<int>(state.range(1));
  config.image.input_size = static_cast<int>(state.range(2));
  const int64_t batch = state.range(3);
  if (SkipIfInvalid(state, config)) return;

  torch::manual_seed(0);
  enc::ImageEncoder encoder(config.image, kEmbedDim);
  encoder->eval();
  torch::NoGradGuard no_grad;
  const int size = config.image.input_size;
  const torch::Tensor images = torch::randn({batch, 1, size, size});  // [B, 1, S, S]
  benchmark::DoNotOptimize(encoder->forward(images));                 // warm-up

  for (auto _ : state) benchmark::DoNotOptimize(encoder->forward(images));

  const double images_done = static_cast<double>(batch) * state.iterations();
  state.counters["GFLOP/s"] = benchmark::Counter(encoder->ForwardFlops(size) * images_done * 1e-9,
                                                 benchmark::Counter::kIsRate);
  state.counters["images/s"] = benchmark::Counter(images_done, benchmark::Counter::kIsRate);
  // Printed with SI prefixes: 5.15M, 8.03G.
  state.counters["FLOP/img"] = encoder->ForwardFlops(size);
}
// Presets: tiny (configs/tiny.yaml), small (4x wider, 128 px), base (ResNet-50, 224 px).
BENCHMARK(BM_ImageEncoderForward)
    ->ArgNames({"depth", "width", "size", "batch"})
    ->Args({18, 8, 64, 32})
    ->Args({18, 32, 128, 32})
    ->Args({50, 64, 224, 8})
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---------------------------------------------------------------------------------------
// The reference: C = A B with A, B [n, n] float, 2 n^3 flops. Arg: n.
void BM_Gemm(benchmark::State& state) {
  const int64_t n = state.range(0);
  torch::manual_seed(0);
  const torch::Tensor a = torch::randn({n, n});
  const torch::Tensor b = torch::randn({n, n});
  benchmark::DoNotOptimize(torch::mm(a, b));  // warm-up

  for (auto _ : state) benchmark::DoNotOptimize(torch::mm(a, b));

  const double flops = 2.0 * static_cast<double>(n) * n * n;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * state.iterations() * 1e-9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Gemm)
    ->ArgName("n")
    ->Arg(1024)
    ->Arg(2048)
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---------------------------------------------------------------------------------------
// Flops of the matrix products of one sequence of `length` tokens through the text encoder:
// per layer the Q, K, V and output projections (8 L h^2), the feed-forward (4 L h ffn) and
// the attention scores and weighted sum (4 L^2 h); then the [CLS] projection. Embedding
// look-ups, softmax, LayerNorm and GELU are not counted.
double TextForwardFlops(const enc::TextEncoderConfig& c, int64_t length) {
  const double l = static_cast<double>(length);
  const double h = c.hidden;
  const double per_layer = 8.0 * l * h * h + 4.0 * l * h * c.ffn + 4.0 * l * l * h;
  return c.layers * per_layer + 2.0 * h * h + 2.0 * h * kEmbedDim;
}

// Args: layers, hidden, ffn, seq (padded length, [CLS] included), batch. Rows are padded
// to `seq` from random lengths in [seq / 2, seq], as CollateTokens pads to the longest.
void BM_TextEncoderForward(benchmark::State& state) {
  enc::ModelConfig config;
  config.text.layers = static_cast<int>(state.range(0));
  config.text.hidden = static_cast<int>(state.range(1));
  config.text.ffn = static_cast<int>(state.range(2));
  config.text.heads = 4;
  const int64_t length = state.range(3);
  const int64_t batch = state.range(4);
  config.text.max_length = static_cast<int>(length);
  if (SkipIfInvalid(state, config)) return;

  torch::manual_seed(0);
  enc::TextEncoder encoder(config.text, kEmbedDim);
  encoder->eval();
  torch::NoGradGuard no_grad;
  enc::TextBatch input;
  input.ids = torch::randint(1, config.text.vocab_size, {batch, length}, torch::kInt64);
  const torch::Tensor lengths =
      torch::randint(length / 2, length + 1, {batch, 1}, torch::kInt64);     // [B, 1]
  input.mask = torch::arange(length, torch::kInt64).unsqueeze(0) < lengths;  // [B, L]
  benchmark::DoNotOptimize(encoder->forward(input));                         // warm-up

  for (auto _ : state) benchmark::DoNotOptimize(encoder->forward(input));

  const double sequences = static_cast<double>(batch) * state.iterations();
  state.counters["samples/s"] = benchmark::Counter(sequences, benchmark::Counter::kIsRate);
  state.counters["GFLOP/s"] = benchmark::Counter(
      TextForwardFlops(config.text, length) * sequences * 1e-9, benchmark::Counter::kIsRate);
}
// tiny as configs/tiny.yaml; small is TextEncoderConfig's default width.
BENCHMARK(BM_TextEncoderForward)
    ->ArgNames({"layers", "hidden", "ffn", "seq", "batch"})
    ->Args({2, 64, 128, 128, 32})
    ->Args({4, 256, 1024, 128, 32})
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---------------------------------------------------------------------------------------
// A batch as CollateGraphs builds it from `graphs` structures of 0.75 to 1.25 x `atoms`
// sites, each site with `neighbors` edges to random sites of its own structure and
// Gaussian RBFs (materials::BuildGraph's expansion) of random distances in [1, cutoff].
enc::GraphBatch RandomGraphBatch(const enc::GraphEncoderConfig& c, int64_t graphs, int64_t atoms,
                                 int64_t neighbors) {
  const torch::Tensor sizes =
      torch::randint(atoms * 3 / 4, atoms * 5 / 4 + 1, {graphs}, torch::kInt64);  // [G]
  const torch::Tensor node_graph =
      torch::repeat_interleave(torch::arange(graphs, torch::kInt64), sizes);  // [N]
  const int64_t n = node_graph.size(0);
  // First batch node of each node's graph, and that graph's size, per node: [N].
  const torch::Tensor starts = (sizes.cumsum(0) - sizes).index_select(0, node_graph);
  const torch::Tensor node_sizes = sizes.index_select(0, node_graph);

  enc::GraphBatch batch;
  batch.num_graphs = graphs;
  batch.node_graph = node_graph;
  batch.atomic_numbers = torch::randint(1, 95, {n}, torch::kInt64);
  batch.node_features = torch::rand({n, matalign::materials::kNodeFeatureDim});
  batch.edge_src = torch::arange(n, torch::kInt64).repeat_interleave(neighbors);  // [E]
  const torch::Tensor offset =
      (torch::rand({n * neighbors}) * node_sizes.repeat_interleave(neighbors).to(torch::kFloat))
          .to(torch::kInt64);
  batch.edge_dst = starts.repeat_interleave(neighbors) + offset;  // [E]
  const torch::Tensor distance =
      1.0 + torch::rand({n * neighbors, 1}) * (c.cutoff - 1.0);  // [E, 1]
  const double spacing = c.cutoff / (c.num_rbf - 1);
  const torch::Tensor centres = torch::arange(c.num_rbf, torch::kFloat) * spacing;  // [R]
  batch.edge_rbf = torch::exp(-0.5 * ((distance - centres) / spacing).pow(2));      // [E, R]
  return batch;
}

// Args: layers, hidden, graphs per batch, mean atoms per graph, neighbours per atom.
void BM_GraphEncoderForward(benchmark::State& state) {
  enc::ModelConfig config;
  config.graph.layers = static_cast<int>(state.range(0));
  config.graph.hidden = static_cast<int>(state.range(1));
  const int64_t graphs = state.range(2);
  config.graph.max_neighbors = static_cast<int>(state.range(4));
  if (SkipIfInvalid(state, config)) return;

  torch::manual_seed(0);
  enc::GraphEncoder encoder(config.graph, kEmbedDim);
  encoder->eval();
  torch::NoGradGuard no_grad;
  const enc::GraphBatch input =
      RandomGraphBatch(config.graph, graphs, state.range(3), config.graph.max_neighbors);
  benchmark::DoNotOptimize(encoder->forward(input));  // warm-up

  for (auto _ : state) benchmark::DoNotOptimize(encoder->forward(input));

  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(graphs) * state.iterations(),
                                                   benchmark::Counter::kIsRate);
  state.counters["atoms/s"] =
      benchmark::Counter(static_cast<double>(input.node_graph.size(0)) * state.iterations(),
                         benchmark::Counter::kIsRate);
}
// tiny as configs/tiny.yaml; the second is GraphEncoderConfig's default width.
BENCHMARK(BM_GraphEncoderForward)
    ->ArgNames({"layers", "hidden", "graphs", "atoms", "neighbors"})
    ->Args({3, 64, 32, 40, 12})
    ->Args({3, 128, 32, 40, 12})
    ->MinTime(1.0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
