#include "eval/plot.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <new>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "opencv2/core.hpp"
#include "opencv2/imgcodecs.hpp"
#include "opencv2/imgproc.hpp"

namespace matalign::eval {
namespace {

// ---- Primitives ---------------------------------------------------------------------------
// Every plot is laid out once, in canvas coordinates (origin top left, y down, 800x500), as a
// list of primitives; RenderSvg and the PNG writer are two small interpreters of that list.

constexpr int kWidth = 800;
constexpr int kHeight = 500;

struct Color {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;
};

constexpr Color kWhite{255, 255, 255};
constexpr Color kAxis{60, 60, 60};
constexpr Color kGrid{225, 225, 225};
constexpr Color kText{30, 30, 30};

// matplotlib's tab10 and two of tab20b, distinct on white and in grey print.
constexpr Color kPalette[12] = {
    {31, 119, 180},  {255, 127, 14}, {44, 160, 44},   {214, 39, 40},
    {148, 103, 189}, {140, 86, 75},  {227, 119, 194}, {127, 127, 127},
    {188, 189, 34},  {23, 190, 207}, {57, 59, 121},   {99, 121, 57},
};

Color PaletteColor(size_t i) { return kPalette[i % 12]; }

// An open polyline: an axis or grid segment, or (`curve`) a run of a data series, which the
// SVG keeps as one <polyline> however few its points.
struct Line {
  std::vector<std::pair<double, double>> points;
  Color color;
  double width = 1;
  bool curve = false;
};
struct Circle {
  double cx = 0;
  double cy = 0;
  double r = 0;
  Color fill;
};
struct Rect {
  double x = 0;
  double y = 0;
  double w = 0;
  double h = 0;
  Color fill;
};
enum class Anchor { kStart, kMiddle, kEnd };
// Text whose baseline starts at / is centred on / ends at (x, y); `vertical` turns it 90
// degrees counter-clockwise about (x, y) (a y-axis label, read bottom to top).
struct Text {
  double x = 0;
  double y = 0;
  std::string text;
  double size = 12;  // font size in pixels
  Anchor anchor = Anchor::kStart;
  bool bold = false;
  bool vertical = false;
  Color color = kText;
};
using Primitive = std::variant<Line, Circle, Rect, Text>;
using Figure = std::vector<Primitive>;

// ---- Axes ---------------------------------------------------------------------------------

// The data rectangle on the canvas.
struct Frame {
  double left = 70;
  double top = 45;
  double right = kWidth - 30;
  double bottom = kHeight - 55;
};

constexpr double kLegendWidth = 160;
constexpr double kLegendRow = 18;
constexpr double kTitleSize = 18;
constexpr double kLabelSize = 14;
constexpr double kTickSize = 11;
constexpr double kLegendSize = 12;
constexpr double kValueSize = 10;
// Pixel coordinates are clamped to this range so that absurd data cannot overflow OpenCV's
// integer points.
constexpr double kMaxCoordinate = 1e5;

double Clamp(double v) { return std::clamp(v, -kMaxCoordinate, kMaxCoordinate); }

// A numeric axis: data interval [lo, hi] (log10 units when `log`) and its ticks.
struct Axis {
  double lo = 0;
  double hi = 1;
  bool log = false;
  std::vector<double> ticks;  // in data units (not log10)
  double step = 1;            // tick spacing, for label precision (linear axes)
};

// The "nice number" (1, 2 or 5 times a power of ten) nearest to x > 0 on a log scale
// (Heckbert, Graphics Gems I).
double NiceNumber(double x) {
  const double exponent = std::floor(std::log10(x));
  const double fraction = x / std::pow(10.0, exponent);
  const double nice = fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10;
  return nice * std::pow(10.0, exponent);
}

// A linear axis spanning exactly [min, max], with ticks at the multiples of a nice step inside
// it: the step is the nice number nearest a fifth of the span, which gives 4 to 8 ticks. A
// degenerate interval is widened around its value.
Axis LinearAxis(double min, double max) {
  if (!(min <= max)) {  // no data: an arbitrary unit interval
    min = 0;
    max = 1;
  }
  if (max - min <= std::max(std::abs(min), std::abs(max)) * 1e-12) {
    const double pad = min == 0 ? 1 : std::abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  if (!std::isfinite(max - min)) {  // values near +-DBL_MAX: keep the arithmetic finite
    min /= 4;
    max /= 4;
  }
  Axis axis;
  axis.lo = min;
  axis.hi = max;
  axis.step = NiceNumber((max - min) / 5);
  const double first = std::ceil(min / axis.step - 1e-9);
  for (int i = 0; i <= 20; ++i) {
    double t = (first + i) * axis.step;
    if (t > max + axis.step * 1e-9) break;
    if (std::abs(t) < axis.step * 1e-9) t = 0;  // no "-0" or "1e-17"
    axis.ticks.push_back(t);
  }
  return axis;
}

// A logarithmic axis over positive [min, max], ending on powers of ten, with a tick on every
// decade (or every few decades when there are many).
Axis LogAxis(double min, double max) {
  if (!(min > 0 && min <= max)) {
    min = 1;
    max = 10;
  }
  Axis axis;
  axis.log = true;
  axis.lo = std::floor(std::log10(min));
  axis.hi = std::ceil(std::log10(max));
  if (axis.hi <= axis.lo) axis.hi = axis.lo + 1;
  const int decades = static_cast<int>(axis.hi - axis.lo);
  const int every = std::max(1, (decades + 5) / 6);
  for (int e = 0; e <= decades; e += every) axis.ticks.push_back(std::pow(10.0, axis.lo + e));
  return axis;
}

// Position in [0, 1] of data value v along the axis.
double Fraction(const Axis& axis, double v) {
  const double t = axis.log ? std::log10(v) : v;
  return (t - axis.lo) / (axis.hi - axis.lo);
}

std::string TickLabel(const Axis& axis, double v) {
  if (axis.log) return absl::StrFormat("%g", v);
  const double magnitude = std::max(std::abs(axis.lo), std::abs(axis.hi));
  if (axis.step >= 1e-4 && magnitude < 1e7) {
    const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(axis.step) + 1e-9)));
    return absl::StrFormat("%.*f", decimals, v);
  }
  return absl::StrFormat("%.3g", v);
}

// `text` cut to at most `max_chars` characters, ending in "..." when cut.
std::string Truncate(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  if (max_chars <= 3) return text.substr(0, max_chars);
  size_t cut = max_chars - 3;
  // Do not split a UTF-8 sequence: back up over continuation bytes.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

// Maps data to canvas coordinates inside a frame.
struct Mapper {
  Frame frame;
  Axis x;
  Axis y;
  double X(double v) const {
    return Clamp(frame.left + Fraction(x, v) * (frame.right - frame.left));
  }
  double Y(double v) const {
    return Clamp(frame.bottom - Fraction(y, v) * (frame.bottom - frame.top));
  }
};

void AddSegment(Figure& fig, double x1, double y1, double x2, double y2, Color color,
                double width) {
  fig.push_back(Line{{{x1, y1}, {x2, y2}}, color, width});
}

// Background, title and axis labels.
void AddChrome(Figure& fig, const Frame& frame, const std::string& title,
               const std::string& x_label, const std::string& y_label) {
  fig.push_back(Rect{0, 0, kWidth, kHeight, kWhite});
  if (!title.empty()) {
    fig.push_back(Text{kWidth / 2.0, 28, title, kTitleSize, Anchor::kMiddle, true});
  }
  if (!x_label.empty()) {
    fig.push_back(Text{(frame.left + frame.right) / 2, frame.bottom + 44, x_label, kLabelSize,
                       Anchor::kMiddle});
  }
  if (!y_label.empty()) {
    Text t{18, (frame.top + frame.bottom) / 2, y_label, kLabelSize, Anchor::kMiddle};
    t.vertical = true;
    fig.push_back(t);
  }
}

// Grid lines and tick labels of the y axis (and of the x axis unless it is categorical, where
// m.x is unused), then the two axis lines.
void AddAxes(Figure& fig, const Mapper& m, bool x_ticks) {
  const Frame& f = m.frame;
  for (double t : m.y.ticks) {
    const double y = m.Y(t);
    AddSegment(fig, f.left, y, f.right, y, kGrid, 1);
    AddSegment(fig, f.left - 4, y, f.left, y, kAxis, 1);
    fig.push_back(Text{f.left - 7, y + 4, TickLabel(m.y, t), kTickSize, Anchor::kEnd});
  }
  if (x_ticks) {
    for (double t : m.x.ticks) {
      const double x = m.X(t);
      AddSegment(fig, x, f.top, x, f.bottom, kGrid, 1);
      AddSegment(fig, x, f.bottom, x, f.bottom + 4, kAxis, 1);
      fig.push_back(Text{x, f.bottom + 17, TickLabel(m.x, t), kTickSize, Anchor::kMiddle});
    }
  }
  AddSegment(fig, f.left, f.top, f.left, f.bottom, kAxis, 1);
  AddSegment(fig, f.left, f.bottom, f.right, f.bottom, kAxis, 1);
}

enum class Marker { kCircle, kLine, kSquare };

// A legend in the column right of the frame: one row per name in palette order; rows that do
// not fit are summarised as "+N more".
void AddLegend(Figure& fig, const Frame& frame, const std::vector<std::string>& names,
               Marker marker) {
  const double x = frame.right + 15;
  const size_t max_rows =
      static_cast<size_t>(std::max(1.0, std::floor((frame.bottom - frame.top) / kLegendRow)));
  const size_t shown = names.size() <= max_rows ? names.size() : max_rows - 1;
  const size_t max_chars = static_cast<size_t>((kLegendWidth - 40) / (0.6 * kLegendSize));
  for (size_t i = 0; i < shown; ++i) {
    const double y = frame.top + 8 + kLegendRow * static_cast<double>(i);
    const Color color = PaletteColor(i);
    switch (marker) {
      case Marker::kCircle:
        fig.push_back(Circle{x + 8, y, 4, color});
        break;
      case Marker::kLine:
        AddSegment(fig, x, y, x + 16, y, color, 2);
        break;
      case Marker::kSquare:
        fig.push_back(Rect{x + 2, y - 6, 12, 12, color});
        break;
    }
    fig.push_back(Text{x + 22, y + 4, Truncate(names[i], max_chars), kLegendSize});
  }
  if (shown < names.size()) {
    const double y = frame.top + 8 + kLegendRow * static_cast<double>(shown);
    fig.push_back(
        Text{x + 22, y + 4, absl::StrCat("+", names.size() - shown, " more"), kLegendSize});
  }
}

bool Finite(double x, double y) { return std::isfinite(x) && std::isfinite(y); }

// ---- Layouts ------------------------------------------------------------------------------
// These tolerate inconsistent input (shorter lengths are used) so that RenderSvg never fails;
// WritePlot rejects such input before rendering.

Figure Layout(const ScatterPlot& plot) {
  const size_t n = std::min(plot.x.size(), plot.y.size());
  const bool grouped = !plot.group.empty();
  // Group index of each point, in order of first appearance.
  std::vector<std::string> names;
  std::vector<size_t> group_of(n, 0);
  if (grouped) {
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0; i < n && i < plot.group.size(); ++i) {
      auto [it, added] = index.emplace(plot.group[i], names.size());
      if (added) names.push_back(plot.group[i]);
      group_of[i] = it->second;
    }
  }
  double x_min = std::numeric_limits<double>::infinity();
  double x_max = -x_min;
  double y_min = x_min;
  double y_max = -x_min;
  for (size_t i = 0; i < n; ++i) {
    if (!Finite(plot.x[i], plot.y[i])) continue;
    x_min = std::min(x_min, plot.x[i]);
    x_max = std::max(x_max, plot.x[i]);
    y_min = std::min(y_min, plot.y[i]);
    y_max = std::max(y_max, plot.y[i]);
  }
  // A little air so that extreme points are not drawn on the axis lines.
  const double x_pad = (x_max - x_min) * 0.04;
  const double y_pad = (y_max - y_min) * 0.04;
  Mapper m;
  if (!names.empty()) m.frame.right -= kLegendWidth;
  m.x = LinearAxis(x_min - x_pad, x_max + x_pad);
  m.y = LinearAxis(y_min - y_pad, y_max + y_pad);

  Figure fig;
  AddChrome(fig, m.frame, plot.title, plot.x_label, plot.y_label);
  AddAxes(fig, m, /*x_ticks=*/true);
  for (size_t i = 0; i < n; ++i) {
    if (!Finite(plot.x[i], plot.y[i])) continue;
    fig.push_back(Circle{m.X(plot.x[i]), m.Y(plot.y[i]), 3, PaletteColor(group_of[i])});
  }
  if (!names.empty()) AddLegend(fig, m.frame, names, Marker::kCircle);
  return fig;
}

// A point of a line plot that can be drawn.
bool Drawable(const LinePlot& plot, double x, double y) {
  return Finite(x, y) && (!plot.log_y || y > 0);
}

Figure Layout(const LinePlot& plot) {
  double x_min = std::numeric_limits<double>::infinity();
  double x_max = -x_min;
  double y_min = x_min;
  double y_max = -x_min;
  std::vector<std::string> names;
  bool named = false;
  for (const LineSeries& s : plot.series) {
    names.push_back(s.name);
    named = named || !s.name.empty();
    const size_t n = std::min(s.x.size(), s.y.size());
    for (size_t i = 0; i < n; ++i) {
      if (!Drawable(plot, s.x[i], s.y[i])) continue;
      x_min = std::min(x_min, s.x[i]);
      x_max = std::max(x_max, s.x[i]);
      y_min = std::min(y_min, s.y[i]);
      y_max = std::max(y_max, s.y[i]);
    }
  }
  Mapper m;
  if (named) m.frame.right -= kLegendWidth;
  m.x = LinearAxis(x_min, x_max);
  const double y_pad = (y_max - y_min) * 0.04;
  m.y = plot.log_y ? LogAxis(y_min, y_max) : LinearAxis(y_min - y_pad, y_max + y_pad);

  Figure fig;
  AddChrome(fig, m.frame, plot.title, plot.x_label, plot.y_label);
  AddAxes(fig, m, /*x_ticks=*/true);
  for (size_t k = 0; k < plot.series.size(); ++k) {
    const LineSeries& s = plot.series[k];
    const Color color = PaletteColor(k);
    const size_t n = std::min(s.x.size(), s.y.size());
    Line run{{}, color, 2, /*curve=*/true};
    auto flush = [&] {
      if (run.points.size() == 1) {  // an isolated point would be invisible as a line
        fig.push_back(Circle{run.points[0].first, run.points[0].second, 2.5, color});
      } else if (run.points.size() > 1) {
        fig.push_back(run);
      }
      run.points.clear();
    };
    for (size_t i = 0; i < n; ++i) {
      if (Drawable(plot, s.x[i], s.y[i])) {
        run.points.emplace_back(m.X(s.x[i]), m.Y(s.y[i]));
      } else {
        flush();
      }
    }
    flush();
  }
  if (named) AddLegend(fig, m.frame, names, Marker::kLine);
  return fig;
}

Figure Layout(const BarPlot& plot) {
  const size_t categories = plot.categories.size();
  double v_min = 0;  // bars grow from 0, which is always on the axis
  double v_max = 0;
  std::vector<std::string> names;
  bool named = false;
  for (const BarSeries& s : plot.series) {
    names.push_back(s.name);
    named = named || !s.name.empty();
    for (size_t c = 0; c < categories && c < s.values.size(); ++c) {
      if (!std::isfinite(s.values[c])) continue;
      v_min = std::min(v_min, s.values[c]);
      v_max = std::max(v_max, s.values[c]);
    }
  }
  Mapper m;
  if (named) m.frame.right -= kLegendWidth;
  // Headroom for the value labels above the highest bar (and below the lowest).
  const double span = v_max - v_min;
  m.y = LinearAxis(v_min < 0 ? v_min - span * 0.1 : 0, v_max > 0 ? v_max + span * 0.1 : 0);

  Figure fig;
  AddChrome(fig, m.frame, plot.title, "", plot.y_label);
  AddAxes(fig, m, /*x_ticks=*/false);
  const double band = (m.frame.right - m.frame.left) / std::max<double>(1, categories);
  const size_t num_series = std::max<size_t>(1, plot.series.size());
  const double bar = band * 0.8 / static_cast<double>(num_series);
  const double zero = m.Y(0);
  const size_t label_chars = static_cast<size_t>(std::max(1.0, band / (0.6 * kTickSize)));
  for (size_t c = 0; c < categories; ++c) {
    const double band_left = m.frame.left + band * static_cast<double>(c);
    fig.push_back(Text{band_left + band / 2, m.frame.bottom + 17,
                       Truncate(plot.categories[c], label_chars), kTickSize, Anchor::kMiddle});
    for (size_t k = 0; k < plot.series.size(); ++k) {
      const std::vector<double>& values = plot.series[k].values;
      if (c >= values.size() || !std::isfinite(values[c])) continue;  // a gap
      const double v = values[c];
      const double left = band_left + band * 0.1 + bar * static_cast<double>(k);
      const double top = std::min(zero, m.Y(v));
      fig.push_back(Rect{left, top, bar, std::abs(m.Y(v) - zero), PaletteColor(k)});
      const double label_y = v >= 0 ? top - 4 : top + std::abs(m.Y(v) - zero) + kValueSize + 2;
      fig.push_back(
          Text{left + bar / 2, label_y, absl::StrFormat("%.3g", v), kValueSize, Anchor::kMiddle});
    }
  }
  if (m.y.lo < 0) AddSegment(fig, m.frame.left, zero, m.frame.right, zero, kAxis, 1);
  if (named) AddLegend(fig, m.frame, names, Marker::kSquare);
  return fig;
}

// ---- SVG ----------------------------------------------------------------------------------

std::string Hex(Color c) { return absl::StrFormat("#%02x%02x%02x", c.r, c.g, c.b); }

// `text` with XML's special characters escaped and characters XML 1.0 forbids (controls
// other than tab and newline) replaced by '?'.
std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n') {
          out += '?';
        } else {
          out += ch;
        }
    }
  }
  return out;
}

struct SvgWriter {
  std::string& out;
  void operator()(const Line& l) const {
    if (!l.curve && l.points.size() == 2) {
      absl::StrAppendFormat(&out,
                            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                            "stroke-width=\"%g\"/>\n",
                            l.points[0].first, l.points[0].second, l.points[1].first,
                            l.points[1].second, Hex(l.color), l.width);
      return;
    }
    out += "<polyline fill=\"none\" points=\"";
    for (size_t i = 0; i < l.points.size(); ++i) {
      absl::StrAppendFormat(&out, "%s%.1f,%.1f", i == 0 ? "" : " ", l.points[i].first,
                            l.points[i].second);
    }
    absl::StrAppendFormat(&out,
                          "\" stroke=\"%s\" stroke-width=\"%g\" stroke-linejoin=\"round\"/>\n",
                          Hex(l.color), l.width);
  }
  void operator()(const Circle& c) const {
    absl::StrAppendFormat(&out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%g\" fill=\"%s\"/>\n", c.cx,
                          c.cy, c.r, Hex(c.fill));
  }
  void operator()(const Rect& r) const {
    absl::StrAppendFormat(&out,
                          "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                          "fill=\"%s\"/>\n",
                          r.x, r.y, r.w, r.h, Hex(r.fill));
  }
  void operator()(const Text& t) const {
    const char* anchor = t.anchor == Anchor::kStart    ? "start"
                         : t.anchor == Anchor::kMiddle ? "middle"
                                                       : "end";
    absl::StrAppendFormat(&out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%g\" text-anchor=\"%s\"",
                          t.x, t.y, t.size, anchor);
    if (t.bold) out += " font-weight=\"bold\"";
    if (t.vertical) absl::StrAppendFormat(&out, " transform=\"rotate(-90 %.1f %.1f)\"", t.x, t.y);
    absl::StrAppendFormat(&out, " fill=\"%s\">%s</text>\n", Hex(t.color), XmlEscape(t.text));
  }
};

std::string ToSvg(const Figure& fig) {
  std::string out = absl::StrFormat(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
      "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
      kWidth, kHeight, kWidth, kHeight);
  SvgWriter writer{out};
  for (const Primitive& p : fig) std::visit(writer, p);
  out += "</svg>\n";
  return out;
}

// ---- PNG (OpenCV) -------------------------------------------------------------------------

cv::Scalar Bgr(Color c) { return cv::Scalar(c.b, c.g, c.r); }

cv::Point Px(double x, double y) {
  return cv::Point(static_cast<int>(std::lround(Clamp(x))),
                   static_cast<int>(std::lround(Clamp(y))));
}

// OpenCV's Hershey fonts cover printable ASCII only: every other character (a whole UTF-8
// sequence) becomes one '?'.
std::string AsciiOnly(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char ch = static_cast<unsigned char>(text[i]);
    if (ch >= 0x20 && ch < 0x7F) {
      out += static_cast<char>(ch);
    } else if ((ch & 0xC0) != 0x80) {  // not a continuation byte: a new character
      out += '?';
    }
  }
  return out;
}

struct PngWriter {
  cv::Mat& canvas;  // CV_8UC3, BGR
  static constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

  void operator()(const Line& l) const {
    const int thickness = std::max(1, static_cast<int>(std::lround(l.width)));
    for (size_t i = 1; i < l.points.size(); ++i) {
      cv::line(canvas, Px(l.points[i - 1].first, l.points[i - 1].second),
               Px(l.points[i].first, l.points[i].second), Bgr(l.color), thickness, cv::LINE_AA);
    }
  }
  void operator()(const Circle& c) const {
    cv::circle(canvas, Px(c.cx, c.cy), std::max(1, static_cast<int>(std::lround(c.r))), Bgr(c.fill),
               cv::FILLED, cv::LINE_AA);
  }
  void operator()(const Rect& r) const {
    // cv::rectangle includes both corners.
    cv::rectangle(canvas, Px(r.x, r.y), Px(r.x + r.w - 1, r.y + r.h - 1), Bgr(r.fill), cv::FILLED);
  }
  void operator()(const Text& t) const {
    const std::string text = AsciiOnly(t.text);
    if (text.empty()) return;
    // Hershey simplex at scale 1 is about 30 px from ascender to descender.
    const double scale = t.size / 30.0;
    const int thickness = t.bold ? 2 : 1;
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, kFont, scale, thickness, &baseline);
    const double shift = t.anchor == Anchor::kStart    ? 0
                         : t.anchor == Anchor::kMiddle ? size.width / 2.0
                                                       : static_cast<double>(size.width);
    if (!t.vertical) {
      cv::putText(canvas, text, Px(t.x - shift, t.y), kFont, scale, Bgr(t.color), thickness,
                  cv::LINE_AA);
      return;
    }
    // Draw horizontally on a white tile, turn it, and darken the canvas with it.
    const int pad = 2;
    cv::Mat tile(size.height + baseline + 2 * pad, size.width + 2 * pad, CV_8UC3, Bgr(kWhite));
    cv::putText(tile, text, cv::Point(pad, pad + size.height), kFont, scale, Bgr(t.color),
                thickness, cv::LINE_AA);
    cv::Mat turned;
    cv::rotate(tile, turned, cv::ROTATE_90_COUNTERCLOCKWISE);
    // The tile's baseline row becomes column pad + height; its start the bottom row.
    const cv::Point origin = Px(t.x - (pad + size.height), t.y + shift - (turned.rows - pad));
    const cv::Rect target = cv::Rect(origin.x, origin.y, turned.cols, turned.rows) &
                            cv::Rect(0, 0, canvas.cols, canvas.rows);
    if (target.area() == 0) return;
    const cv::Rect source(target.x - origin.x, target.y - origin.y, target.width, target.height);
    cv::Mat roi = canvas(target);
    cv::min(roi, turned(source), roi);
  }
};

absl::StatusOr<std::string> ToPng(const Figure& fig) {
  try {
    cv::Mat canvas(kHeight, kWidth, CV_8UC3, Bgr(kWhite));
    PngWriter writer{canvas};
    for (const Primitive& p : fig) std::visit(writer, p);
    std::vector<uchar> buffer;
    if (!cv::imencode(".png", canvas, buffer)) {
      return absl::InternalError("OpenCV's PNG encoder failed");
    }
    return std::string(buffer.begin(), buffer.end());
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("OpenCV failed to draw the plot: ", e.what()));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory drawing the plot");
  }
}

// ---- Validation and writing ---------------------------------------------------------------

absl::Status Validate(const ScatterPlot& plot) {
  if (plot.x.size() != plot.y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("x has ", plot.x.size(), " values but y has ", plot.y.size()));
  }
  if (!plot.group.empty() && plot.group.size() != plot.x.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("group has ", plot.group.size(), " entries but x has ", plot.x.size()));
  }
  for (size_t i = 0; i < plot.x.size(); ++i) {
    if (Finite(plot.x[i], plot.y[i])) return absl::OkStatus();
  }
  return absl::InvalidArgumentError("no point with finite x and y");
}

absl::Status Validate(const LinePlot& plot) {
  if (plot.series.empty()) return absl::InvalidArgumentError("no series");
  bool any = false;
  for (const LineSeries& s : plot.series) {
    if (s.x.size() != s.y.size()) {
      return absl::InvalidArgumentError(absl::StrCat("series '", s.name, "': x has ", s.x.size(),
                                                     " values but y has ", s.y.size()));
    }
    for (size_t i = 0; i < s.x.size() && !any; ++i) any = Drawable(plot, s.x[i], s.y[i]);
  }
  if (!any) {
    return absl::InvalidArgumentError(plot.log_y ? "no point with finite x and positive finite y"
                                                 : "no point with finite x and y");
  }
  return absl::OkStatus();
}

absl::Status Validate(const BarPlot& plot) {
  if (plot.categories.empty()) return absl::InvalidArgumentError("no categories");
  if (plot.series.empty()) return absl::InvalidArgumentError("no series");
  bool any = false;
  for (const BarSeries& s : plot.series) {
    if (s.values.size() != plot.categories.size()) {
      return absl::InvalidArgumentError(absl::StrCat("series '", s.name, "' has ", s.values.size(),
                                                     " values for ", plot.categories.size(),
                                                     " categories"));
    }
    any = any ||
          std::any_of(s.values.begin(), s.values.end(), [](double v) { return std::isfinite(v); });
  }
  if (!any) return absl::InvalidArgumentError("no finite value");
  return absl::OkStatus();
}

absl::Status WriteFile(const std::string& path, const std::string& contents) {
  const absl::Status status = WriteFileAtomic(path, contents);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot write plot ", path, ": ", status.message()));
  }
  return absl::OkStatus();
}

template <typename Plot>
absl::Status WriteAny(const Plot& plot, const std::string& path_stem) {
  const absl::Status valid = Validate(plot);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("plot '", plot.title, "' (", path_stem, "): ", valid.message()));
  }
  const Figure fig = Layout(plot);
  absl::StatusOr<std::string> png = ToPng(fig);
  if (!png.ok()) {
    return absl::Status(png.status().code(),
                        absl::StrCat(path_stem, ".png: ", png.status().message()));
  }
  MATALIGN_RETURN_IF_ERROR(WriteFile(path_stem + ".svg", ToSvg(fig)));
  return WriteFile(path_stem + ".png", *png);
}

}  // namespace

std::string RenderSvg(const ScatterPlot& plot) { return ToSvg(Layout(plot)); }
std::string RenderSvg(const LinePlot& plot) { return ToSvg(Layout(plot)); }
std::string RenderSvg(const BarPlot& plot) { return ToSvg(Layout(plot)); }

absl::Status WritePlot(const ScatterPlot& plot, const std::string& path_stem) {
  return WriteAny(plot, path_stem);
}
absl::Status WritePlot(const LinePlot& plot, const std::string& path_stem) {
  return WriteAny(plot, path_stem);
}
absl::Status WritePlot(const BarPlot& plot, const std::string& path_stem) {
  return WriteAny(plot, path_stem);
}

}  // namespace matalign::eval
