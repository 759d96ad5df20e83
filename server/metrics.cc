#include "server/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace matalign::server {
namespace {

// Adds `v` to `a` (std::atomic<double> has no fetch_add before C++20).
void AtomicAdd(std::atomic<double>& a, double v) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

bool IsMetricName(absl::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

bool IsLabelName(absl::string_view s) {
  if (s.empty() || absl::StartsWith(s, "__")) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// Formats a sample value or bucket bound the way Prometheus parses it: the shortest decimal
// that reads back as the same double ("0.005", "2.5e-07"), whole numbers below 1e17 in full
// ("3", "1000000"), "+Inf", "-Inf", "NaN".
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  int precision = 1;
  for (; precision < 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  // %g switches to an exponent when it exceeds the precision: print whole numbers up to 17
  // digits in full ("10", not "1e+01").
  const double magnitude = std::fabs(v);
  if (magnitude >= 1) {
    const int integer_digits = static_cast<int>(std::floor(std::log10(magnitude))) + 1;
    precision = std::max(precision, std::min(integer_digits, 17));
  }
  std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
  return buf;
}

// Label values escape backslash, double quote and newline.
std::string EscapeLabelValue(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// HELP text escapes backslash and newline only.
std::string EscapeHelp(absl::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// Renders {a="x",b="y"} (empty string for no labels); `extra` is appended as one more label
// (the histogram's le).
std::string FormatLabels(const std::vector<std::string>& names,
                         const std::vector<std::string>& values,
                         std::optional<std::pair<absl::string_view, std::string>> extra = {}) {
  if (names.empty() && !extra) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ",";
    absl::StrAppend(&out, names[i], "=\"", EscapeLabelValue(values[i]), "\"");
  }
  if (extra) {
    if (!names.empty()) out += ",";
    absl::StrAppend(&out, extra->first, "=\"", EscapeLabelValue(extra->second), "\"");
  }
  out += "}";
  return out;
}

std::vector<std::string> LabelNames(const MetricLabels& labels) {
  std::vector<std::string> names;
  names.reserve(labels.size());
  for (const auto& [name, value] : labels) names.push_back(name);
  return names;
}

std::vector<std::string> LabelValues(const MetricLabels& labels) {
  std::vector<std::string> values;
  values.reserve(labels.size());
  for (const auto& [name, value] : labels) values.push_back(value);
  return values;
}

}  // namespace

const char* MetricsRegistry::TypeName(Type type) {
  switch (type) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

std::vector<double> DefaultLatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  if (!(start > 0) || !(factor > 1) || count < 1) return out;
  double v = start;
  for (int i = 0; i < count && std::isfinite(v); ++i, v *= factor) out.push_back(v);
  return out;
}

void Counter::Increment(double v) {
  if (!(v >= 0)) return;  // negative or NaN
  AtomicAdd(value_, v);
}

void Gauge::Add(double v) { AtomicAdd(value_, v); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bound >= v; NaN compares false everywhere and lands in +Inf.
  const size_t bucket = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(sum_, v);
}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.bucket_counts.resize(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    s.bucket_counts[i] = counts_[i].load(std::memory_order_relaxed);
    s.count += s.bucket_counts[i];
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

absl::StatusOr<MetricsRegistry::Family*> MetricsRegistry::GetFamily(
    absl::string_view name, absl::string_view help, Type type, const MetricLabels& labels,
    const std::vector<double>* buckets) {
  if (!IsMetricName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid metric name '", name, "' (must match [a-zA-Z_:][a-zA-Z0-9_:]*)"));
  }
  std::set<absl::string_view> seen;
  for (const auto& [label, value] : labels) {
    if (!IsLabelName(label)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "': invalid label name '", label,
                       "' (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)"));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "': label '", label, "' given twice"));
    }
    if (type == Type::kHistogram && label == "le") {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram '", name, "': label name 'le' is reserved"));
    }
  }
  std::vector<std::string> names = LabelNames(labels);
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family family;
    family.help = std::string(help);
    family.type = type;
    family.label_names = std::move(names);
    if (buckets != nullptr) family.buckets = *buckets;
    it = families_.emplace(std::string(name), std::move(family)).first;
    return &it->second;
  }
  Family& family = it->second;
  if (family.type != type) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric '", name, "' is already a ", TypeName(family.type), ", not a ", TypeName(type)));
  }
  if (family.label_names != names) {
    return absl::InvalidArgumentError(absl::StrCat("metric '", name, "' has label names [",
                                                   absl::StrJoin(family.label_names, ","),
                                                   "], not [", absl::StrJoin(names, ","), "]"));
  }
  if (buckets != nullptr && family.buckets != *buckets) {
    return absl::InvalidArgumentError(absl::StrCat("histogram '", name, "' already has buckets [",
                                                   absl::StrJoin(family.buckets, ","), "], not [",
                                                   absl::StrJoin(*buckets, ","), "]"));
  }
  return &family;
}

absl::StatusOr<Counter*> MetricsRegistry::GetCounter(absl::string_view name, absl::string_view help,
                                                     MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  auto family = GetFamily(name, help, Type::kCounter, labels, nullptr);
  if (!family.ok()) return family.status();
  Series& series = (*family)->series[LabelValues(labels)];
  if (series.counter == nullptr) series.counter = std::make_unique<Counter>();
  return series.counter.get();
}

absl::StatusOr<Gauge*> MetricsRegistry::GetGauge(absl::string_view name, absl::string_view help,
                                                 MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  auto family = GetFamily(name, help, Type::kGauge, labels, nullptr);
  if (!family.ok()) return family.status();
  auto& all = (*family)->series;
  std::vector<std::string> key = LabelValues(labels);
  auto it = all.find(key);
  if (it != all.end() && it->second.gauge == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "gauge '", name, "' series {", absl::StrJoin(key, ","), "} is a callback or info gauge"));
  }
  if (it == all.end()) {
    it = all.emplace(std::move(key), Series{}).first;
    it->second.gauge = std::make_unique<Gauge>();
  }
  return it->second.gauge.get();
}

absl::StatusOr<Histogram*> MetricsRegistry::GetHistogram(absl::string_view name,
                                                         absl::string_view help,
                                                         MetricLabels labels,
                                                         std::vector<double> buckets) {
  if (!buckets.empty() && std::isinf(buckets.back()) && buckets.back() > 0) buckets.pop_back();
  for (size_t i = 0; i < buckets.size(); ++i) {
    if (!std::isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram '", name, "': buckets must be finite and strictly increasing, got [",
          absl::StrJoin(buckets, ","), "]"));
    }
  }
  absl::MutexLock lock(&mu_);
  auto family = GetFamily(name, help, Type::kHistogram, labels, &buckets);
  if (!family.ok()) return family.status();
  Series& series = (*family)->series[LabelValues(labels)];
  if (series.histogram == nullptr) series.histogram = std::make_unique<Histogram>(buckets);
  return series.histogram.get();
}

absl::Status MetricsRegistry::AddCallbackGauge(absl::string_view name, absl::string_view help,
                                               MetricLabels labels, std::function<double()> fn) {
  if (!fn) {
    return absl::InvalidArgumentError(
        absl::StrCat("callback gauge '", name, "': no callback given"));
  }
  absl::MutexLock lock(&mu_);
  auto family = GetFamily(name, help, Type::kGauge, labels, nullptr);
  if (!family.ok()) return family.status();
  std::vector<std::string> key = LabelValues(labels);
  auto [it, inserted] = (*family)->series.emplace(key, Series{});
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("gauge '", name, "' series {", absl::StrJoin(key, ","), "} already exists"));
  }
  it->second.callback = std::move(fn);
  return absl::OkStatus();
}

absl::Status MetricsRegistry::RemoveCallbackGauge(absl::string_view name,
                                                  const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  auto family = families_.find(name);
  if (family != families_.end() && family->second.label_names == LabelNames(labels)) {
    auto it = family->second.series.find(LabelValues(labels));
    if (it != family->second.series.end() && it->second.callback) {
      family->second.series.erase(it);
      return absl::OkStatus();
    }
  }
  return absl::NotFoundError(absl::StrCat("no callback gauge '", name, "' with labels {",
                                          absl::StrJoin(LabelValues(labels), ","), "}"));
}

absl::Status MetricsRegistry::SetInfo(absl::string_view name, absl::string_view help,
                                      MetricLabels labels) {
  absl::MutexLock lock(&mu_);
  auto family = GetFamily(name, help, Type::kGauge, labels, nullptr);
  if (!family.ok()) return family.status();
  auto& all = (*family)->series;
  for (const auto& [key, series] : all) {
    if (!series.info) {
      return absl::InvalidArgumentError(
          absl::StrCat("gauge '", name, "' holds series not set by SetInfo"));
    }
  }
  all.clear();
  Series& series = all[LabelValues(labels)];
  series.info = true;
  return absl::OkStatus();
}

std::string MetricsRegistry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, family] : families_) {
    if (family.series.empty()) continue;
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(family.help), "\n", "# TYPE ", name, " ",
                    TypeName(family.type), "\n");
    for (const auto& [values, series] : family.series) {
      if (series.histogram != nullptr) {
        const Histogram::Snapshot snap = series.histogram->Read();
        const std::vector<double>& bounds = series.histogram->bounds();
        uint64_t cumulative = 0;
        for (size_t i = 0; i <= bounds.size(); ++i) {
          cumulative += snap.bucket_counts[i];
          const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
          absl::StrAppend(&out, name, "_bucket",
                          FormatLabels(family.label_names, values, {{"le", le}}), " ", cumulative,
                          "\n");
        }
        const std::string labels = FormatLabels(family.label_names, values);
        absl::StrAppend(&out, name, "_sum", labels, " ", FormatValue(snap.sum), "\n");
        absl::StrAppend(&out, name, "_count", labels, " ", snap.count, "\n");
        continue;
      }
      double value = 0;
      if (series.counter != nullptr) {
        value = series.counter->Value();
      } else if (series.gauge != nullptr) {
        value = series.gauge->Value();
      } else if (series.callback) {
        try {
          value = series.callback();
        } catch (...) {
          continue;  // documented: a throwing callback drops its sample
        }
      } else if (series.info) {
        value = 1;
      }
      absl::StrAppend(&out, name, FormatLabels(family.label_names, values), " ", FormatValue(value),
                      "\n");
    }
  }
  return out;
}

}  // namespace matalign::server
