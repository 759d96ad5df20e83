// Prometheus metrics for mmserver: a registry of counters, gauges and histograms that renders
// the Prometheus text exposition format 0.0.4 (what GET /metrics serves, see http_endpoint.h).
//
// Usage:
//
//   MetricsRegistry registry;
//   MATALIGN_ASSIGN_OR_RETURN(Counter* requests,
//       registry.GetCounter("matalign_rpc_requests_total", "RPCs received.",
//                           {{"method", "Search"}, {"code", "OK"}}));
//   MATALIGN_ASSIGN_OR_RETURN(Histogram* latency,
//       registry.GetHistogram("matalign_rpc_latency_seconds", "RPC latency.",
//                             {{"method", "Search"}}, DefaultLatencyBuckets()));
//   requests->Increment();
//   latency->Observe(0.0042);
//   MATALIGN_RETURN_IF_ERROR(registry.AddCallbackGauge("matalign_batcher_queue_depth",
//       "Requests waiting.", {{"modality", "text"}}, [&] { return batcher->stats().queue_depth;
//       }));
//   MATALIGN_RETURN_IF_ERROR(registry.SetInfo("matalign_model_info", "Serving model.",
//                                             {{"version", "3"}}));
//
// A family (one metric name) has one type, one HELP text and one set of label names; its series
// differ in the label values. The registry looks metrics up by name and labels, so hot paths
// should keep the returned pointers rather than call Get* per request.
//
// This header needs only abseil and the standard library (no LibTorch, no gRPC).
#ifndef MATALIGN_SERVER_METRICS_H_
#define MATALIGN_SERVER_METRICS_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace matalign::server {

// Label name/value pairs of one series, e.g. {{"method", "Search"}, {"code", "OK"}}. Order
// matters: it is the order of the rendered labels, and every series of a family must use the
// same names in the same order.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Upper bounds (seconds) for RPC latency histograms: 0.5 ms to 10 s, roughly 1-2.5-5 steps.
std::vector<double> DefaultLatencyBuckets();

// `count` bounds start, start * factor, start * factor^2, ... (e.g. batch sizes 1, 2, 4, ...).
// Requires start > 0, factor > 1, count >= 1; returns an empty vector otherwise.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// A monotonically increasing value (requests served, errors). Thread-safe and lock-free: an
// atomic double updated by compare-and-swap.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  // Adds `v`, which must be >= 0; a negative or NaN `v` is ignored (counters never decrease).
  void Increment(double v = 1.0);
  // Returns the current value.
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// A value that goes up and down (queue depth, loaded vectors). Thread-safe and lock-free.
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  // Sets the value to `v`.
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  // Adds `v` (may be negative).
  void Add(double v);
  // Returns the current value.
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Counts observations into buckets with fixed upper bounds (latencies, batch sizes).
// Thread-safe and lock-free: Observe does a binary search over the bounds, one atomic
// increment of a bucket count and one compare-and-swap on the sum. A concurrent render may see
// an observation in its bucket but not yet in the sum; the rendered _count is always the total
// of the rendered buckets.
class Histogram {
 public:
  // `bounds`: strictly increasing, finite upper bounds (the +Inf bucket is implicit). The
  // registry validates them; use MetricsRegistry::GetHistogram rather than this directly.
  explicit Histogram(std::vector<double> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // Records one observation: it counts in the first bucket whose bound is >= `v` (or +Inf).
  void Observe(double v);

  // A consistent-enough copy of the state: counts per bucket (not cumulative), size
  // bounds().size() + 1, the last being the +Inf bucket; `count` is their total.
  struct Snapshot {
    std::vector<uint64_t> bucket_counts;
    uint64_t count = 0;
    double sum = 0.0;
  };
  // Returns the current counts and sum.
  Snapshot Read() const;
  // The upper bounds given at construction, without +Inf.
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  // One per bound plus the +Inf bucket.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0.0};
};

// Owns metric families and renders them. Metrics returned by Get* stay valid (at the same
// address) for the lifetime of the registry.
//
// Thread-safety: every method may be called concurrently from any number of threads. Get*,
// AddCallbackGauge, RemoveCallbackGauge, SetInfo and Render take one registry mutex; updating a
// Counter/Gauge/Histogram never does. Callback gauges are called by Render with that mutex
// held, so a callback must not call the registry (it would deadlock) and must be thread-safe
// with respect to whatever it reads.
class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Returns the counter `name`{`labels`}, creating the family and/or the series on first use.
  // `help` is the family's HELP text (the first registration's text is kept).
  // Errors: InvalidArgument if `name` is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), a
  // label name is invalid ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__") or repeated, or the
  // family exists with another type or other label names.
  absl::StatusOr<Counter*> GetCounter(absl::string_view name, absl::string_view help,
                                      MetricLabels labels = {});

  // Returns the gauge `name`{`labels`}; as GetCounter. Also InvalidArgument if the series
  // exists as a callback gauge.
  absl::StatusOr<Gauge*> GetGauge(absl::string_view name, absl::string_view help,
                                  MetricLabels labels = {});

  // Returns the histogram `name`{`labels`} with upper bounds `buckets` (strictly increasing,
  // finite; a trailing +Inf is allowed and dropped; empty means only the +Inf bucket). As
  // GetCounter; also InvalidArgument for bad buckets, buckets different from the family's, or a
  // label named "le".
  absl::StatusOr<Histogram*> GetHistogram(absl::string_view name, absl::string_view help,
                                          MetricLabels labels, std::vector<double> buckets);

  // Adds a gauge series whose value is `fn()` at render time (queue depths, index sizes). `fn`
  // must not be empty, must not call this registry and should be cheap; an exception from it
  // drops that sample from the render. Errors: as GetGauge, and AlreadyExists if the series
  // exists (as a plain or callback gauge).
  absl::Status AddCallbackGauge(absl::string_view name, absl::string_view help, MetricLabels labels,
                                std::function<double()> fn);

  // Removes the callback gauge series `name`{`labels`}; once this returns, the callback is not
  // running and is never called again, so what it captured may be destroyed. Errors: NotFound
  // if no such callback series exists.
  absl::Status RemoveCallbackGauge(absl::string_view name, const MetricLabels& labels);

  // Makes `name` an info-style gauge with exactly one series, `name`{`labels`} 1, replacing
  // the series set by an earlier SetInfo (e.g. matalign_model_info{version="3"} 1 after a
  // reload). Errors: as GetGauge; the family must hold only SetInfo series.
  absl::Status SetInfo(absl::string_view name, absl::string_view help, MetricLabels labels);

  // Returns every family in the Prometheus text format 0.0.4: families sorted by name, each
  // with one # HELP and one # TYPE line, series sorted by label values; histograms as
  // cumulative name_bucket{...,le="..."} lines ending with le="+Inf", then name_sum and
  // name_count. Families without series are omitted.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  // One series; exactly one of the members is set, matching the family's type.
  struct Series {
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
    bool info = false;  // set by SetInfo (a gauge fixed at 1)
  };
  struct Family {
    std::string help;
    Type type = Type::kCounter;
    std::vector<std::string> label_names;
    std::vector<double> buckets;  // histograms only
    // Keyed by label values, in the order of label_names.
    std::map<std::vector<std::string>, Series> series;
  };

  static const char* TypeName(Type type);
  // Finds or creates the family and checks that it matches; returns it.
  absl::StatusOr<Family*> GetFamily(absl::string_view name, absl::string_view help, Type type,
                                    const MetricLabels& labels, const std::vector<double>* buckets)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace matalign::server

#endif  // MATALIGN_SERVER_METRICS_H_
