// VectorIndex figures (make bench): for N = 100k and 1M unit vectors of d = 256 (capped by
// MATALIGN_BENCH_MAX_N, default 1000000; a smaller cap below 100k runs that N alone):
//   - add rate and build time of Flat and HNSW32 (default options: efConstruction 80),
//   - memory per million vectors, two ways: VectorIndex::MemoryBytes (sizes of the FAISS
//     arrays and id maps) and the growth of the process's RSS while building (includes
//     allocator slack and FAISS scratch),
//   - search QPS at batch 1 and 64 (k = 10), with HNSW's recall@10 against Flat,
//   - filtered search (HNSW, batch 1) with 4096, 8192, 32768 and N/4 random draws of
//     allowed ids, with recall@10 against the exact filtered answer; the summary says which
//     path VectorIndex took (exact scoring of the allowed ids, or FAISS's IDSelector with a
//     widened beam).
// After the runs, BM_Summary prints one line per configuration.
// Each index is built once per N (static cache); the HNSW build of 1M takes minutes on two
// cores and reports progress on stderr. The data are unit vectors around 1000 random
// centres (cluster structure, as real embeddings have; uniform random vectors in d = 256
// have no neighbourhood structure for HNSW to exploit). Nothing is asserted.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "index/vector_index.h"

namespace matalign::index {
namespace {

constexpr int kDim = 256;
constexpr int kK = 10;
constexpr int kQueries = 1024;
constexpr int kClusters = 1000;
constexpr int64_t kAddBatch = 10000;
constexpr int kFilteredQueries = 100;

int64_t MaxN() {
  const char* env = std::getenv("MATALIGN_BENCH_MAX_N");
  const int64_t n = env != nullptr ? std::atoll(env) : 1000000;
  return n > 0 ? n : 1000000;
}

std::vector<int64_t> Sizes() {
  std::vector<int64_t> sizes;
  for (int64_t n : {100000, 1000000}) {
    if (n <= MaxN()) sizes.push_back(n);
  }
  if (sizes.empty()) sizes.push_back(MaxN());
  return sizes;
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int64_t RssBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

// `n` unit vectors around `centres`, rows [first, first + n) of a deterministic stream.
void FillClustered(const std::vector<float>& centres, int64_t first, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) {
    std::mt19937_64 rng(0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(first + i));
    std::normal_distribution<float> normal;
    const float* c = centres.data() + (rng() % kClusters) * kDim;
    float* row = out + i * kDim;
    double norm = 0;
    for (int j = 0; j < kDim; ++j) {
      row[j] = c[j] + 0.6f * normal(rng);
      norm += row[j] * row[j];
    }
    const float scale = static_cast<float>(1 / std::sqrt(norm));
    for (int j = 0; j < kDim; ++j) row[j] *= scale;
  }
}

// Rows [first, first + n) generated on every core.
std::vector<float> Generate(const std::vector<float>& centres, int64_t first, int64_t n) {
  std::vector<float> x(static_cast<size_t>(n) * kDim);
  const int threads = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    const int64_t begin = n * t / threads, end = n * (t + 1) / threads;
    workers.emplace_back(FillClustered, std::cref(centres), first + begin, end - begin,
                         x.data() + begin * kDim);
  }
  for (std::thread& w : workers) w.join();
  return x;
}

struct Built {
  std::unique_ptr<VectorIndex> index;
  double add_seconds = 0;
  size_t memory_bytes = 0;
  int64_t rss_delta = 0;
};

struct Fixture {
  int64_t n = 0;
  std::vector<float> base;     // [n, kDim]
  std::vector<float> queries;  // [kQueries, kDim], same distribution
  Built flat, hnsw;
  double hnsw_recall = 0;  // recall@10 of HNSW against Flat over the queries
};

double Recall(const SearchResult& truth, const SearchResult& approx) {
  int64_t found = 0, wanted = 0;
  for (int64_t q = 0; q < truth.num_queries; ++q) {
    std::set<int64_t> t;
    for (int j = 0; j < truth.k; ++j) {
      if (truth.id(q, j) >= 0) t.insert(truth.id(q, j));
    }
    wanted += static_cast<int64_t>(t.size());
    for (int j = 0; j < approx.k; ++j) found += t.count(approx.id(q, j));
  }
  return wanted == 0 ? 1.0 : static_cast<double>(found) / wanted;
}

Built Build(const std::string& factory, const Fixture& f) {
  Built b;
  VectorIndexOptions options;
  options.dim = kDim;
  options.factory = factory;
  auto index = VectorIndex::Create(options);
  if (!index.ok()) {
    std::fprintf(stderr, "vector_index_bench: %s\n", index.status().ToString().c_str());
    std::exit(1);
  }
  b.index = std::move(index).value();
  const int64_t rss0 = RssBytes();
  const double t0 = Now();
  double last_report = t0;
  std::vector<int64_t> ids;
  for (int64_t start = 0; start < f.n; start += kAddBatch) {
    const int64_t count = std::min(kAddBatch, f.n - start);
    ids.resize(count);
    for (int64_t i = 0; i < count; ++i) ids[i] = start + i;
    absl::Status s =
        b.index->Upsert(ids, absl::MakeConstSpan(f.base.data() + start * kDim, count * kDim));
    if (!s.ok()) {
      std::fprintf(stderr, "vector_index_bench: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    if (Now() - last_report > 30) {
      last_report = Now();
      std::fprintf(stderr, "  building %s n=%lld: %lld added, %.0f s\n", factory.c_str(),
                   static_cast<long long>(f.n), static_cast<long long>(start + count),
                   last_report - t0);
    }
  }
  b.add_seconds = Now() - t0;
  b.rss_delta = RssBytes() - rss0;
  b.memory_bytes = b.index->MemoryBytes();
  return b;
}

void PrintBuild(const char* name, const Fixture& f, const Built& b) {
  std::printf(
      "vector_index %s n=%lld d=%d: add %.0f vectors/s (%.1f s), per million vectors "
      "%.0f MB by MemoryBytes, %.0f MB by RSS growth\n",
      name, static_cast<long long>(f.n), kDim, f.n / b.add_seconds, b.add_seconds,
      b.memory_bytes * 1e6 / f.n / 1e6, b.rss_delta * 1e6 / f.n / 1e6);
  std::fflush(stdout);
}

Fixture& GetFixture(int64_t n) {
  static auto* cache = new std::map<int64_t, std::unique_ptr<Fixture>>();
  std::unique_ptr<Fixture>& slot = (*cache)[n];
  if (slot != nullptr) return *slot;
  slot = std::make_unique<Fixture>();
  Fixture& f = *slot;
  f.n = n;
  std::vector<float> centres(static_cast<size_t>(kClusters) * kDim);
  std::mt19937_64 rng(7);
  std::normal_distribution<float> normal;
  for (float& c : centres) c = normal(rng);
  f.base = Generate(centres, 0, n);
  f.queries = Generate(centres, n, kQueries);
  f.flat = Build("Flat", f);
  PrintBuild("Flat", f, f.flat);
  f.hnsw = Build("HNSW32", f);
  PrintBuild("HNSW32", f, f.hnsw);
  auto truth = f.flat.index->Search(f.queries, kK);
  auto approx = f.hnsw.index->Search(f.queries, kK);
  if (!truth.ok() || !approx.ok()) {
    std::fprintf(stderr, "vector_index_bench: search failed\n");
    std::exit(1);
  }
  f.hnsw_recall = Recall(*truth, *approx);
  std::printf("vector_index HNSW32 n=%lld d=%d: recall@10 %.4f against Flat (ef_search %d)\n",
              static_cast<long long>(n), kDim, f.hnsw_recall, VectorIndexOptions{}.hnsw_ef_search);
  std::fflush(stdout);
  return f;
}

// One line per configuration, from its last (measured) run, for BM_Summary.
std::vector<std::pair<std::string, std::string>>& Summaries() {
  static auto* lines = new std::vector<std::pair<std::string, std::string>>();
  return *lines;
}

void SetSummary(const std::string& key, const std::string& line) {
  for (auto& [k, v] : Summaries()) {
    if (k == key) {
      v = line;
      return;
    }
  }
  Summaries().emplace_back(key, line);
}

// Build figures (the first benchmark of each N builds both indexes).
void BM_Build(benchmark::State& state, bool hnsw, int64_t n) {
  Fixture* f = nullptr;
  for (auto _ : state) f = &GetFixture(n);
  const Built& b = hnsw ? f->hnsw : f->flat;
  state.counters["add_per_s"] = f->n / b.add_seconds;
  state.counters["build_s"] = b.add_seconds;
  state.counters["MB_per_M_arrays"] = b.memory_bytes * 1e6 / f->n / 1e6;
  state.counters["MB_per_M_rss"] = b.rss_delta * 1e6 / f->n / 1e6;
}

void BM_Search(benchmark::State& state, bool hnsw, int64_t n, int batch) {
  Fixture& f = GetFixture(n);
  const VectorIndex& index = *(hnsw ? f.hnsw : f.flat).index;
  int64_t next = 0;
  const double start = Now();
  for (auto _ : state) {
    const int64_t first = next % (kQueries / batch) * batch;
    auto r = index.Search(absl::MakeConstSpan(f.queries.data() + first * kDim, batch * kDim), kK);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    benchmark::DoNotOptimize(r->ids.data());
    ++next;
  }
  const double seconds = Now() - start;
  state.SetItemsProcessed(state.iterations() * batch);
  state.counters["QPS"] = benchmark::Counter(static_cast<double>(state.iterations() * batch),
                                             benchmark::Counter::kIsRate);
  if (hnsw) state.counters["recall_at_10"] = f.hnsw_recall;
  char line[256];
  std::snprintf(line, sizeof(line), "%-6s n=%-7lld batch %-2d  %8.1f QPS  %8.3f ms/batch",
                hnsw ? "HNSW32" : "Flat", static_cast<long long>(n), batch,
                state.iterations() * batch / seconds, seconds / state.iterations() * 1e3);
  std::string summary = line;
  if (hnsw) {
    std::snprintf(line, sizeof(line), "  recall@10 %.4f", f.hnsw_recall);
    summary += line;
  }
  SetSummary(
      "search/" + std::to_string(hnsw) + "/" + std::to_string(n) + "/" + std::to_string(batch),
      summary);
}

// Filtered HNSW search, batch 1; `draws` random ids (with repetitions) are allowed.
void BM_FilteredSearch(benchmark::State& state, int64_t n, int64_t draws) {
  Fixture& f = GetFixture(n);
  std::vector<int64_t> ids;
  std::mt19937_64 rng(11);
  for (int64_t i = 0; i < draws; ++i) ids.push_back(static_cast<int64_t>(rng() % n));
  const AllowedIds allowed(std::move(ids));
  const auto queries = absl::MakeConstSpan(f.queries.data(), kFilteredQueries * kDim);
  auto truth = f.flat.index->Search(queries, kK, &allowed);
  auto approx = f.hnsw.index->Search(queries, kK, &allowed);
  if (!truth.ok() || !approx.ok()) {
    state.SkipWithError("filtered search failed");
    return;
  }
  const double recall = Recall(*truth, *approx);
  int64_t next = 0;
  const double start = Now();
  for (auto _ : state) {
    auto r = f.hnsw.index->Search(queries.subspan((next++ % kFilteredQueries) * kDim, kDim), kK,
                                  &allowed);
    benchmark::DoNotOptimize(r->ids.data());
  }
  const double seconds = Now() - start;
  state.counters["QPS"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["recall_at_10"] = recall;
  state.counters["allowed"] = static_cast<double>(allowed.size());
  // Mirrors VectorIndex::Search's choice (see VectorIndexOptions::exact_filter_below).
  const VectorIndexOptions defaults;
  const double fraction = static_cast<double>(allowed.size()) / n;
  const bool exact = static_cast<int64_t>(allowed.size()) <= defaults.exact_filter_below ||
                     defaults.hnsw_ef_search / std::sqrt(fraction) > 2048 ||
                     2.0 * kK / fraction > 2048;
  char line[256];
  std::snprintf(line, sizeof(line),
                "HNSW32 n=%-7lld %6lld ids allowed (%s)  %8.1f QPS  %8.3f ms/query  "
                "recall@10 %.4f",
                static_cast<long long>(n), static_cast<long long>(allowed.size()),
                exact ? "exact path" : "IDSelector", state.iterations() / seconds,
                seconds / state.iterations() * 1e3, recall);
  SetSummary("filtered/" + std::to_string(n) + "/" + std::to_string(draws), line);
}

void BM_Summary(benchmark::State& state) {
  for (auto _ : state) {
  }
  std::printf("vector_index search summary (d=%d, k=%d, default options):\n", kDim, kK);
  for (const auto& [key, line] : Summaries()) std::printf("  %s\n", line.c_str());
  std::fflush(stdout);
}

int RegisterAll() {
  for (const int64_t n : Sizes()) {
    const std::string ns = "/n:" + std::to_string(n);
    for (bool hnsw : {false, true}) {
      const std::string kind = hnsw ? "HNSW32" : "Flat";
      benchmark::RegisterBenchmark(("BM_Build/" + kind + ns).c_str(), BM_Build, hnsw, n)
          ->Iterations(1)
          ->Unit(benchmark::kSecond);
    }
    for (bool hnsw : {false, true}) {
      const std::string kind = hnsw ? "HNSW32" : "Flat";
      for (int batch : {1, 64}) {
        benchmark::RegisterBenchmark(
            ("BM_Search/" + kind + ns + "/batch:" + std::to_string(batch)).c_str(), BM_Search, hnsw,
            n, batch)
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
    }
    for (int64_t draws : {int64_t{4096}, int64_t{8192}, int64_t{32768}, n / 4}) {
      benchmark::RegisterBenchmark(
          ("BM_FilteredSearch/HNSW32" + ns + "/draws:" + std::to_string(draws)).c_str(),
          BM_FilteredSearch, n, draws)
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
  }
  benchmark::RegisterBenchmark("BM_Summary", BM_Summary)->Iterations(1);
  return 0;
}
const int kRegistered = RegisterAll();

}  // namespace
}  // namespace matalign::index
