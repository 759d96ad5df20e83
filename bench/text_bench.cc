// Throughput of text normalization and tokenization (paragraphs/s), and tokenizer
// training time. Uses the real synthesis paragraphs when ../shared/data/real is present,
// else a synthetic corpus.
//
//   build/bench/text_bench [--benchmark_filter=...]   (main() from benchmark::benchmark_main)
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "common/real_data.h"
#include "text/corpus.h"
#include "text/normalize.h"
#include "text/tokenizer.h"

namespace matalign::text {
namespace {

// Synthesis paragraphs to benchmark on: the real ones, or generated ones of similar size.
const std::vector<std::string>& Paragraphs() {
  static const std::vector<std::string>* paragraphs = [] {
    auto* out = new std::vector<std::string>;
    if (auto dir = RealDataDir()) {
      auto texts = ReadSynthesisParagraphs(*dir + "/synthesis_text");
      if (texts.ok()) {
        for (SynthesisText& t : *texts) out->push_back(std::move(t.text));
        return out;
      }
      std::fprintf(stderr, "text_bench: %s; using a synthetic corpus\n",
                   texts.status().ToString().c_str());
    }
    static const char* kPrecursors[] = {"Li2CO3", "Co3O4", "MnO2", "NiO", "TiO2", "La2O3"};
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
      std::string text;
      for (int s = 0; s < 12; ++s) {
        absl::StrAppend(&text, "Stoichiometric ", kPrecursors[rng() % 6], " and ",
                        kPrecursors[rng() % 6], " were ball-milled in ethanol for ", 1 + rng() % 12,
                        " hours, dried at ", 60 + rng() % 60, " degC and calcined at ",
                        500 + 50 * (rng() % 16), " oC in air. ");
      }
      out->push_back(std::move(text));
    }
    return out;
  }();
  return *paragraphs;
}

const Tokenizer& SharedTokenizer() {
  static const Tokenizer* tokenizer = [] {
    TokenizerTrainOptions options;
    options.hard_vocab_limit = false;  // the synthetic fallback corpus is small
    auto model = TrainTokenizerModel(Paragraphs(), options);
    if (!model.ok()) {
      std::fprintf(stderr, "text_bench: %s\n", model.status().ToString().c_str());
      std::abort();
    }
    auto loaded = Tokenizer::LoadFromSerialized(*std::move(model));
    if (!loaded.ok()) std::abort();
    return loaded->release();
  }();
  return *tokenizer;
}

std::int64_t TotalBytes(const std::vector<std::string>& texts) {
  std::int64_t bytes = 0;
  for (const std::string& t : texts) bytes += static_cast<std::int64_t>(t.size());
  return bytes;
}

void BM_Normalize(benchmark::State& state) {
  const auto& texts = Paragraphs();
  for (auto _ : state) {
    for (const std::string& t : texts) {
      auto normalized = NormalizeText(t);
      benchmark::DoNotOptimize(normalized);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(texts.size()));
  state.SetBytesProcessed(state.iterations() * TotalBytes(texts));
  state.counters["paragraphs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * texts.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Normalize)->Unit(benchmark::kMillisecond);

// Normalize + encode (max_length 512, padded); with threads, every thread encodes all
// paragraphs with the same shared Tokenizer.
void BM_Encode(benchmark::State& state) {
  const auto& texts = Paragraphs();
  const Tokenizer& tokenizer = SharedTokenizer();
  EncodeOptions options;
  std::int64_t tokens = 0;
  for (auto _ : state) {
    for (const std::string& t : texts) {
      auto encoding = tokenizer.Encode(t, options);
      if (encoding.ok()) tokens += encoding->num_tokens;
      benchmark::DoNotOptimize(encoding);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(texts.size()));
  state.SetBytesProcessed(state.iterations() * TotalBytes(texts));
  state.counters["paragraphs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * texts.size()), benchmark::Counter::kIsRate);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Encode)->Unit(benchmark::kMillisecond)->UseRealTime()->ThreadRange(1, 2);

// EncodeBatch in batches of state.range(0) paragraphs ([batch, 512] ids).
void BM_EncodeBatch(benchmark::State& state) {
  const auto& texts = Paragraphs();
  const Tokenizer& tokenizer = SharedTokenizer();
  const std::size_t batch = static_cast<std::size_t>(state.range(0));
  std::vector<std::vector<std::string>> batches;
  for (std::size_t i = 0; i < texts.size(); i += batch) {
    batches.emplace_back(texts.begin() + i, texts.begin() + std::min(texts.size(), i + batch));
  }
  for (auto _ : state) {
    for (const auto& b : batches) {
      auto encoded = tokenizer.EncodeBatch(b);
      benchmark::DoNotOptimize(encoded);
    }
  }
  state.counters["paragraphs/s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * texts.size()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EncodeBatch)->Unit(benchmark::kMillisecond)->Arg(32);

// Training an 8000-piece BPE model on the paragraphs.
void BM_TrainTokenizer(benchmark::State& state) {
  const auto& texts = Paragraphs();
  TokenizerTrainOptions options;
  options.hard_vocab_limit = false;
  for (auto _ : state) {
    auto model = TrainTokenizerModel(texts, options);
    benchmark::DoNotOptimize(model);
  }
}
BENCHMARK(BM_TrainTokenizer)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace
}  // namespace matalign::text
