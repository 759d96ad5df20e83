// Writing the experiment reports of mmtrain (eval, ablate, bench-real): figures formatted for
// Markdown tables, and the files of a report directory. Torch-free.
#ifndef MATALIGN_TRAIN_REPORT_H_
#define MATALIGN_TRAIN_REPORT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace matalign::train {

// A figure as a table cell: null / missing -> "n/a", integers as is, other numbers with 3
// significant digits after the point ("0.456", "12.3", "1.23e-05"), strings as is.
std::string FormatFigure(const nlohmann::json& value);

// A GitHub-flavoured Markdown table (header row, separator, rows; '|' in cells escaped).
std::string MarkdownTable(const std::vector<std::string>& header,
                          const std::vector<std::vector<std::string>>& rows);

// Writes `out_dir`/report.json (indented) and `out_dir`/report.md, creating `out_dir`.
// Internal (naming the file) on I/O failure.
absl::Status WriteReportFiles(const nlohmann::json& report, const std::string& markdown,
                              const std::string& out_dir);

// The Markdown of an evaluation report (train/evaluate.h EvalResult::report): one section per
// present part, each a table.
std::string EvalReportMarkdown(const nlohmann::json& report);

}  // namespace matalign::train

#endif  // MATALIGN_TRAIN_REPORT_H_
