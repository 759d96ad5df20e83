#include "server/metrics.h"

#include <atomic>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/test_util.h"

namespace matalign::server {
namespace {

TEST(MetricsRegistryTest, EmptyRegistryRendersNothing) {
  MetricsRegistry registry;
  EXPECT_EQ(registry.Render(), "");
}

TEST(MetricsRegistryTest, CounterRendersExactly) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * ok,
                       registry.GetCounter("matalign_rpc_requests_total", "RPCs received.",
                                           {{"method", "Search"}, {"code", "OK"}}));
  ASSERT_OK_AND_ASSIGN(Counter * failed,
                       registry.GetCounter("matalign_rpc_requests_total", "RPCs received.",
                                           {{"method", "Search"}, {"code", "INVALID_ARGUMENT"}}));
  ok->Increment();
  ok->Increment(2);
  failed->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP matalign_rpc_requests_total RPCs received.\n"
            "# TYPE matalign_rpc_requests_total counter\n"
            "matalign_rpc_requests_total{method=\"Search\",code=\"INVALID_ARGUMENT\"} 1\n"
            "matalign_rpc_requests_total{method=\"Search\",code=\"OK\"} 3\n");
}

TEST(MetricsRegistryTest, CounterWithoutLabelsAndIgnoredDecrements) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * c, registry.GetCounter("reloads_total", "Reloads."));
  c->Increment(0.5);
  c->Increment(-3);  // counters never decrease
  c->Increment(std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(c->Value(), 0.5);
  EXPECT_EQ(registry.Render(),
            "# HELP reloads_total Reloads.\n"
            "# TYPE reloads_total counter\n"
            "reloads_total 0.5\n");
}

TEST(MetricsRegistryTest, GaugeEscapesLabelValuesAndHelp) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Gauge * g, registry.GetGauge("matalign_index_vectors",
                                                    "Vectors in an index.\nPer \"space\" \\ kind.",
                                                    {{"space", "a\\b\"c\nd"}}));
  g->Set(10);
  g->Add(-2.5);
  EXPECT_EQ(registry.Render(),
            "# HELP matalign_index_vectors Vectors in an index.\\nPer \"space\" \\\\ kind.\n"
            "# TYPE matalign_index_vectors gauge\n"
            "matalign_index_vectors{space=\"a\\\\b\\\"c\\nd\"} 7.5\n");
}

TEST(MetricsRegistryTest, HistogramRendersCumulativeBuckets) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Histogram * h,
                       registry.GetHistogram("matalign_rpc_latency_seconds", "RPC latency.",
                                             {{"method", "Embed"}}, {0.25, 1, 10}));
  h->Observe(0.125);
  h->Observe(0.25);  // a bound is inclusive: le="0.25"
  h->Observe(0.5);
  h->Observe(20);
  EXPECT_EQ(registry.Render(),
            "# HELP matalign_rpc_latency_seconds RPC latency.\n"
            "# TYPE matalign_rpc_latency_seconds histogram\n"
            "matalign_rpc_latency_seconds_bucket{method=\"Embed\",le=\"0.25\"} 2\n"
            "matalign_rpc_latency_seconds_bucket{method=\"Embed\",le=\"1\"} 3\n"
            "matalign_rpc_latency_seconds_bucket{method=\"Embed\",le=\"10\"} 3\n"
            "matalign_rpc_latency_seconds_bucket{method=\"Embed\",le=\"+Inf\"} 4\n"
            "matalign_rpc_latency_seconds_sum{method=\"Embed\"} 20.875\n"
            "matalign_rpc_latency_seconds_count{method=\"Embed\"} 4\n");
  const Histogram::Snapshot snap = h->Read();
  EXPECT_EQ(snap.bucket_counts, (std::vector<uint64_t>{2, 1, 0, 1}));
  EXPECT_EQ(snap.count, 4u);
  EXPECT_EQ(snap.sum, 20.875);
}

TEST(MetricsRegistryTest, HistogramWithoutLabelsOrBuckets) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Histogram * h, registry.GetHistogram("batch_size", "Batch sizes.", {}, {}));
  h->Observe(3);
  EXPECT_EQ(registry.Render(),
            "# HELP batch_size Batch sizes.\n"
            "# TYPE batch_size histogram\n"
            "batch_size_bucket{le=\"+Inf\"} 1\n"
            "batch_size_sum 3\n"
            "batch_size_count 1\n");
}

TEST(MetricsRegistryTest, FamiliesSortedWithOneHelpAndTypeEach) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Gauge * b2, registry.GetGauge("b", "B.", {{"x", "2"}}));
  ASSERT_OK_AND_ASSIGN(Counter * a, registry.GetCounter("a_total", "A."));
  ASSERT_OK_AND_ASSIGN(Gauge * b1, registry.GetGauge("b", "B.", {{"x", "1"}}));
  b2->Set(2);
  b1->Set(1);
  a->Increment();
  EXPECT_EQ(registry.Render(),
            "# HELP a_total A.\n"
            "# TYPE a_total counter\n"
            "a_total 1\n"
            "# HELP b B.\n"
            "# TYPE b gauge\n"
            "b{x=\"1\"} 1\n"
            "b{x=\"2\"} 2\n");
}

TEST(MetricsRegistryTest, GetReturnsTheSameSeries) {
  MetricsRegistry registry;
  ASSERT_OK_AND_ASSIGN(Counter * c1, registry.GetCounter("c_total", "C.", {{"k", "v"}}));
  ASSERT_OK_AND_ASSIGN(Counter * c2, registry.GetCounter("c_total", "C.", {{"k", "v"}}));
  ASSERT_OK_AND_ASSIGN(Counter * other, registry.GetCounter("c_total", "C.", {{"k", "w"}}));
  EXPECT_EQ(c1, c2);
  EXPECT_NE(c1, other);
  ASSERT_OK_AND_ASSIGN(Histogram * h1, registry.GetHistogram("h", "H.", {}, {1, 2}));
  // A trailing +Inf is the implicit bucket: the same buckets.
  ASSERT_OK_AND_ASSIGN(
      Histogram * h2,
      registry.GetHistogram("h", "H.", {}, {1, 2, std::numeric_limits<double>::infinity()}));
  EXPECT_EQ(h1, h2);
}

TEST(MetricsRegistryTest, ValuesUseShortestRoundTripFormat) {
  MetricsRegistry registry;
  const std::vector<std::pair<std::string, double>> cases = {
      {"a", 1234567},      {"b", 0.1},       {"c", 1e21},
      {"d", -0.0005},      {"e", 1.0 / 3.0}, {"f", std::numeric_limits<double>::infinity()},
      {"g", std::nan("")}, {"h", 0},         {"i", 10},
      {"j", 1e16},         {"k", 123.5}};
  for (const auto& [label, value] : cases) {
    ASSERT_OK_AND_ASSIGN(Gauge * g, registry.GetGauge("v", "V.", {{"k", label}}));
    g->Set(value);
  }
  EXPECT_EQ(registry.Render(),
            "# HELP v V.\n"
            "# TYPE v gauge\n"
            "v{k=\"a\"} 1234567\n"
            "v{k=\"b\"} 0.1\n"
            "v{k=\"c\"} 1e+21\n"
            "v{k=\"d\"} -0.0005\n"
            "v{k=\"e\"} 0.3333333333333333\n"
            "v{k=\"f\"} +Inf\n"
            "v{k=\"g\"} NaN\n"
            "v{k=\"h\"} 0\n"
            "v{k=\"i\"} 10\n"
            "v{k=\"j\"} 10000000000000000\n"
            "v{k=\"k\"} 123.5\n");
}

TEST(MetricsRegistryTest, InvalidNamesAreRejected) {
  MetricsRegistry registry;
  for (const char* name : {"", "1abc", "a-b", "a b", "é", "a.b"}) {
    EXPECT_EQ(registry.GetCounter(name, "x").status().code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
  for (const char* name : {"a", "_a", ":a", "a:b_c9", "ABC"}) {
    EXPECT_OK(registry.GetCounter(name, "x"));
  }
  for (const char* label : {"", "__reserved", "1a", "a-b", "a:b"}) {
    EXPECT_EQ(registry.GetGauge("g", "x", {{label, "v"}}).status().code(),
              absl::StatusCode::kInvalidArgument)
        << label;
  }
  EXPECT_EQ(registry.GetGauge("g", "x", {{"a", "1"}, {"a", "2"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetHistogram("h", "x", {{"le", "1"}}, {1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A rejected call registers nothing: an invalid name never shows up.
  const std::string rendered = registry.Render();
  EXPECT_EQ(rendered.find("a-b"), std::string::npos);
  EXPECT_EQ(rendered.find("# HELP g "), std::string::npos);
}

TEST(MetricsRegistryTest, ConflictingRegistrationsAreRejected) {
  MetricsRegistry registry;
  ASSERT_OK(registry.GetCounter("m", "M.", {{"a", "1"}}));
  // Another type under the same name.
  EXPECT_EQ(registry.GetGauge("m", "M.", {{"a", "1"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetHistogram("m", "M.", {{"a", "1"}}, {1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Other label names in the same family.
  EXPECT_EQ(registry.GetCounter("m", "M.", {{"b", "1"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetCounter("m", "M.").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetCounter("m", "M.", {{"a", "1"}, {"b", "2"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Histograms of a family share their buckets.
  ASSERT_OK(registry.GetHistogram("h", "H.", {{"a", "1"}}, {1, 2}));
  EXPECT_EQ(registry.GetHistogram("h", "H.", {{"a", "2"}}, {1, 3}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Buckets must be finite and strictly increasing.
  EXPECT_EQ(registry.GetHistogram("h2", "H.", {}, {2, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetHistogram("h2", "H.", {}, {1, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetHistogram("h2", "H.", {}, {std::nan(""), 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.GetHistogram("h2", "H.", {}, {-std::numeric_limits<double>::infinity(), 1})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MetricsRegistryTest, ConcurrentUpdatesSumExactly) {
  MetricsRegistry registry;
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  ASSERT_OK_AND_ASSIGN(Counter * counter, registry.GetCounter("c_total", "C."));
  ASSERT_OK_AND_ASSIGN(Gauge * gauge, registry.GetGauge("g", "G."));
  ASSERT_OK_AND_ASSIGN(Histogram * hist, registry.GetHistogram("h", "H.", {}, {1, 2}));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        counter->Increment();
        gauge->Add(2);
        hist->Observe(t % 3);  // 0 -> le 1, 1 -> le 1, 2 -> le 2; integer sums stay exact
        // Series lookups race with updates and with renders too.
        if (i % 1000 == 0) {
          ASSERT_OK(registry.GetCounter("c_total", "C."));
          (void)registry.Render();
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(counter->Value(), kThreads * kPerThread);
  EXPECT_EQ(gauge->Value(), 2.0 * kThreads * kPerThread);
  const Histogram::Snapshot snap = hist->Read();
  int le1 = 0, le2 = 0;
  double sum = 0;
  for (int t = 0; t < kThreads; ++t) {
    (t % 3 < 2 ? le1 : le2) += kPerThread;
    sum += static_cast<double>(t % 3) * kPerThread;
  }
  EXPECT_EQ(snap.bucket_counts,
            (std::vector<uint64_t>{static_cast<uint64_t>(le1), static_cast<uint64_t>(le2), 0}));
  EXPECT_EQ(snap.count, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(snap.sum, sum);
}

TEST(MetricsRegistryTest, CallbackGaugeIsReadAtRenderTime) {
  MetricsRegistry registry;
  std::atomic<int> depth{3};
  std::atomic<int> calls{0};
  ASSERT_OK(
      registry.AddCallbackGauge("queue_depth", "Waiting requests.", {{"modality", "text"}}, [&] {
        ++calls;
        return static_cast<double>(depth.load());
      }));
  EXPECT_EQ(calls.load(), 0);
  EXPECT_NE(registry.Render().find("queue_depth{modality=\"text\"} 3\n"), std::string::npos);
  depth = 7;
  EXPECT_NE(registry.Render().find("queue_depth{modality=\"text\"} 7\n"), std::string::npos);
  EXPECT_EQ(calls.load(), 2);

  // The series exists: neither a second callback nor a plain gauge may take it.
  EXPECT_EQ(
      registry.AddCallbackGauge("queue_depth", "x", {{"modality", "text"}}, [] { return 1.0; })
          .code(),
      absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(registry.GetGauge("queue_depth", "x", {{"modality", "text"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry.AddCallbackGauge("queue_depth", "x", {{"modality", "sem"}}, nullptr).code(),
            absl::StatusCode::kInvalidArgument);

  // After removal the callback is never called again.
  ASSERT_OK(registry.RemoveCallbackGauge("queue_depth", {{"modality", "text"}}));
  EXPECT_EQ(registry.Render(), "");
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(registry.RemoveCallbackGauge("queue_depth", {{"modality", "text"}}).code(),
            absl::StatusCode::kNotFound);
  // A plain gauge cannot be removed as a callback.
  ASSERT_OK(registry.GetGauge("queue_depth", "x", {{"modality", "xrd"}}));
  EXPECT_EQ(registry.RemoveCallbackGauge("queue_depth", {{"modality", "xrd"}}).code(),
            absl::StatusCode::kNotFound);
}

TEST(MetricsRegistryTest, ThrowingCallbackDropsOnlyItsSample) {
  MetricsRegistry registry;
  ASSERT_OK(registry.AddCallbackGauge("g", "G.", {{"k", "bad"}},
                                      []() -> double { throw std::runtime_error("gone"); }));
  ASSERT_OK(registry.AddCallbackGauge("g", "G.", {{"k", "good"}}, [] { return 4.0; }));
  EXPECT_EQ(registry.Render(),
            "# HELP g G.\n"
            "# TYPE g gauge\n"
            "g{k=\"good\"} 4\n");
}

TEST(MetricsRegistryTest, SetInfoReplacesTheSeries) {
  MetricsRegistry registry;
  ASSERT_OK(registry.SetInfo("matalign_model_info", "Model being served.", {{"version", "3"}}));
  EXPECT_EQ(registry.Render(),
            "# HELP matalign_model_info Model being served.\n"
            "# TYPE matalign_model_info gauge\n"
            "matalign_model_info{version=\"3\"} 1\n");
  ASSERT_OK(registry.SetInfo("matalign_model_info", "Model being served.", {{"version", "4"}}));
  EXPECT_EQ(registry.Render(),
            "# HELP matalign_model_info Model being served.\n"
            "# TYPE matalign_model_info gauge\n"
            "matalign_model_info{version=\"4\"} 1\n");
  // An info family holds only info series, and its series are not plain gauges.
  EXPECT_EQ(registry.GetGauge("matalign_model_info", "x", {{"version", "4"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK(registry.GetGauge("plain", "x"));
  EXPECT_EQ(registry.SetInfo("plain", "x", {}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(BucketsTest, DefaultLatencyBucketsSpanHalfAMillisecondToTenSeconds) {
  const std::vector<double> b = DefaultLatencyBuckets();
  ASSERT_GE(b.size(), 2u);
  EXPECT_EQ(b.front(), 0.0005);
  EXPECT_EQ(b.back(), 10);
  for (size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
  MetricsRegistry registry;
  EXPECT_OK(registry.GetHistogram("latency_seconds", "x", {}, b));
}

TEST(BucketsTest, ExponentialBuckets) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
  EXPECT_TRUE(ExponentialBuckets(0, 2, 4).empty());
  EXPECT_TRUE(ExponentialBuckets(1, 1, 4).empty());
  EXPECT_TRUE(ExponentialBuckets(1, 2, 0).empty());
}

}  // namespace
}  // namespace matalign::server
