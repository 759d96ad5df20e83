// Record store + index figures (make bench): ingest rate of precomputed d=256 vectors into
// a Collection (RocksDB store + flat FAISS index) with sync and async durability, and the
// time to restart from snapshots against a full rebuild from the store. N = 100k and 1M
// (capped by MATALIGN_BENCH_MAX_N). Stores go under MATALIGN_BENCH_DIR (default /tmp) and
// are removed afterwards. Nothing is asserted.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "index/collection.h"

namespace matalign::index {
namespace {

namespace fs = std::filesystem;
constexpr int kDim = 256;
constexpr int kBatch = 256;  // records per Put (one WriteBatch, one fsync with sync)

int64_t MaxN() {
  const char* env = std::getenv("MATALIGN_BENCH_MAX_N");
  return env ? std::atoll(env) : 1000000;
}

std::string BenchDir(const std::string& name) {
  const char* env = std::getenv("MATALIGN_BENCH_DIR");
  return (fs::path(env ? env : fs::temp_directory_path().string()) / ("matalign_bench_" + name))
      .string();
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Records "b<i>" with one random unit text vector each (model "bench").
std::vector<StoredRecord> MakeBatch(int64_t first, int64_t count, std::mt19937* rng) {
  std::normal_distribution<float> g;
  std::vector<StoredRecord> batch(count);
  for (int64_t i = 0; i < count; ++i) {
    StoredRecord& r = batch[i];
    r.record.id = "b" + std::to_string(first + i);
    r.record.composition = {{"Ba", 1}, {"Ti", 1}, {"O", 3}};
    std::vector<float> v(kDim);
    double norm = 0;
    for (float& x : v) {
      x = g(*rng);
      norm += x * x;
    }
    for (float& x : v) x = static_cast<float>(x / std::sqrt(norm));
    r.vectors.push_back({Modality::kText, "bench", std::move(v)});
  }
  return batch;
}

// Ingests n records into a fresh collection; returns seconds.
double Ingest(const std::string& dir, int64_t n, Durability durability) {
  fs::remove_all(dir);
  CollectionOptions o;
  o.store.durability = durability;
  auto c = Collection::Open(dir, o);
  if (!c.ok()) {
    std::fprintf(stderr, "%s\n", std::string(c.status().message()).c_str());
    std::abort();
  }
  std::mt19937 rng(1);
  double generate = 0;
  const double start = Now();
  for (int64_t i = 0; i < n; i += kBatch) {
    const double g0 = Now();
    auto batch = MakeBatch(i, std::min<int64_t>(kBatch, n - i), &rng);
    generate += Now() - g0;
    auto s = (*c)->Put(batch);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", std::string(s.status().message()).c_str());
      std::abort();
    }
  }
  return Now() - start - generate;  // closing (the snapshot) is not ingest
}

void BM_Ingest(benchmark::State& state) {
  const int64_t n = state.range(0);
  const Durability durability = state.range(1) ? Durability::kSync : Durability::kAsync;
  if (n > MaxN()) {
    state.SkipWithError("N above MATALIGN_BENCH_MAX_N");
    return;
  }
  const std::string dir = BenchDir("ingest");
  double seconds = 0;
  for (auto _ : state) seconds = Ingest(dir, n, durability);
  state.counters["records_per_s"] = n / seconds;
  state.counters["MB_per_s"] = n * (kDim * 4.0) / seconds / 1e6;
  std::printf("ingest N=%lld d=%d %s: %.0f records/s (%.1f MB/s of vectors), batches of %d\n",
              static_cast<long long>(n), kDim, std::string(DurabilityName(durability)).c_str(),
              n / seconds, n * kDim * 4.0 / seconds / 1e6, kBatch);
  fs::remove_all(dir);
}
BENCHMARK(BM_Ingest)
    ->ArgsProduct({{100000, 1000000}, {1, 0}})
    ->ArgNames({"n", "sync"})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

void BM_Restart(benchmark::State& state) {
  const int64_t n = state.range(0);
  if (n > MaxN()) {
    state.SkipWithError("N above MATALIGN_BENCH_MAX_N");
    return;
  }
  const std::string dir = BenchDir("restart");
  Ingest(dir, n, Durability::kAsync);  // closed with a snapshot
  {
    // The first open after an async bulk load replays RocksDB's log; measure clean restarts.
    CollectionOptions warm;
    auto c = Collection::Open(dir, warm);
  }
  double from_snapshot = 0, rebuild = 0, index_snapshot = 0, index_rebuild = 0;
  for (auto _ : state) {
    CollectionOptions o;
    o.snapshot_on_close = false;
    double t = Now();
    {
      auto c = Collection::Open(dir, o);
      if (!c.ok() || (*c)->IndexedKeys(Modality::kText).size() != static_cast<size_t>(n)) {
        state.SkipWithError("reopen failed");
        return;
      }
      from_snapshot = Now() - t;
      for (const auto& r : (*c)->load_reports()) index_snapshot += r.seconds;
    }
    o.rebuild = true;
    t = Now();
    {
      auto c = Collection::Open(dir, o);
      if (!c.ok()) {
        state.SkipWithError("rebuild failed");
        return;
      }
      rebuild = Now() - t;
      for (const auto& r : (*c)->load_reports()) index_rebuild += r.seconds;
    }
  }
  state.counters["snapshot_s"] = from_snapshot;
  state.counters["rebuild_s"] = rebuild;
  std::printf(
      "restart N=%lld d=%d flat: %.2f s from snapshot (index %.2f s), %.2f s with a full "
      "rebuild from the store (index %.2f s); the rest is opening the store and reading "
      "the filter attributes of every record\n",
      static_cast<long long>(n), kDim, from_snapshot, index_snapshot, rebuild, index_rebuild);
  fs::remove_all(dir);
}
BENCHMARK(BM_Restart)
    ->Arg(100000)
    ->Arg(1000000)
    ->ArgName("n")
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace matalign::index
