#include "mmclient/format.h"

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"

namespace matalign::mmclient {

namespace {

// Length of the UTF-8 sequence starting with byte `c` (1 for a stray continuation byte).
size_t SequenceLength(unsigned char c) {
  if (c >= 0xF0 && c <= 0xF4) return 4;
  if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
  if (c >= 0xC2) return 2;
  return 1;
}

// Byte length of the first `n` code points of `text` (all of it if shorter).
size_t PrefixBytes(absl::string_view text, size_t n) {
  size_t i = 0;
  for (size_t chars = 0; chars < n && i < text.size(); ++chars) {
    i = std::min(text.size(), i + SequenceLength(static_cast<unsigned char>(text[i])));
  }
  return i;
}

std::string Pad(absl::string_view text, size_t width) {
  std::string out(text);
  const size_t w = DisplayWidth(text);
  if (w < width) out.append(width - w, ' ');
  return out;
}

std::string Number(double x) { return absl::StrFormat("%.4g", x); }

template <typename Map>
std::vector<std::string> SortedKeys(const Map& map) {
  std::vector<std::string> keys;
  keys.reserve(map.size());
  for (const auto& [key, value] : map) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// "name=value ..." for numeric maps, in name order, at most `max` entries (0 = all).
std::string NamedNumbers(const google::protobuf::Map<std::string, double>& map, int max,
                         absl::string_view separator = "=") {
  std::vector<std::string> parts;
  for (const std::string& key : SortedKeys(map)) {
    if (max > 0 && static_cast<int>(parts.size()) == max) {
      parts.push_back(absl::StrCat("(+", map.size() - parts.size(), ")"));
      break;
    }
    parts.push_back(absl::StrCat(key, separator, Number(map.at(key))));
  }
  return absl::StrJoin(parts, " ");
}

// "structure", "text", ... for MODALITY_STRUCTURE, ...
std::string ModalityName(int modality) {
  std::string name = v1::Modality_Name(static_cast<v1::Modality>(modality));
  if (name.empty()) return absl::StrCat(modality);
  absl::string_view view = name;
  if (absl::ConsumePrefix(&view, "MODALITY_")) name = std::string(view);
  return absl::AsciiStrToLower(name);
}

template <typename Repeated>
std::string ModalityList(const Repeated& modalities) {
  std::vector<std::string> names;
  for (int m : modalities) names.push_back(ModalityName(m));
  return names.empty() ? "-" : absl::StrJoin(names, ", ");
}

// Aligned "name  value" lines.
std::string KeyValueLines(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [key, value] : rows) width = std::max(width, DisplayWidth(key));
  std::string out;
  for (const auto& [key, value] : rows) absl::StrAppend(&out, Pad(key, width), "  ", value, "\n");
  return out;
}

}  // namespace

size_t DisplayWidth(absl::string_view text) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    i += SequenceLength(static_cast<unsigned char>(text[i]));
  }
  return chars;
}

std::string Truncate(absl::string_view text, size_t max_chars) {
  std::string flat(text);
  for (char& c : flat) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (DisplayWidth(flat) <= max_chars) return flat;
  if (max_chars <= 3) return std::string(max_chars, '.');
  flat.resize(PrefixBytes(flat, max_chars - 3));
  return absl::StrCat(flat, "...");
}

std::string FormatHitsTable(const google::protobuf::RepeatedPtrField<v1::Hit>& hits,
                            const HitsTableOptions& options) {
  if (hits.empty()) return "no hits\n";
  const std::vector<std::string> header = {"rank",       "score",      "id",    "route",
                                           "precursors", "properties", "source"};
  std::vector<std::vector<std::string>> rows;
  for (int i = 0; i < hits.size(); ++i) {
    const v1::Hit& hit = hits[i];
    const std::string precursors = absl::StrJoin(hit.precursors(), " + ");
    rows.push_back({
        absl::StrCat(i + 1),
        absl::StrFormat("%.3f", hit.score()),
        Truncate(hit.id(), options.max_cell),
        Truncate(hit.route().empty() ? "-" : hit.route(), options.max_cell),
        Truncate(precursors.empty() ? "-" : precursors, options.max_cell),
        hit.properties().empty() ? "-" : NamedNumbers(hit.properties(), options.max_properties),
        Truncate(!hit.doi().empty()     ? hit.doi()
                 : hit.source().empty() ? "-"
                                        : hit.source(),
                 options.max_cell),
    });
  }
  std::vector<size_t> widths(header.size());
  for (size_t c = 0; c < header.size(); ++c) {
    widths[c] = DisplayWidth(header[c]);
    for (const auto& row : rows) widths[c] = std::max(widths[c], DisplayWidth(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t c = 0; c < cells.size(); ++c) {
      // Numbers right-aligned, text left-aligned; no padding after the last column.
      const size_t pad = widths[c] - std::min(widths[c], DisplayWidth(cells[c]));
      if (c > 0) out += "  ";
      if (c <= 1) {
        absl::StrAppend(&out, std::string(pad, ' '), cells[c]);
      } else {
        absl::StrAppend(&out, cells[c], c + 1 < cells.size() ? std::string(pad, ' ') : "");
      }
    }
    return out + "\n";
  };
  std::string out = line(header);
  const std::string indent(widths[0] + 2, ' ');
  for (int i = 0; i < hits.size(); ++i) {
    out += line(rows[i]);
    if (options.max_text > 0 && !hits[i].synthesis_text().empty()) {
      absl::StrAppend(&out, indent, Truncate(hits[i].synthesis_text(), options.max_text), "\n");
    }
  }
  return out;
}

std::string FormatEmbedding(const v1::EmbedResponse& response, size_t max_values) {
  const size_t n = static_cast<size_t>(response.vector_size());
  const size_t shown = max_values == 0 ? n : std::min(n, max_values);
  std::vector<std::string> values;
  for (size_t i = 0; i < shown; ++i) {
    values.push_back(absl::StrFormat("%.5f", response.vector(static_cast<int>(i))));
  }
  std::string out = absl::StrCat("model ", response.model_version(), ", dim ", n, "\n[",
                                 absl::StrJoin(values, ", "));
  if (shown < n) absl::StrAppend(&out, ", ... (", n - shown, " more)");
  return out + "]\n";
}

std::string FormatModelInfo(const v1::ModelInfoResponse& info) {
  std::vector<std::string> sizes;
  for (const std::string& key : SortedKeys(info.index_sizes())) {
    sizes.push_back(absl::StrCat(key, " ", info.index_sizes().at(key)));
  }
  auto list = [](const auto& names) {
    return names.empty() ? std::string("-") : absl::StrJoin(names, ", ");
  };
  return KeyValueLines({
      {"model version", info.model_version()},
      {"embedding dim", absl::StrCat(info.embed_dim())},
      {"device", info.device()},
      {"loaded at", info.loaded_at()},
      {"records", absl::StrCat(info.num_records())},
      {"index sizes", sizes.empty() ? "-" : absl::StrJoin(sizes, ", ")},
      {"target properties", list(info.property_names())},
      {"predicted properties", list(info.predicted_properties())},
      {"defect classes", list(info.defect_classes())},
  });
}

std::string FormatPrediction(const v1::PredictPropertiesResponse& response) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const std::string& key : SortedKeys(response.properties())) {
    rows.emplace_back(key, Number(response.properties().at(key)));
  }
  return absl::StrCat("model ", response.model_version(), "\n", KeyValueLines(rows));
}

std::string FormatClassification(const v1::ClassifyDefectResponse& response) {
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& [name, p] : response.probabilities()) ranked.emplace_back(p, name);
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& [p, name] : ranked) rows.emplace_back(name, absl::StrFormat("%.3f", p));
  return absl::StrCat("model ", response.model_version(), "\nlabel ", response.label(), "\n",
                      KeyValueLines(rows));
}

std::string FormatRecord(const v1::GetResponse& response) {
  const v1::Record& r = response.record();
  std::vector<std::pair<std::string, std::string>> rows = {
      {"id", r.id()},
      {"key", absl::StrCat(response.key())},
      {"embedded", ModalityList(response.embedded())},
      {"class", r.material_class().empty() ? "-" : r.material_class()},
      {"source", r.source().empty() ? "-" : r.source()},
  };
  if (!r.composition().empty())
    rows.emplace_back("composition", NamedNumbers(r.composition(), 0, ":"));
  if (!r.properties().empty()) rows.emplace_back("properties", NamedNumbers(r.properties(), 0));
  if (!r.labels().empty()) {
    std::vector<std::string> labels;
    for (const std::string& key : SortedKeys(r.labels())) {
      labels.push_back(absl::StrCat(key, "=", r.labels().at(key)));
    }
    rows.emplace_back("labels", absl::StrJoin(labels, " "));
  }
  if (r.has_synthesis()) {
    const v1::Synthesis& s = r.synthesis();
    if (!s.route().empty()) rows.emplace_back("route", s.route());
    if (!s.precursors().empty())
      rows.emplace_back("precursors", absl::StrJoin(s.precursors(), " + "));
    if (!s.temperatures_c().empty()) {
      rows.emplace_back("temperatures", absl::StrCat(absl::StrJoin(s.temperatures_c(), ", ",
                                                                   [](std::string* out, double t) {
                                                                     absl::StrAppend(out,
                                                                                     Number(t));
                                                                   }),
                                                     " C"));
    }
    if (!s.times_h().empty()) {
      rows.emplace_back("times", absl::StrCat(absl::StrJoin(s.times_h(), ", ",
                                                            [](std::string* out, double t) {
                                                              absl::StrAppend(out, Number(t));
                                                            }),
                                              " h"));
    }
    if (!s.atmosphere().empty()) rows.emplace_back("atmosphere", s.atmosphere());
    if (!s.doi().empty()) rows.emplace_back("doi", s.doi());
    if (!s.text().empty()) rows.emplace_back("synthesis", Truncate(s.text(), 2000));
  }
  if (r.has_structure()) {
    const v1::StructureInput& st = r.structure();
    rows.emplace_back(
        "structure",
        absl::StrCat(
            st.format().empty() ? "?" : st.format(),
            st.name().empty() ? "" : absl::StrCat(" ", st.name()),
            st.content().empty() ? "" : absl::StrCat(", ", st.content().size(), " bytes")));
  }
  for (int i = 0; i < r.images_size(); ++i) {
    const v1::ImageInput& im = r.images(i);
    rows.emplace_back(
        absl::StrCat("image ", i + 1),
        absl::StrCat(im.kind(), im.name().empty() ? "" : absl::StrCat(" ", im.name()),
                     im.data().empty() ? "" : absl::StrCat(", ", im.data().size(), " bytes")));
  }
  std::string out = KeyValueLines(rows);
  if (r.has_structure() && !r.structure().content().empty()) {
    absl::StrAppend(&out, "\n", r.structure().content());
    if (out.back() != '\n') out += "\n";
  }
  return out;
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  // Only fails for messages with unresolvable Any fields, which the API does not use.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  if (out.empty() || out.back() != '\n') out += "\n";
  return out;
}

}  // namespace matalign::mmclient
