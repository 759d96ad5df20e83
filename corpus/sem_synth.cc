#include "corpus/sem_synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "imaging/data_bar.h"

namespace matalign::corpus {
namespace {

// ---- Calibration constants (see the comments in sem_synth.h) ----

// Grain size targeted by ChooseMagnification, pixels.
constexpr double kTargetGrainPx = 20.0;
// Voronoi cell area per seed as a multiple of L^2, L the mean linear intercept. A hexagonal
// tessellation has A = 1.40 L^2, a Poisson-Voronoi one 1.62 L^2; stratified seeds lie
// between. Calibrated so that MeasureGrainSizeUm returns the requested size.
constexpr double kCellAreaPerIntercept2 = 1.50;
// Data bar height as a share of the image height.
constexpr double kBarFraction = 0.085;
// MeasureGrainSizeUm: ridge threshold as a share of the 95th percentile ridge response.
constexpr float kRidgeShare = 0.3f;
// Micrograph gray levels.
constexpr float kPoreLevel = 0.07f;
constexpr float kGapLevel = 0.13f;
constexpr float kSubstrateTexture = 0.10f;

constexpr double kPi = 3.14159265358979323846;

float Clamp01(float v) { return std::min(1.0f, std::max(0.0f, v)); }

// A Voronoi seed: position (pixels), SE yield and topographic tilt (gray level per pixel).
struct Seed {
  float x = 0, y = 0;
  float base = 0;
  float gx = 0, gy = 0;
  bool in_cluster = true;  // agglomeration only: the particle belongs to an agglomerate
};

// Seeds on a stratified grid (one uniform point per cell of side `spacing`) covering the
// micrograph plus a two-cell margin, so that the 5x5 cell neighbourhood of any pixel holds
// its two nearest seeds.
class SeedGrid {
 public:
  SeedGrid(int width, int height, double spacing, Rng& rng) : spacing_(spacing) {
    origin_ = -2.0 * spacing;
    nx_ = static_cast<int>(std::ceil(width / spacing)) + 4;
    ny_ = static_cast<int>(std::ceil(height / spacing)) + 4;
    seeds_.resize(static_cast<size_t>(nx_) * ny_);
    for (int j = 0; j < ny_; ++j) {
      for (int i = 0; i < nx_; ++i) {
        Seed& s = seeds_[static_cast<size_t>(j) * nx_ + i];
        s.x = static_cast<float>(origin_ + (i + Uniform01(rng)) * spacing);
        s.y = static_cast<float>(origin_ + (j + Uniform01(rng)) * spacing);
        s.base = static_cast<float>(std::clamp(0.50 + 0.07 * Normal(rng), 0.30, 0.72));
        const double tilt = 0.05 / spacing;
        s.gx = static_cast<float>(tilt * Normal(rng));
        s.gy = static_cast<float>(tilt * Normal(rng));
      }
    }
  }

  std::vector<Seed>& seeds() { return seeds_; }

  // Nearest seed index to (x, y) and the distance from (x, y) to the bisector between the
  // nearest and the second nearest seed (the distance to the grain boundary).
  void Nearest(float x, float y, int* nearest, float* boundary_distance) const {
    const int ci = static_cast<int>((x - origin_) / spacing_);
    const int cj = static_cast<int>((y - origin_) / spacing_);
    float d1 = 1e30f, d2 = 1e30f;
    int i1 = -1, i2 = -1;
    for (int j = std::max(0, cj - 2); j <= std::min(ny_ - 1, cj + 2); ++j) {
      for (int i = std::max(0, ci - 2); i <= std::min(nx_ - 1, ci + 2); ++i) {
        const int idx = j * nx_ + i;
        const float dx = seeds_[idx].x - x, dy = seeds_[idx].y - y;
        const float d = dx * dx + dy * dy;
        if (d < d1) {
          d2 = d1;
          i2 = i1;
          d1 = d;
          i1 = idx;
        } else if (d < d2) {
          d2 = d;
          i2 = idx;
        }
      }
    }
    *nearest = i1;
    if (i2 < 0) {
      *boundary_distance = 1e6f;
      return;
    }
    const float sx = seeds_[i2].x - seeds_[i1].x, sy = seeds_[i2].y - seeds_[i1].y;
    const float sep = std::sqrt(sx * sx + sy * sy);
    *boundary_distance = sep > 0 ? (d2 - d1) / (2.0f * sep) : 0.0f;
  }

 private:
  double spacing_;
  double origin_;
  int nx_ = 0, ny_ = 0;
  std::vector<Seed> seeds_;
};

// An irregular polygon around (cx, cy) with mean radius r (relative jitter `jitter`).
std::vector<cv::Point> IrregularPolygon(double cx, double cy, double r, double jitter, int vertices,
                                        Rng& rng) {
  std::vector<cv::Point> poly;
  const double phase = Uniform(rng, 0, 2 * kPi);
  for (int k = 0; k < vertices; ++k) {
    const double a = phase + 2 * kPi * (k + Uniform(rng, -0.3, 0.3)) / vertices;
    const double rr = r * (1.0 + Uniform(rng, -jitter, jitter));
    poly.emplace_back(static_cast<int>(std::lround(cx + rr * std::cos(a))),
                      static_cast<int>(std::lround(cy + rr * std::sin(a))));
  }
  return poly;
}

// Euclidean distance of every pixel to the nearest pixel where `mask` == 0 (0 there).
cv::Mat1f DistanceToZero(const cv::Mat1b& mask) {
  cv::Mat1f dist;
  cv::distanceTransform(mask, dist, cv::DIST_L2, cv::DIST_MASK_PRECISE);
  return dist;
}

// Draws pores (filled ellipses) into `pores` until `target` of the pixels in `region`
// (or of the whole image if region is empty) are pores, or `max_pores` are drawn. Pore
// semi-axes are `mean_axis` * U(0.6, 1.4); pores are pushed toward grain boundaries
// (`boundary` distance map). Returns nothing; the mask records the result.
void DrawPores(cv::Mat1b& pores, const cv::Mat1f& boundary, double target, double mean_axis,
               const cv::Rect& region, double region_cx, double region_cy, double region_r,
               int max_pores, Rng& rng) {
  const bool disc = region_r > 0;
  const double region_area =
      disc ? kPi * region_r * region_r : static_cast<double>(region.width) * region.height;
  const auto covered_in = [&](const cv::Rect& box) {
    return cv::countNonZero(pores(box & cv::Rect(0, 0, pores.cols, pores.rows)));
  };
  double covered = disc ? 0.0 : static_cast<double>(cv::countNonZero(pores));
  for (int n = 0; n < max_pores && covered < target * region_area; ++n) {
    double x = 0, y = 0;
    // Prefer boundaries: up to 4 tries to land within a third of an axis of one.
    for (int attempt = 0; attempt < 4; ++attempt) {
      if (disc) {
        const double rr = region_r * std::sqrt(Uniform01(rng));
        const double a = Uniform(rng, 0, 2 * kPi);
        x = region_cx + rr * std::cos(a);
        y = region_cy + rr * std::sin(a);
      } else {
        x = Uniform(rng, region.x, region.x + region.width);
        y = Uniform(rng, region.y, region.y + region.height);
      }
      const int xi = std::clamp(static_cast<int>(x), 0, boundary.cols - 1);
      const int yi = std::clamp(static_cast<int>(y), 0, boundary.rows - 1);
      if (boundary(yi, xi) < 0.35 * mean_axis) break;
    }
    const double a = std::max(1.0, mean_axis * Uniform(rng, 0.6, 1.4));
    const double b = std::max(1.0, a * Uniform(rng, 0.45, 1.0));
    const double angle = Uniform(rng, 0, 180);
    const int reach = static_cast<int>(std::ceil(a)) + 2;
    const cv::Rect box(static_cast<int>(x) - reach, static_cast<int>(y) - reach, 2 * reach + 1,
                       2 * reach + 1);
    const int before = covered_in(box);
    cv::ellipse(pores, cv::Point2d(x, y), cv::Size2d(a, b), angle, 0, 360, cv::Scalar(255),
                cv::FILLED, cv::LINE_8);
    covered += covered_in(box) - before;
  }
}

// A jagged crack: a random walk of segments about one grain long from one edge across the
// field, drawn into `mask` with an opening that narrows toward the tip.
void DrawCrack(cv::Mat1b& mask, double grain_px, Rng& rng) {
  const int w = mask.cols, h = mask.rows;
  const bool horizontal = Uniform01(rng) < 0.5;
  double x, y, heading;
  if (horizontal) {
    x = -2;
    y = Uniform(rng, 0.2 * h, 0.8 * h);
    heading = Uniform(rng, -0.35, 0.35);
  } else {
    x = Uniform(rng, 0.2 * w, 0.8 * w);
    y = -2;
    heading = kPi / 2 + Uniform(rng, -0.35, 0.35);
  }
  const double main_heading = heading;
  const double max_width = std::clamp(0.18 * grain_px, 2.0, 6.0);
  const int max_steps = 8 * (w + h);
  for (int step = 0; step < max_steps; ++step) {
    const double len = std::max(3.0, grain_px * Uniform(rng, 0.4, 1.0));
    heading =
        main_heading + std::clamp(heading - main_heading + Uniform(rng, -0.9, 0.9), -0.9, 0.9);
    const double nx = x + len * std::cos(heading), ny = y + len * std::sin(heading);
    const double progress = horizontal ? nx / w : ny / h;
    const int thickness = std::max(
        1, static_cast<int>(std::lround(max_width * (1.0 - 0.6 * std::clamp(progress, 0.0, 1.0)))));
    cv::line(mask, cv::Point2d(x, y), cv::Point2d(nx, ny), cv::Scalar(255), thickness, cv::LINE_8);
    x = nx;
    y = ny;
    if (x < -4 || y < -4 || x > w + 4 || y > h + 4) break;
  }
}

std::string FormatMagnification(double mag) {
  if (mag >= 100) return absl::StrCat("x", static_cast<int64_t>(std::llround(mag)));
  return absl::StrFormat("x%.3g", mag);
}

std::string FormatLength(double um) {
  if (um < 1.0) return absl::StrFormat("%.0f nm", um * 1000.0);
  if (um >= 1000.0) return absl::StrFormat("%.0f mm", um / 1000.0);
  return absl::StrFormat("%.0f um", um);
}

// The largest 1-2-5 length (um) whose bar is at most `max_px` pixels long.
double ScaleBarLength(double pixel_size_um, double max_px) {
  double best = 0;
  for (int exp10 = -3; exp10 <= 4; ++exp10) {
    for (double mantissa : {1.0, 2.0, 5.0}) {
      const double len = mantissa * std::pow(10.0, exp10);
      if (len / pixel_size_um <= max_px) best = len;
    }
  }
  return best;
}

// Renders the data bar (black, white text and scale bar) into a width x bar_rows 8-bit image.
cv::Mat1b RenderBar(int width, int bar_rows, const SemInfo& info) {
  cv::Mat1b bar(bar_rows, width, static_cast<unsigned char>(0));
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  const std::string line1 =
      absl::StrFormat("SEM HV: %.1f kV  WD: %.1f mm", info.voltage_kv, info.working_distance_mm);
  const std::string line2 =
      absl::StrCat("MAG: ", FormatMagnification(info.magnification), "  Det: SE");
  // Two text lines in the left 62% of the width, each about 26% of the bar high.
  int baseline = 0;
  const cv::Size unit = cv::getTextSize(line1, font, 1.0, 1, &baseline);
  double scale = 0.26 * bar_rows / std::max(1, unit.height);
  scale = std::min(scale, 0.60 * width / std::max(1, unit.width));
  const int margin = std::max(2, bar_rows / 8);
  const int left = std::max(2, width / 64);
  const int text_h = std::max(1, static_cast<int>(std::lround(unit.height * scale)));
  const int y1 = margin + text_h;
  const int y2 = std::min(bar_rows - margin, y1 + text_h + std::max(2, bar_rows / 6));
  cv::putText(bar, line1, cv::Point(left, y1), font, scale, cv::Scalar(255), 1, cv::LINE_AA);
  cv::putText(bar, line2, cv::Point(left, y2), font, scale, cv::Scalar(255), 1, cv::LINE_AA);
  // The scale bar in the right part: its label above a 3-row white line.
  const int bar_right = width - std::max(4, width / 40);
  const int bar_left = bar_right - info.scale_bar_px;
  const int line_y = bar_rows - margin - 3;
  cv::rectangle(bar, cv::Point(bar_left, line_y), cv::Point(bar_right - 1, line_y + 2),
                cv::Scalar(255), cv::FILLED, cv::LINE_8);
  const std::string label = FormatLength(info.scale_bar_um);
  const cv::Size label_size = cv::getTextSize(label, font, scale, 1, &baseline);
  const int label_x = (bar_left + bar_right) / 2 - label_size.width / 2;
  cv::putText(bar, label, cv::Point(label_x, line_y - std::max(2, bar_rows / 10)), font, scale,
              cv::Scalar(255), 1, cv::LINE_AA);
  return bar;
}

struct Canvas {
  cv::Mat1f gray;      // micrograph gray levels
  cv::Mat1f boundary;  // distance to the nearest grain / particle boundary, px; -1 in gaps
};

absl::StatusOr<imaging::Image> RenderSemImpl(const SemParams& params, Rng& rng, SemInfo* info) {
  const int width = params.width;
  const int bar_rows = std::max(16, static_cast<int>(std::lround(kBarFraction * params.height)));
  const int rows = params.height - bar_rows;

  SemInfo out;
  out.micrograph_rows = rows;
  if (params.pixel_size_um > 0) {
    out.pixel_size_um = params.pixel_size_um;
    const double mag = kReferenceDisplayWidthUm / (params.pixel_size_um * width);
    out.magnification = std::stod(absl::StrFormat("%.3g", mag));
  } else {
    out.magnification = ChooseMagnification(params.grain_size_um, width);
    out.pixel_size_um = kReferenceDisplayWidthUm / (out.magnification * width);
  }
  static constexpr std::array<double, 5> kVoltages = {5.0, 10.0, 15.0, 20.0, 25.0};
  out.voltage_kv = kVoltages[UniformIndex(rng, kVoltages.size())];
  out.working_distance_mm = std::round(Uniform(rng, 4.0, 15.0) * 10.0) / 10.0;
  out.scale_bar_um = ScaleBarLength(out.pixel_size_um, 0.22 * width);
  out.scale_bar_px = static_cast<int>(std::lround(out.scale_bar_um / out.pixel_size_um));

  const double grain_px = params.grain_size_um / out.pixel_size_um;
  const double spacing = std::sqrt(kCellAreaPerIntercept2) * grain_px;
  SeedGrid grid(width, rows, spacing, rng);
  std::vector<Seed>& seeds = grid.seeds();

  // Agglomeration: particles grouped into agglomerates covering ~50-70% of the field.
  if (params.defect == Defect::kAgglomeration) {
    struct Cluster {
      double x, y, r;
    };
    std::vector<Cluster> clusters;
    const double coverage = Uniform(rng, 0.5, 0.7);
    int inside = 0, total = 0;
    for (Seed& s : seeds) s.in_cluster = false;
    for (const Seed& s : seeds) total += s.x >= 0 && s.y >= 0 && s.x < width && s.y < rows;
    for (int k = 0; k < 400 && inside < coverage * total; ++k) {
      const Cluster c{Uniform(rng, 0, width), Uniform(rng, 0, rows),
                      spacing * Uniform(rng, 1.8, 3.5)};
      clusters.push_back(c);
      for (Seed& s : seeds) {
        if (s.in_cluster) continue;
        const double dx = s.x - c.x, dy = s.y - c.y;
        if (dx * dx + dy * dy < c.r * c.r) {
          s.in_cluster = true;
          inside += s.x >= 0 && s.y >= 0 && s.x < width && s.y < rows;
        }
      }
    }
  }

  // Abnormal grain growth: 1-3 giant grains, 5-10 matrix grains across.
  cv::Mat1b giant(rows, width, static_cast<unsigned char>(0));
  struct Giant {
    double x, y, base, gx, gy;
  };
  std::vector<Giant> giants;
  if (params.defect == Defect::kAbnormalGrainGrowth) {
    const int wanted = 1 + static_cast<int>(UniformIndex(rng, 3));
    std::vector<std::array<double, 3>> placed;
    for (int attempt = 0; attempt < 30 && static_cast<int>(giants.size()) < wanted; ++attempt) {
      double r = 0.5 * Uniform(rng, 5.0, 10.0) * grain_px * 1.3;
      r = std::min(r, 0.3 * std::min(width, rows));
      const double x = Uniform(rng, 0.15 * width, 0.85 * width);
      const double y = Uniform(rng, 0.15 * rows, 0.85 * rows);
      bool overlaps = false;
      for (const auto& p : placed) {
        overlaps |= std::hypot(p[0] - x, p[1] - y) < 1.1 * (p[2] + r);
      }
      if (overlaps) continue;
      placed.push_back({x, y, r});
      const int id = static_cast<int>(giants.size()) + 1;
      std::vector<std::vector<cv::Point>> poly = {IrregularPolygon(x, y, r, 0.18, 7, rng)};
      cv::fillPoly(giant, poly, cv::Scalar(id), cv::LINE_8);
      const double tilt = 0.05 / r;
      giants.push_back({x, y, std::clamp(0.52 + 0.07 * Normal(rng), 0.35, 0.72), tilt * Normal(rng),
                        tilt * Normal(rng)});
    }
  }
  cv::Mat1f giant_in, giant_out;
  if (!giants.empty()) {
    cv::Mat1b inside_mask = giant > 0;
    giant_in = DistanceToZero(inside_mask);
    giant_out = DistanceToZero(255 - inside_mask);
  }

  // Grains.
  Canvas canvas;
  canvas.gray.create(rows, width);
  canvas.boundary.create(rows, width);
  const float edge_amp = static_cast<float>(Uniform(rng, 0.30, 0.42));
  const float edge_w = static_cast<float>(std::clamp(0.05 * spacing, 1.1, 2.0));
  const float gap_px = static_cast<float>(std::clamp(0.08 * spacing, 1.0, 4.0));
  const bool agglomerate = params.defect == Defect::kAgglomeration;
  // The substrate seen through the gaps between agglomerates: mottled, not flat (a flat
  // dark row would also look like a second data bar).
  cv::Mat1f substrate;
  if (agglomerate) {
    cv::Mat1f coarse(rows / 6 + 2, width / 6 + 2);
    for (float& v : coarse) v = static_cast<float>(Uniform(rng, -1.0, 1.0));
    cv::resize(coarse, substrate, cv::Size(width, rows), 0, 0, cv::INTER_LINEAR);
  }
  for (int y = 0; y < rows; ++y) {
    float* g = canvas.gray[y];
    float* bd = canvas.boundary[y];
    for (int x = 0; x < width; ++x) {
      const float px = x + 0.5f, py = y + 0.5f;
      int nearest = 0;
      float b = 0;
      grid.Nearest(px, py, &nearest, &b);
      const Seed& s = seeds[nearest];
      float v;
      if (!giants.empty() && giant(y, x) > 0) {
        const Giant& gg = giants[giant(y, x) - 1];
        b = giant_in(y, x);
        v = static_cast<float>(gg.base + gg.gx * (px - gg.x) + gg.gy * (py - gg.y));
      } else {
        if (!giants.empty()) b = std::min(b, giant_out(y, x));
        v = s.base + s.gx * (px - s.x) + s.gy * (py - s.y);
      }
      if (agglomerate) {
        if (!s.in_cluster || b < gap_px) {
          g[x] = kGapLevel + kSubstrateTexture * substrate(y, x);
          bd[x] = -1;  // marks the gap
          continue;
        }
        b -= gap_px;
      }
      g[x] = v + edge_amp * std::exp(-b / edge_w);
      bd[x] = b;
    }
  }

  // Pores, pore cluster, crack and inclusion masks.
  cv::Mat1b pores(rows, width, static_cast<unsigned char>(0));
  const cv::Rect field(0, 0, width, rows);
  const double pore_axis = grain_px * Uniform(rng, 0.18, 0.3) * (1.0 + 1.5 * params.porosity);
  const int max_pores = 200000;
  if (params.defect == Defect::kPoreCluster) {
    const double r = std::min(grain_px * Uniform(rng, 3.5, 5.5), 0.22 * std::min(width, rows));
    const double cx = Uniform(rng, r, width - r), cy = Uniform(rng, r, rows - r);
    DrawPores(pores, canvas.boundary, 0.4, std::max(1.5, 0.6 * pore_axis), field, cx, cy, r,
              max_pores, rng);
  }
  DrawPores(pores, canvas.boundary, params.porosity, pore_axis, field, 0, 0, 0, max_pores, rng);
  out.pore_fraction = static_cast<double>(cv::countNonZero(pores)) / (double(rows) * width);

  cv::Mat1b dark = pores.clone();
  if (params.defect == Defect::kCrack) DrawCrack(dark, grain_px, rng);

  cv::Mat1b inclusion(rows, width, static_cast<unsigned char>(0));
  float inclusion_level = 0;
  if (params.defect == Defect::kInclusion) {
    const double r = std::min(grain_px * Uniform(rng, 1.5, 3.0), 0.2 * std::min(width, rows));
    const double cx = Uniform(rng, r + 4, width - r - 4), cy = Uniform(rng, r + 4, rows - r - 4);
    std::vector<std::vector<cv::Point>> poly = {
        IrregularPolygon(cx, cy, std::max(6.0, r), 0.25, 9, rng)};
    cv::fillPoly(inclusion, poly, cv::Scalar(255), cv::LINE_8);
    inclusion_level = static_cast<float>(Uniform(rng, 0.86, 0.95));
  }

  // Dark features with bright rims (SE edge effect), then the inclusion with a debonding gap.
  {
    const cv::Mat1f to_dark = DistanceToZero(255 - dark);
    for (int y = 0; y < rows; ++y) {
      float* g = canvas.gray[y];
      const float* bd = canvas.boundary[y];
      for (int x = 0; x < width; ++x) {
        if (dark(y, x)) {
          g[x] = kPoreLevel;
        } else if (bd[x] >= 0) {
          g[x] += 0.18f * std::exp(-(to_dark(y, x) - 1.0f) / 1.2f) * (to_dark(y, x) < 5.0f);
        }
      }
    }
  }
  if (params.defect == Defect::kInclusion) {
    const cv::Mat1f in = DistanceToZero(inclusion);
    const cv::Mat1f out_dist = DistanceToZero(255 - inclusion);
    for (int y = 0; y < rows; ++y) {
      float* g = canvas.gray[y];
      for (int x = 0; x < width; ++x) {
        if (inclusion(y, x)) {
          g[x] = inclusion_level + 0.05f * std::exp(-in(y, x) / 2.0f);
        } else if (out_dist(y, x) <= 1.5f) {
          g[x] = 0.15f;
        }
      }
    }
  }

  // Detector: uneven illumination, beam blur, shot noise, scan-line jitter, slight blur.
  {
    const double gdir = Uniform(rng, 0, 2 * kPi);
    const double gamp = Uniform(rng, 0.0, 0.06);
    const double cx = std::cos(gdir) / width, cy = std::sin(gdir) / rows;
    for (int y = 0; y < rows; ++y) {
      float* g = canvas.gray[y];
      for (int x = 0; x < width; ++x) {
        g[x] *= static_cast<float>(1.0 + gamp * ((x - width / 2) * cx + (y - rows / 2) * cy));
      }
    }
  }
  cv::GaussianBlur(canvas.gray, canvas.gray, cv::Size(0, 0), 0.7, 0.7, cv::BORDER_REFLECT);
  const double electrons = Uniform(rng, 80.0, 300.0);  // SE counts per pixel at gray 1
  for (int y = 0; y < rows; ++y) {
    float* g = canvas.gray[y];
    const float line_offset = static_cast<float>(0.01 * Normal(rng));
    for (int x = 0; x < width; ++x) {
      const double mean = std::max(0.0f, g[x]);
      g[x] = static_cast<float>(mean + std::sqrt((mean + 0.002) / electrons) * Normal(rng)) +
             line_offset;
    }
  }
  cv::GaussianBlur(canvas.gray, canvas.gray, cv::Size(0, 0), 0.5, 0.5, cv::BORDER_REFLECT);

  // Compose micrograph and data bar.
  imaging::Image image;
  image.width = width;
  image.height = params.height;
  image.pixels.resize(static_cast<size_t>(width) * params.height);
  for (int y = 0; y < rows; ++y) {
    const float* g = canvas.gray[y];
    float* dst = image.pixels.data() + static_cast<size_t>(y) * width;
    for (int x = 0; x < width; ++x) dst[x] = Clamp01(g[x]);
  }
  const cv::Mat1b bar = RenderBar(width, bar_rows, out);
  for (int y = 0; y < bar_rows; ++y) {
    const unsigned char* src = bar[y];
    float* dst = image.pixels.data() + static_cast<size_t>(rows + y) * width;
    for (int x = 0; x < width; ++x) dst[x] = src[x] / 255.0f;
  }
  if (info != nullptr) *info = out;
  return image;
}

}  // namespace

const std::vector<Defect>& AllDefects() {
  static const std::vector<Defect>* const kAll =
      new std::vector<Defect>{Defect::kNone,
                              Defect::kCrack,
                              Defect::kPoreCluster,
                              Defect::kInclusion,
                              Defect::kAbnormalGrainGrowth,
                              Defect::kAgglomeration};
  return *kAll;
}

absl::string_view DefectName(Defect defect) {
  switch (defect) {
    case Defect::kNone:
      return "none";
    case Defect::kCrack:
      return "crack";
    case Defect::kPoreCluster:
      return "pore_cluster";
    case Defect::kInclusion:
      return "inclusion";
    case Defect::kAbnormalGrainGrowth:
      return "abnormal_grain_growth";
    case Defect::kAgglomeration:
      return "agglomeration";
  }
  return "unknown";
}

absl::StatusOr<Defect> ParseDefect(absl::string_view name) {
  for (Defect d : AllDefects()) {
    if (DefectName(d) == name) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown defect class '", name,
      "' (expected none, crack, pore_cluster, inclusion, abnormal_grain_growth, agglomeration)"));
}

absl::Status SemParams::Validate() const {
  if (!std::isfinite(grain_size_um) || grain_size_um < 0.01 || grain_size_um > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("SemParams.grain_size_um must be in [0.01, 1000], got ", grain_size_um));
  }
  if (!std::isfinite(porosity) || porosity < 0 || porosity > 0.6) {
    return absl::InvalidArgumentError(
        absl::StrCat("SemParams.porosity must be in [0, 0.6], got ", porosity));
  }
  if (static_cast<int>(defect) < 0 ||
      static_cast<int>(defect) > static_cast<int>(Defect::kAgglomeration)) {
    return absl::InvalidArgumentError(
        absl::StrCat("SemParams.defect has no defect class: ", static_cast<int>(defect)));
  }
  if (width < 128 || width > 4096 || height < 128 || height > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(
        "SemParams width and height must be in [128, 4096], got ", width, " x ", height));
  }
  if (!std::isfinite(pixel_size_um) || pixel_size_um < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("SemParams.pixel_size_um must be 0 (automatic) or > 0, got ", pixel_size_um));
  }
  if (pixel_size_um > 0) {
    const double grain_px = grain_size_um / pixel_size_um;
    if (grain_px < 2 || grain_px > 200) {
      return absl::InvalidArgumentError(absl::StrCat(
          "SemParams: grain_size_um / pixel_size_um must be in [2, 200] pixels, got ", grain_px));
    }
  }
  return absl::OkStatus();
}

double ChooseMagnification(double grain_size_um, int width) {
  double best = 10, best_err = 1e300;
  for (double decade = 10; decade <= 100000 * 1.01; decade *= 10) {
    for (double mantissa : {1.0, 2.0, 5.0}) {
      const double mag = mantissa * decade;
      const double px = grain_size_um / (kReferenceDisplayWidthUm / (mag * width));
      const double err = std::fabs(std::log(px / kTargetGrainPx));
      if (err < best_err) {
        best_err = err;
        best = mag;
      }
    }
  }
  return best;
}

absl::StatusOr<imaging::Image> RenderSem(const SemParams& params, Rng& rng, SemInfo* info) {
  MATALIGN_RETURN_IF_ERROR(params.Validate());
  try {
    return RenderSemImpl(params, rng, info);
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("RenderSem: OpenCV failed: ", e.what()));
  }
}

absl::StatusOr<double> MeasureGrainSizeUm(const imaging::Image& image, double pixel_size_um) {
  MATALIGN_RETURN_IF_ERROR(imaging::ValidateImage(image, "MeasureGrainSizeUm"));
  if (!std::isfinite(pixel_size_um) || pixel_size_um <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("MeasureGrainSizeUm: pixel_size_um must be > 0, got ", pixel_size_um));
  }
  MATALIGN_ASSIGN_OR_RETURN(const imaging::DataBar bar, imaging::DetectDataBar(image));
  MATALIGN_ASSIGN_OR_RETURN(const imaging::Image micrograph, imaging::RemoveDataBar(image, bar));
  if (micrograph.width < 16 || micrograph.height < 16) {
    return absl::InvalidArgumentError(absl::StrCat("MeasureGrainSizeUm: micrograph part is ",
                                                   micrograph.width, " x ", micrograph.height,
                                                   " pixels, need at least 16 x 16"));
  }
  try {
    cv::Mat1f src(micrograph.height, micrograph.width);
    std::copy(micrograph.pixels.begin(), micrograph.pixels.end(), src.begin());
    cv::Mat1f smooth;
    cv::GaussianBlur(src, smooth, cv::Size(0, 0), 1.0, 1.0, cv::BORDER_REFLECT);

    // Ridge response along rows and columns: v(i) - (v(i - w) + v(i + w)) / 2.
    constexpr int kW = 3;
    constexpr int kStep = 4;
    std::vector<std::vector<float>> lines;
    for (int y = kStep / 2; y < smooth.rows; y += kStep) {
      lines.emplace_back(smooth[y], smooth[y] + smooth.cols);
    }
    for (int x = kStep / 2; x < smooth.cols; x += kStep) {
      std::vector<float> col(smooth.rows);
      for (int y = 0; y < smooth.rows; ++y) col[y] = smooth(y, x);
      lines.push_back(std::move(col));
    }
    std::vector<float> all;
    for (const auto& v : lines) all.insert(all.end(), v.begin(), v.end());
    auto mid = all.begin() + all.size() / 2;
    std::nth_element(all.begin(), mid, all.end());
    const float median_level = *mid;
    const float dark_level = 0.5f * median_level;

    std::vector<std::vector<float>> ridges;
    for (const auto& v : lines) {
      std::vector<float> r(v.size(), 0.0f);
      for (size_t i = kW; i + kW < v.size(); ++i) {
        r[i] = v[i] - 0.5f * (v[i - kW] + v[i + kW]);
      }
      ridges.push_back(std::move(r));
    }
    // Ridges are runs above a share of the 95th percentile of the response (the boundary
    // peaks; they are 10-25% of the line pixels at 12-32 px grains).
    std::vector<float> signed_r;
    for (const auto& r : ridges) signed_r.insert(signed_r.end(), r.begin(), r.end());
    auto p95 = signed_r.begin() + static_cast<std::ptrdiff_t>(0.95 * signed_r.size());
    std::nth_element(signed_r.begin(), p95, signed_r.end());
    const float threshold = kRidgeShare * *p95;
    if (!(threshold > 0)) {
      return absl::FailedPreconditionError(
          "MeasureGrainSizeUm: no grain boundary found in the micrograph");
    }
    // Grain segments: stretches between ridges that are mostly solid (not pore); the two
    // stretches at the ends of a line count half.
    double solid_px = 0;
    double grains = 0;
    for (size_t l = 0; l < lines.size(); ++l) {
      const auto& v = lines[l];
      const auto& r = ridges[l];
      int seg_len = 0, seg_solid = 0;
      bool first = true, in_ridge = false;
      auto close_segment = [&](bool at_end) {
        if (seg_len > 0 && 2 * seg_solid > seg_len) grains += (first || at_end) ? 0.5 : 1.0;
        first = false;
        seg_len = seg_solid = 0;
      };
      for (size_t i = 0; i < v.size(); ++i) {
        const bool solid = v[i] >= dark_level;
        solid_px += solid;
        const bool ridge = r[i] > threshold;
        if (ridge && !in_ridge) close_segment(false);
        if (!ridge) {
          ++seg_len;
          seg_solid += solid;
        }
        in_ridge = ridge;
      }
      close_segment(true);
    }
    if (grains <= 0) {
      return absl::FailedPreconditionError(
          "MeasureGrainSizeUm: no grain boundary found in the micrograph");
    }
    return solid_px / grains * pixel_size_um;
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("MeasureGrainSizeUm: OpenCV failed: ", e.what()));
  }
}

}  // namespace matalign::corpus
