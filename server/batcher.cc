#include "server/batcher.h"

#include "absl/strings/str_cat.h"

namespace matalign::server {

namespace {

// Bounds that catch typos (an extra zero or two) rather than tuning choices.
constexpr int kMaxBatchSizeLimit = 65536;
constexpr int kMaxWorkers = 256;

}  // namespace

absl::Status BatcherOptions::Validate() const {
  if (max_batch_size < 1 || max_batch_size > kMaxBatchSizeLimit) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_size must be in [1, ",
                                                   kMaxBatchSizeLimit, "], got ", max_batch_size));
  }
  if (max_delay < absl::ZeroDuration() || max_delay == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_delay must be finite and not negative, got ", absl::FormatDuration(max_delay)));
  }
  if (max_queue < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_queue must be at least 1, got ", max_queue));
  }
  if (max_batch_size > max_queue) {
    return absl::InvalidArgumentError(absl::StrCat("max_batch_size (", max_batch_size,
                                                   ") must not exceed max_queue (", max_queue,
                                                   "): no batch could ever be full"));
  }
  if (workers < 1 || workers > kMaxWorkers) {
    return absl::InvalidArgumentError(
        absl::StrCat("workers must be in [1, ", kMaxWorkers, "], got ", workers));
  }
  return absl::OkStatus();
}

}  // namespace matalign::server
