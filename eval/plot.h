// Plots of the evaluation reports, written as SVG (vector, for docs) and PNG (rendered with
// OpenCV, for quick viewing). Torch-free; OpenCV stays private to plot.cc.
//
//   eval::ScatterPlot p;  p.title = "joint space (PCA)";  p.x = ...; p.y = ...; p.group = ...;
//   MATALIGN_RETURN_IF_ERROR(eval::WritePlot(p, out_dir + "/embedding_by_class"));
//   // -> embedding_by_class.svg and embedding_by_class.png
#ifndef MATALIGN_EVAL_PLOT_H_
#define MATALIGN_EVAL_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace matalign::eval {

// Points coloured by group, with a legend (groups in order of first appearance; at most 12
// distinct colours, further groups reuse them).
struct ScatterPlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<double> x;
  std::vector<double> y;
  std::vector<std::string> group;  // same length as x; empty = one group
};

// One or more curves over a shared x axis (e.g. loss per step), with a legend.
struct LineSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;  // non-finite values break the line
};
struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<LineSeries> series;
  bool log_y = false;  // logarithmic y axis (non-positive values skipped)
};

// Grouped bars: for each category (x axis), one bar per series, with a legend and the value
// printed above each bar (3 significant digits). Non-finite values leave a gap.
struct BarSeries {
  std::string name;
  std::vector<double> values;  // one per category
};
struct BarPlot {
  std::string title;
  std::string y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;
};

// SVG documents (UTF-8, self-contained, 800x500 user units; text escaped). Never fails: input
// that WritePlot would reject is drawn as far as it goes (shorter lengths are used; with no
// finite point the axes span [0, 1]).
std::string RenderSvg(const ScatterPlot& plot);
std::string RenderSvg(const LinePlot& plot);
std::string RenderSvg(const BarPlot& plot);

// Writes `path_stem`.svg and `path_stem`.png (800x500 pixels). InvalidArgument for a plot
// whose series lengths disagree or that has no finite point (nothing is written then; a line
// plot also needs a series, a bar plot a category and a series); Internal when a file cannot
// be written (naming it). Parent directories are created. The PNG is drawn with OpenCV's
// Hershey font, which has no glyphs beyond ASCII: other characters show as '?' there (the SVG
// keeps them).
absl::Status WritePlot(const ScatterPlot& plot, const std::string& path_stem);
absl::Status WritePlot(const LinePlot& plot, const std::string& path_stem);
absl::Status WritePlot(const BarPlot& plot, const std::string& path_stem);

}  // namespace matalign::eval

#endif  // MATALIGN_EVAL_PLOT_H_
