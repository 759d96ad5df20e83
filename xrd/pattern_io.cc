// Readers and writer for powder patterns: two-column text and PANalytical XRDML.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/file.h"
#include "common/status_macros.h"
#include "pugixml.hpp"
#include "xrd/pattern.h"

namespace matalign::xrd {
namespace {

absl::Status Invalid(absl::string_view source, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(source, ": ", reason));
}

// Returns a printable excerpt of `text` for error messages: at most 40 characters, bytes
// outside printable ASCII replaced by '?'.
std::string Excerpt(absl::string_view text) {
  constexpr size_t kMax = 40;
  std::string out;
  for (size_t i = 0; i < text.size() && i < kMax; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (text.size() > kMax) out += "...";
  return out;
}

// Parses a whole token as a double (locale-independent). Returns false if it is not a number.
bool ParseDouble(absl::string_view token, double* value) { return absl::SimpleAtod(token, value); }

// Where point i of a pattern came from, for messages: "line 12" or "point 12".
std::string PointName(const std::vector<int>* lines, size_t i) {
  if (lines != nullptr && i < lines->size()) return absl::StrCat("line ", (*lines)[i]);
  return absl::StrCat("point ", i + 1);
}

// Builds a pattern from parsed columns: a strictly decreasing scan is reversed, then the
// XrdPattern invariants and `limits` are checked. `lines` (optional) maps point -> line.
absl::StatusOr<XrdPattern> FinishPattern(std::vector<double> two_theta,
                                         std::vector<double> intensity, double wavelength,
                                         absl::string_view source, const PatternLimits& limits,
                                         const std::vector<int>* lines) {
  const size_t n = two_theta.size();
  if (n != intensity.size()) {
    return Invalid(source,
                   absl::StrCat(n, " 2-theta values but ", intensity.size(), " intensities"));
  }
  if (n < static_cast<size_t>(limits.min_points)) {
    return Invalid(source, absl::StrCat("only ", n, " data points; at least ", limits.min_points,
                                        " are required"));
  }
  const bool descending = two_theta[1] < two_theta[0];
  for (size_t i = 1; i < n; ++i) {
    const bool ok = descending ? two_theta[i] < two_theta[i - 1] : two_theta[i] > two_theta[i - 1];
    if (!ok) {
      return Invalid(source, absl::StrFormat("2-theta is not strictly %s at %s (%g after %g)",
                                             descending ? "decreasing" : "increasing",
                                             PointName(lines, i), two_theta[i], two_theta[i - 1]));
    }
  }
  if (descending) {
    std::reverse(two_theta.begin(), two_theta.end());
    std::reverse(intensity.begin(), intensity.end());
  }
  XrdPattern pattern;
  pattern.two_theta = std::move(two_theta);
  pattern.intensity = std::move(intensity);
  pattern.wavelength = wavelength;
  pattern.source = std::string(source);
  MATALIGN_RETURN_IF_ERROR(ValidatePattern(pattern, limits));
  return pattern;
}

// ---------------------------------------------------------------------------------------
// Two-column text.

bool IsCommentStart(char c) { return c == '#' || c == '!' || c == ';' || c == '%' || c == '\''; }

// Looks for "wavelength" followed by up to 8 separator characters and a number in (0.01, 10)
// in a header or comment line; sets *wavelength when found.
void MaybeReadWavelength(absl::string_view line, double* wavelength) {
  const std::string lower = absl::AsciiStrToLower(line);
  const std::string key = "wavelength";
  size_t at = lower.find(key);
  while (at != std::string::npos) {
    size_t p = at + key.size();
    size_t skipped = 0;
    while (p < lower.size() && skipped < 8 &&
           !absl::ascii_isdigit(static_cast<unsigned char>(lower[p]))) {
      ++p;
      ++skipped;
    }
    size_t end = p;
    while (end < lower.size() &&
           (absl::ascii_isdigit(static_cast<unsigned char>(lower[end])) || lower[end] == '.')) {
      ++end;
    }
    double value = 0;
    if (end > p && ParseDouble(absl::string_view(lower).substr(p, end - p), &value) &&
        value > 0.01 && value < 10) {
      *wavelength = value;
      return;
    }
    at = lower.find(key, at + key.size());
  }
}

enum class LineKind { kData, kOneNumber, kText };

// Classifies a non-empty, non-comment line and, for data lines, returns its first two
// columns. See ParseXy for the separator rules.
LineKind ClassifyLine(absl::string_view line, double* x, double* y) {
  const bool semicolon = line.find(';') != absl::string_view::npos;
  const char* delims = semicolon ? " \t;\v\f" : " \t,\v\f";
  absl::string_view tokens[2];
  int count = 0;
  size_t pos = 0;
  while (count < 2) {
    pos = line.find_first_not_of(delims, pos);
    if (pos == absl::string_view::npos) break;
    size_t end = line.find_first_of(delims, pos);
    if (end == absl::string_view::npos) end = line.size();
    tokens[count++] = line.substr(pos, end - pos);
    pos = end;
  }
  double values[2] = {0, 0};
  for (int i = 0; i < count; ++i) {
    bool ok;
    if (semicolon && tokens[i].find(',') != absl::string_view::npos) {
      std::string decimal(tokens[i]);
      std::replace(decimal.begin(), decimal.end(), ',', '.');
      ok = ParseDouble(decimal, &values[i]);
    } else {
      ok = ParseDouble(tokens[i], &values[i]);
    }
    if (!ok) return LineKind::kText;
  }
  if (count == 0) return LineKind::kText;
  if (count == 1) return LineKind::kOneNumber;
  *x = values[0];
  *y = values[1];
  return LineKind::kData;
}

// ---------------------------------------------------------------------------------------
// XRDML.

// Element name without a namespace prefix ("xrd:counts" -> "counts").
absl::string_view LocalName(const pugi::xml_node& node) {
  absl::string_view name = node.name();
  const size_t colon = name.rfind(':');
  return colon == absl::string_view::npos ? name : name.substr(colon + 1);
}

// First child element of `node` with local name `name`, or an empty node.
pugi::xml_node Child(const pugi::xml_node& node, absl::string_view name) {
  for (pugi::xml_node child = node.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element && LocalName(child) == name) return child;
  }
  return pugi::xml_node();
}

// Parses the whitespace-separated numbers in the text of `node` (element <what>). Fails on
// a non-number, a non-finite value or more than `max_values` values.
absl::StatusOr<std::vector<double>> ParseNumberList(const pugi::xml_node& node,
                                                    absl::string_view what, int max_values,
                                                    absl::string_view source) {
  absl::string_view text = node.child_value();
  std::vector<double> values;
  size_t pos = 0;
  constexpr const char* kSpace = " \t\r\n\v\f";
  while (true) {
    pos = text.find_first_not_of(kSpace, pos);
    if (pos == absl::string_view::npos) break;
    size_t end = text.find_first_of(kSpace, pos);
    if (end == absl::string_view::npos) end = text.size();
    const absl::string_view token = text.substr(pos, end - pos);
    pos = end;
    if (values.size() >= static_cast<size_t>(max_values)) {
      return Invalid(source, absl::StrCat("<", what, "> has more than ", max_values, " values"));
    }
    double value = 0;
    if (!ParseDouble(token, &value)) {
      return Invalid(source, absl::StrCat("<", what, "> value #", values.size() + 1, " '",
                                          Excerpt(token), "' is not a number"));
    }
    if (!std::isfinite(value)) {
      return Invalid(source,
                     absl::StrCat("<", what, "> value #", values.size() + 1, " is not finite"));
    }
    values.push_back(value);
  }
  return values;
}

// Parses the text of `node` as one finite number.
absl::StatusOr<double> ParseNumberElement(const pugi::xml_node& node, absl::string_view what,
                                          absl::string_view source) {
  double value = 0;
  const absl::string_view text = absl::StripAsciiWhitespace(node.child_value());
  if (!ParseDouble(text, &value) || !std::isfinite(value)) {
    return Invalid(source,
                   absl::StrCat("<", what, "> '", Excerpt(text), "' is not a finite number"));
  }
  return value;
}

// Reads <usedWavelength>/<kAlpha1> of an <xrdMeasurement>; 0 when absent or implausible.
double XrdmlWavelength(const pugi::xml_node& measurement) {
  const pugi::xml_node k_alpha1 = Child(Child(measurement, "usedWavelength"), "kAlpha1");
  if (!k_alpha1) return 0;
  double value = 0;
  if (!ParseDouble(absl::StripAsciiWhitespace(k_alpha1.child_value()), &value)) return 0;
  const absl::string_view unit = k_alpha1.attribute("unit").value();
  if (unit == "nm") value *= 10;
  if (unit == "pm") value /= 100;
  return (std::isfinite(value) && value > 0.01 && value < 10) ? value : 0;
}

// The 2-theta <positions> element of <dataPoints>, or an empty node.
pugi::xml_node TwoThetaPositions(const pugi::xml_node& data_points) {
  for (pugi::xml_node child = data_points.first_child(); child; child = child.next_sibling()) {
    if (child.type() == pugi::node_element && LocalName(child) == "positions" &&
        absl::EqualsIgnoreCase(child.attribute("axis").value(), "2Theta")) {
      return child;
    }
  }
  return pugi::xml_node();
}

absl::StatusOr<XrdPattern> ParseXrdmlDocument(const pugi::xml_document& doc,
                                              absl::string_view source,
                                              const PatternLimits& limits) {
  const pugi::xml_node root = doc.document_element();
  if (!root || LocalName(root) != "xrdMeasurements") {
    return Invalid(
        source, absl::StrCat("not an XRDML document (root element <",
                             Excerpt(root ? root.name() : ""), ">, expected <xrdMeasurements>)"));
  }
  // The first <scan> (over all <xrdMeasurement>s) that has 2-theta positions.
  pugi::xml_node measurement, data_points, positions;
  for (pugi::xml_node m = root.first_child(); m && !positions; m = m.next_sibling()) {
    if (m.type() != pugi::node_element || LocalName(m) != "xrdMeasurement") continue;
    for (pugi::xml_node scan = m.first_child(); scan; scan = scan.next_sibling()) {
      if (scan.type() != pugi::node_element || LocalName(scan) != "scan") continue;
      const pugi::xml_node dp = Child(scan, "dataPoints");
      const pugi::xml_node pos = TwoThetaPositions(dp);
      if (pos) {
        measurement = m;
        data_points = dp;
        positions = pos;
        break;
      }
    }
  }
  if (!positions) {
    return Invalid(source, "no <scan> with <dataPoints>/<positions axis=\"2Theta\"> found");
  }

  // Counts (XRDML >= 1.5) or intensities (older versions).
  pugi::xml_node counts_node = Child(data_points, "counts");
  absl::string_view counts_name = "counts";
  if (!counts_node) {
    counts_node = Child(data_points, "intensities");
    counts_name = "intensities";
  }
  if (!counts_node) return Invalid(source, "<dataPoints> has no <counts> or <intensities>");
  MATALIGN_ASSIGN_OR_RETURN(std::vector<double> intensity,
                            ParseNumberList(counts_node, counts_name, limits.max_points, source));
  const size_t n = intensity.size();
  if (n < static_cast<size_t>(limits.min_points)) {
    return Invalid(source, absl::StrCat("<", counts_name, "> has ", n, " values; at least ",
                                        limits.min_points, " are required"));
  }
  for (size_t i = 0; i < n; ++i) {
    if (intensity[i] < 0) {
      return Invalid(source, absl::StrCat("<", counts_name, "> value #", i + 1, " is negative (",
                                          intensity[i], ")"));
    }
  }
  if (const pugi::xml_node att = Child(data_points, "beamAttenuationFactors"); att) {
    MATALIGN_ASSIGN_OR_RETURN(
        std::vector<double> factors,
        ParseNumberList(att, "beamAttenuationFactors", limits.max_points, source));
    if (factors.size() != n) {
      return Invalid(source, absl::StrCat("<beamAttenuationFactors> has ", factors.size(),
                                          " values but <", counts_name, "> has ", n));
    }
    for (size_t i = 0; i < n; ++i) {
      if (factors[i] <= 0) {
        return Invalid(source,
                       absl::StrCat("<beamAttenuationFactors> value #", i + 1, " is not positive"));
      }
      intensity[i] *= factors[i];
    }
  }
  if (const pugi::xml_node times = Child(data_points, "countingTimes"); times) {
    MATALIGN_ASSIGN_OR_RETURN(std::vector<double> seconds,
                              ParseNumberList(times, "countingTimes", limits.max_points, source));
    if (seconds.size() != n) {
      return Invalid(source, absl::StrCat("<countingTimes> has ", seconds.size(), " values but <",
                                          counts_name, "> has ", n));
    }
    for (size_t i = 0; i < n; ++i) {
      if (seconds[i] <= 0) {
        return Invalid(source, absl::StrCat("<countingTimes> value #", i + 1, " is not positive"));
      }
      intensity[i] /= seconds[i];
    }
  }

  std::vector<double> two_theta;
  if (const pugi::xml_node list = Child(positions, "listPositions"); list) {
    MATALIGN_ASSIGN_OR_RETURN(two_theta,
                              ParseNumberList(list, "listPositions", limits.max_points, source));
    if (two_theta.size() != n) {
      return Invalid(source, absl::StrCat("<listPositions> has ", two_theta.size(), " values but <",
                                          counts_name, "> has ", n));
    }
  } else {
    const pugi::xml_node start_node = Child(positions, "startPosition");
    const pugi::xml_node end_node = Child(positions, "endPosition");
    if (!start_node || !end_node) {
      if (Child(positions, "commonPosition")) {
        return Invalid(source, "2-theta is fixed (<commonPosition>); not a 2-theta scan");
      }
      return Invalid(source,
                     "2-theta <positions> has neither <listPositions> nor "
                     "<startPosition>/<endPosition>");
    }
    MATALIGN_ASSIGN_OR_RETURN(const double start,
                              ParseNumberElement(start_node, "startPosition", source));
    MATALIGN_ASSIGN_OR_RETURN(const double end,
                              ParseNumberElement(end_node, "endPosition", source));
    if (start == end) {
      return Invalid(source, absl::StrCat("<startPosition> equals <endPosition> (", start, ")"));
    }
    two_theta.resize(n);
    const double step = (end - start) / static_cast<double>(n - 1);
    for (size_t i = 0; i < n; ++i) two_theta[i] = start + step * static_cast<double>(i);
    two_theta[n - 1] = end;
  }
  return FinishPattern(std::move(two_theta), std::move(intensity), XrdmlWavelength(measurement),
                       source, limits, nullptr);
}

}  // namespace

absl::Status PatternLimits::Validate() const {
  if (min_points < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("PatternLimits.min_points must be >= 2, got ", min_points));
  }
  if (max_points < min_points) {
    return absl::InvalidArgumentError(absl::StrCat("PatternLimits.max_points (", max_points,
                                                   ") must be >= min_points (", min_points, ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidatePattern(const XrdPattern& pattern, const PatternLimits& limits) {
  MATALIGN_RETURN_IF_ERROR(limits.Validate());
  const absl::string_view source = pattern.source;
  const size_t n = pattern.two_theta.size();
  if (n != pattern.intensity.size()) {
    return Invalid(
        source, absl::StrCat(n, " 2-theta values but ", pattern.intensity.size(), " intensities"));
  }
  if (n < static_cast<size_t>(limits.min_points)) {
    return Invalid(source, absl::StrCat("only ", n, " data points; at least ", limits.min_points,
                                        " are required"));
  }
  if (n > static_cast<size_t>(limits.max_points)) {
    return Invalid(source,
                   absl::StrCat(n, " data points; at most ", limits.max_points, " are allowed"));
  }
  if (!std::isfinite(pattern.wavelength) || pattern.wavelength < 0) {
    return Invalid(source, absl::StrCat("invalid wavelength ", pattern.wavelength));
  }
  for (size_t i = 0; i < n; ++i) {
    const double t = pattern.two_theta[i];
    if (!std::isfinite(t) || !std::isfinite(pattern.intensity[i])) {
      return Invalid(source, absl::StrCat("point ", i + 1, " has a non-finite value"));
    }
    if (t < 0 || t > 180) {
      return Invalid(
          source, absl::StrCat("point ", i + 1, ": 2-theta ", t, " is outside [0, 180] degrees"));
    }
    if (i > 0 && !(t > pattern.two_theta[i - 1])) {
      return Invalid(source, absl::StrCat("2-theta is not strictly increasing at point ", i + 1,
                                          " (", t, " after ", pattern.two_theta[i - 1], ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<XrdPattern> ParseXy(absl::string_view content, absl::string_view source,
                                   const PatternLimits& limits) {
  MATALIGN_RETURN_IF_ERROR(limits.Validate());
  if (absl::StripAsciiWhitespace(content).empty()) return Invalid(source, "empty file");
  std::vector<double> two_theta, intensity;
  std::vector<int> line_of;  // line number of each point, for messages
  double wavelength = 0;
  int first_one_column_line = 0;
  int line_no = 0;
  size_t pos = 0;
  while (pos < content.size()) {
    size_t end = content.find_first_of("\r\n", pos);
    if (end == absl::string_view::npos) end = content.size();
    absl::string_view line = absl::StripAsciiWhitespace(content.substr(pos, end - pos));
    pos = end;
    if (pos < content.size() && content[pos] == '\r') ++pos;
    if (pos < content.size() && content[pos] == '\n') ++pos;
    ++line_no;
    if (line.empty()) continue;
    const bool data_started = !two_theta.empty();
    if (IsCommentStart(line[0])) {
      if (!data_started) MaybeReadWavelength(line, &wavelength);
      continue;
    }
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = absl::StripAsciiWhitespace(line.substr(0, hash));
      if (line.empty()) continue;
    }
    double x = 0, y = 0;
    switch (ClassifyLine(line, &x, &y)) {
      case LineKind::kData:
        if (!std::isfinite(x) || !std::isfinite(y)) {
          return Invalid(source, absl::StrCat("line ", line_no, ": non-finite value in '",
                                              Excerpt(line), "'"));
        }
        if (two_theta.size() >= static_cast<size_t>(limits.max_points)) {
          return Invalid(source, absl::StrCat("more than ", limits.max_points,
                                              " data points (line ", line_no, ")"));
        }
        two_theta.push_back(x);
        intensity.push_back(y);
        line_of.push_back(line_no);
        break;
      case LineKind::kOneNumber:
        if (data_started) {
          return Invalid(source,
                         absl::StrCat("line ", line_no,
                                      ": expected two columns (2-theta, intensity), found one "
                                      "(truncated file?)"));
        }
        if (first_one_column_line == 0) first_one_column_line = line_no;
        break;
      case LineKind::kText:
        if (data_started) {
          return Invalid(source, absl::StrCat("line ", line_no,
                                              ": expected two numbers (2-theta, intensity), "
                                              "found '",
                                              Excerpt(line), "'"));
        }
        MaybeReadWavelength(line, &wavelength);
        break;
    }
  }
  if (two_theta.empty()) {
    if (first_one_column_line > 0) {
      return Invalid(source, absl::StrCat("line ", first_one_column_line,
                                          " has a single column; expected two columns "
                                          "(2-theta, intensity)"));
    }
    return Invalid(source, "no data lines with two numeric columns (2-theta, intensity)");
  }
  return FinishPattern(std::move(two_theta), std::move(intensity), wavelength, source, limits,
                       &line_of);
}

absl::StatusOr<XrdPattern> ParseXrdml(absl::string_view content, absl::string_view source,
                                      const PatternLimits& limits) {
  MATALIGN_RETURN_IF_ERROR(limits.Validate());
  if (content.empty()) return Invalid(source, "empty file");
  try {
    pugi::xml_document doc;
    const pugi::xml_parse_result parsed =
        doc.load_buffer(content.data(), content.size(), pugi::parse_default, pugi::encoding_auto);
    if (!parsed) {
      return Invalid(source, absl::StrCat("malformed XML at byte ", parsed.offset, ": ",
                                          parsed.description()));
    }
    return ParseXrdmlDocument(doc, source, limits);
  } catch (const std::exception& e) {  // std::bad_alloc from pugixml on huge documents
    return Invalid(source, absl::StrCat("XRDML parsing failed: ", e.what()));
  }
}

bool IsPatternFileName(absl::string_view path) {
  const std::string ext = LowercaseExtension(path);
  return ext == "xy" || ext == "dat" || ext == "txt" || ext == "csv" || ext == "asc" ||
         ext == "xrdml";
}

absl::StatusOr<XrdPattern> ReadPatternFile(const std::string& path, const PatternLimits& limits) {
  const std::string ext = LowercaseExtension(path);
  if (!IsPatternFileName(path)) {
    return Invalid(path, absl::StrCat("unsupported pattern file extension '", Excerpt(ext),
                                      "' (expected .xy, .dat, .txt, .csv, .asc or .xrdml)"));
  }
  MATALIGN_ASSIGN_OR_RETURN(const std::string content, ReadFile(path));
  return ext == "xrdml" ? ParseXrdml(content, path, limits) : ParseXy(content, path, limits);
}

absl::StatusOr<std::string> FormatXy(const XrdPattern& pattern) {
  PatternLimits limits;
  limits.min_points = 2;
  limits.max_points = std::numeric_limits<int>::max();
  MATALIGN_RETURN_IF_ERROR(ValidatePattern(pattern, limits));
  std::string out;
  out.reserve(32 * pattern.two_theta.size() + 128);
  std::string source = pattern.source;
  for (char& c : source) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  absl::StrAppend(&out, "# source: ", source, "\n");
  if (pattern.wavelength > 0) {
    absl::StrAppend(&out, absl::StrFormat("# wavelength: %.7f A\n", pattern.wavelength));
  }
  absl::StrAppend(&out, "# points: ", pattern.two_theta.size(), "\n");
  absl::StrAppend(&out, "# 2theta_deg intensity\n");
  for (size_t i = 0; i < pattern.two_theta.size(); ++i) {
    absl::StrAppend(&out,
                    absl::StrFormat("%.10g %.9g\n", pattern.two_theta[i], pattern.intensity[i]));
  }
  return out;
}

absl::Status WriteXy(const XrdPattern& pattern, const std::string& path) {
  MATALIGN_ASSIGN_OR_RETURN(const std::string text, FormatXy(pattern));
  return WriteFileAtomic(path, text);
}

}  // namespace matalign::xrd
