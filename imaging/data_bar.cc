#include "imaging/data_bar.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace matalign::imaging {
namespace {

// A boundary row counts as blended (part of the bar) when its mean has moved at least this
// share of the way from the micrograph's mean toward the bar level. On the NCM set blended
// rows move 0.29-0.41 of the way and the first micrograph row at most 0.10.
constexpr float kTransitionShare = 0.2f;

// Row statistics along one edge; k = 0 is the outermost row, k grows inward.
class EdgeRows {
 public:
  EdgeRows(const Image& image, bool from_bottom)
      : image_(image), from_bottom_(from_bottom), scratch_(static_cast<size_t>(image.width)) {}

  int Row(int k) const { return from_bottom_ ? image_.height - 1 - k : k; }

  const float* Data(int k) const {
    return image_.pixels.data() + static_cast<size_t>(Row(k)) * image_.width;
  }

  float Median(int k) {
    const float* row = Data(k);
    std::copy(row, row + image_.width, scratch_.begin());
    auto mid = scratch_.begin() + image_.width / 2;
    std::nth_element(scratch_.begin(), mid, scratch_.end());
    return *mid;
  }

  // Share of the row's pixels within `tolerance` of `level`. NaN pixels never count.
  float FractionNear(int k, float level, float tolerance) const {
    const float* row = Data(k);
    int near = 0;
    for (int c = 0; c < image_.width; ++c) near += std::fabs(row[c] - level) <= tolerance;
    return static_cast<float>(near) / static_cast<float>(image_.width);
  }

  float Mean(int k) const {
    const float* row = Data(k);
    double sum = 0;
    for (int c = 0; c < image_.width; ++c) sum += row[c];
    return static_cast<float>(sum / image_.width);
  }

 private:
  const Image& image_;
  const bool from_bottom_;
  std::vector<float> scratch_;
};

// Returns the bar at one edge, or nullopt. See the algorithm in data_bar.h.
std::optional<DataBar> DetectAtEdge(const Image& image, const DataBarOptions& opt,
                                    bool from_bottom) {
  const int height = image.height;
  const int band = static_cast<int>(std::floor(opt.max_height_fraction * height));
  if (band < opt.min_solid_rows) return std::nullopt;
  EdgeRows rows(image, from_bottom);

  // 1. The outermost solid row gives the bar level.
  int first_solid = -1;
  float level = 0;
  for (int k = 0; k < band; ++k) {
    const float median = rows.Median(k);
    if (rows.FractionNear(k, median, opt.tolerance) >= opt.uniform_fraction) {
      first_solid = k;
      level = median;
      break;
    }
  }
  if (first_solid < 0) return std::nullopt;
  auto is_solid = [&](int k) {
    return rows.FractionNear(k, level, opt.tolerance) >= opt.uniform_fraction;
  };
  auto is_bar_like = [&](int k) {
    return rows.FractionNear(k, level, opt.tolerance) >= opt.min_background_fraction;
  };
  for (int k = 0; k < first_solid; ++k) {
    if (!is_bar_like(k)) return std::nullopt;  // the solid rows are not attached to the edge
  }

  // 2. Walk inward over solid and text rows; the innermost solid row is the boundary.
  int last_solid = first_solid;
  int solid_rows = 1;
  for (int k = first_solid + 1; k < band; ++k) {
    if (is_solid(k)) {
      last_solid = k;
      ++solid_rows;
    } else if (!is_bar_like(k)) {
      break;
    }
  }
  if (solid_rows < opt.min_solid_rows) return std::nullopt;

  // 3. Blended rows across the boundary, judged against micrograph rows just beyond them.
  const int ref_begin = last_solid + 1 + opt.max_transition_rows;
  const int ref_end = ref_begin + std::max(opt.edge_check_rows, 1);
  if (ref_end > height) return std::nullopt;
  double ref_sum = 0;
  for (int k = ref_begin; k < ref_end; ++k) ref_sum += rows.Mean(k);
  const float ref_mean = static_cast<float>(ref_sum / (ref_end - ref_begin));
  const float gap = level - ref_mean;
  int inner = last_solid;
  if (std::fabs(gap) >= opt.tolerance) {
    for (int t = 1; t <= opt.max_transition_rows; ++t) {
      const int k = last_solid + t;
      if ((rows.Mean(k) - ref_mean) / gap < kTransitionShare) break;
      inner = k;
    }
  }
  if (inner + 1 > band) return std::nullopt;

  // 4. A sharp edge: the rows beyond the bar are micrograph texture, neither at the bar
  // level nor uniform in themselves (which rejects smooth vertical gradients).
  for (int k = inner + 1; k <= inner + opt.edge_check_rows; ++k) {
    if (k >= height || is_solid(k) ||
        rows.FractionNear(k, rows.Median(k), opt.tolerance) >= opt.uniform_fraction) {
      return std::nullopt;
    }
  }

  DataBar bar;
  bar.found = true;
  bar.top_row = from_bottom ? height - 1 - inner : 0;
  bar.bottom_row = from_bottom ? height - 1 : inner;
  return bar;
}

}  // namespace

absl::Status DataBarOptions::Validate() const {
  auto in_unit = [](float v) { return std::isfinite(v) && v > 0.0f && v <= 1.0f; };
  if (!in_unit(tolerance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataBarOptions.tolerance must be in (0, 1], got ", tolerance));
  }
  if (!in_unit(uniform_fraction)) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataBarOptions.uniform_fraction must be in (0, 1], got ", uniform_fraction));
  }
  if (!in_unit(min_background_fraction) || min_background_fraction > uniform_fraction) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DataBarOptions.min_background_fraction must be in (0, uniform_fraction], got ",
        min_background_fraction));
  }
  if (!in_unit(max_height_fraction) || max_height_fraction >= 1.0f) {
    return absl::InvalidArgumentError(absl::StrCat(
        "DataBarOptions.max_height_fraction must be in (0, 1), got ", max_height_fraction));
  }
  if (min_solid_rows < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataBarOptions.min_solid_rows must be >= 1, got ", min_solid_rows));
  }
  if (max_transition_rows < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataBarOptions.max_transition_rows must be >= 0, got ", max_transition_rows));
  }
  if (edge_check_rows < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("DataBarOptions.edge_check_rows must be >= 1, got ", edge_check_rows));
  }
  return absl::OkStatus();
}

absl::StatusOr<DataBar> DetectDataBar(const Image& image, const DataBarOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_RETURN_IF_ERROR(ValidateImage(image, "DetectDataBar"));
  if (auto bar = DetectAtEdge(image, options, /*from_bottom=*/true)) return *bar;
  if (options.search_top) {
    if (auto bar = DetectAtEdge(image, options, /*from_bottom=*/false)) return *bar;
  }
  return DataBar{};
}

absl::StatusOr<Image> RemoveDataBar(const Image& image, const DataBar& bar) {
  MATALIGN_RETURN_IF_ERROR(ValidateImage(image, "RemoveDataBar"));
  if (!bar.found) return image;
  const bool at_top = bar.top_row == 0;
  const bool at_bottom = bar.bottom_row == image.height - 1;
  if (bar.top_row < 0 || bar.bottom_row >= image.height || bar.top_row > bar.bottom_row ||
      (!at_top && !at_bottom) || (at_top && at_bottom)) {
    return absl::InvalidArgumentError(
        absl::StrCat("RemoveDataBar: bar rows [", bar.top_row, ", ", bar.bottom_row,
                     "] must touch exactly one of the top and bottom edges of a ", image.height,
                     "-row image and leave rows over"));
  }
  const int keep_begin = at_bottom ? 0 : bar.bottom_row + 1;
  const int keep_rows = image.height - bar.height();
  Image out;
  out.width = image.width;
  out.height = keep_rows;
  out.source_bit_depth = image.source_bit_depth;
  out.source_channels = image.source_channels;
  const auto first = image.pixels.begin() + static_cast<std::ptrdiff_t>(keep_begin) * image.width;
  out.pixels.assign(first, first + static_cast<std::ptrdiff_t>(keep_rows) * image.width);
  return out;
}

}  // namespace matalign::imaging
