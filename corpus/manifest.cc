#include "corpus/manifest.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/printable.h"
#include "common/status_macros.h"
#include "materials/element.h"

namespace matalign::corpus {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// At most this many bad lines are quoted in ReadManifest's error.
constexpr int kMaxReportedLines = 10;

absl::Status CheckFinite(double v, absl::string_view what) {
  if (!std::isfinite(v)) return absl::InvalidArgumentError(absl::StrCat(what, " is not finite"));
  return absl::OkStatus();
}

absl::Status CheckRelativePath(const std::string& path, absl::string_view what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (path.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(what, " '", Printable(path),
                                                   "' is absolute (must be relative to the "
                                                   "manifest's directory)"));
  }
  return absl::OkStatus();
}

// ---- JSON -> Record helpers. Each names the field in its error. ----

absl::Status CheckKeys(const Json& obj, std::initializer_list<const char*> allowed,
                       absl::string_view where) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (const char* k : allowed) known = known || it.key() == k;
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown key '", Printable(it.key()), "' in ", where));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const Json& v, absl::string_view what) {
  if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat(what, " must be a string"));
  return v.get<std::string>();
}

absl::StatusOr<double> GetNumber(const Json& v, absl::string_view what) {
  if (!v.is_number()) return absl::InvalidArgumentError(absl::StrCat(what, " must be a number"));
  const double d = v.get<double>();
  MATALIGN_RETURN_IF_ERROR(CheckFinite(d, what));
  return d;
}

absl::StatusOr<std::vector<double>> GetNumberArray(const Json& v, absl::string_view what) {
  if (!v.is_array()) return absl::InvalidArgumentError(absl::StrCat(what, " must be an array"));
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) {
    MATALIGN_ASSIGN_OR_RETURN(double d, GetNumber(v[i], absl::StrCat(what, "[", i, "]")));
    out.push_back(d);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> GetStringArray(const Json& v, absl::string_view what) {
  if (!v.is_array()) return absl::InvalidArgumentError(absl::StrCat(what, " must be an array"));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    MATALIGN_ASSIGN_OR_RETURN(std::string s, GetString(v[i], absl::StrCat(what, "[", i, "]")));
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<std::map<std::string, double>> GetNumberMap(const Json& v, absl::string_view what) {
  if (!v.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, " must be an object"));
  std::map<std::string, double> out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    MATALIGN_ASSIGN_OR_RETURN(double d,
                              GetNumber(it.value(), absl::StrCat(what, ".", Printable(it.key()))));
    out[it.key()] = d;
  }
  return out;
}

absl::StatusOr<StructureRef> ParseStructureJson(const Json& v) {
  if (!v.is_object()) return absl::InvalidArgumentError("structure must be an object");
  MATALIGN_RETURN_IF_ERROR(CheckKeys(v, {"path", "inline", "format"}, "structure"));
  StructureRef s;
  const bool has_path = v.contains("path"), has_inline = v.contains("inline");
  if (has_path == has_inline) {
    return absl::InvalidArgumentError("structure must have exactly one of 'path' and 'inline'");
  }
  if (has_path) {
    MATALIGN_ASSIGN_OR_RETURN(s.path, GetString(v["path"], "structure.path"));
  } else {
    MATALIGN_ASSIGN_OR_RETURN(s.text, GetString(v["inline"], "structure.inline"));
  }
  if (!v.contains("format")) return absl::InvalidArgumentError("structure.format is missing");
  MATALIGN_ASSIGN_OR_RETURN(s.format, GetString(v["format"], "structure.format"));
  return s;
}

absl::StatusOr<SynthesisRecipe> ParseSynthesisJson(const Json& v) {
  if (!v.is_object()) return absl::InvalidArgumentError("synthesis must be an object");
  MATALIGN_RETURN_IF_ERROR(CheckKeys(
      v, {"text", "route", "precursors", "temperatures_c", "times_h", "atmosphere", "doi"},
      "synthesis"));
  SynthesisRecipe r;
  if (v.contains("text")) {
    MATALIGN_ASSIGN_OR_RETURN(r.text, GetString(v["text"], "synthesis.text"));
  }
  if (v.contains("route")) {
    MATALIGN_ASSIGN_OR_RETURN(r.route, GetString(v["route"], "synthesis.route"));
  }
  if (v.contains("precursors")) {
    MATALIGN_ASSIGN_OR_RETURN(r.precursors,
                              GetStringArray(v["precursors"], "synthesis.precursors"));
  }
  if (v.contains("temperatures_c")) {
    MATALIGN_ASSIGN_OR_RETURN(r.temperatures_c,
                              GetNumberArray(v["temperatures_c"], "synthesis.temperatures_c"));
  }
  if (v.contains("times_h")) {
    MATALIGN_ASSIGN_OR_RETURN(r.times_h, GetNumberArray(v["times_h"], "synthesis.times_h"));
  }
  if (v.contains("atmosphere")) {
    MATALIGN_ASSIGN_OR_RETURN(r.atmosphere, GetString(v["atmosphere"], "synthesis.atmosphere"));
  }
  if (v.contains("doi")) {
    MATALIGN_ASSIGN_OR_RETURN(r.doi, GetString(v["doi"], "synthesis.doi"));
  }
  return r;
}

absl::StatusOr<std::vector<ImageRef>> ParseImagesJson(const Json& v) {
  if (!v.is_array()) return absl::InvalidArgumentError("images must be an array");
  std::vector<ImageRef> out;
  for (size_t i = 0; i < v.size(); ++i) {
    const std::string where = absl::StrCat("images[", i, "]");
    const Json& e = v[i];
    if (!e.is_object())
      return absl::InvalidArgumentError(absl::StrCat(where, " must be an object"));
    MATALIGN_RETURN_IF_ERROR(CheckKeys(e, {"path", "kind"}, where));
    if (!e.contains("path") || !e.contains("kind")) {
      return absl::InvalidArgumentError(absl::StrCat(where, " needs 'path' and 'kind'"));
    }
    ImageRef img;
    MATALIGN_ASSIGN_OR_RETURN(img.path, GetString(e["path"], absl::StrCat(where, ".path")));
    MATALIGN_ASSIGN_OR_RETURN(img.kind, GetString(e["kind"], absl::StrCat(where, ".kind")));
    out.push_back(std::move(img));
  }
  return out;
}

absl::StatusOr<Record> ParseRecordObject(const Json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("a manifest line must be a JSON object");
  MATALIGN_RETURN_IF_ERROR(CheckKeys(j,
                                     {"id", "class", "split", "source", "composition", "structure",
                                      "synthesis", "images", "properties", "labels"},
                                     "record"));
  Record r;
  for (const char* required : {"id", "class", "split"}) {
    if (!j.contains(required)) {
      return absl::InvalidArgumentError(absl::StrCat("missing required field '", required, "'"));
    }
  }
  MATALIGN_ASSIGN_OR_RETURN(r.id, GetString(j["id"], "id"));
  MATALIGN_ASSIGN_OR_RETURN(std::string cls, GetString(j["class"], "class"));
  MATALIGN_ASSIGN_OR_RETURN(r.material_class, ParseMaterialClass(cls));
  MATALIGN_ASSIGN_OR_RETURN(std::string split, GetString(j["split"], "split"));
  MATALIGN_ASSIGN_OR_RETURN(r.split, ParseSplit(split));
  if (j.contains("source")) {
    MATALIGN_ASSIGN_OR_RETURN(r.source, GetString(j["source"], "source"));
  }
  if (j.contains("composition")) {
    MATALIGN_ASSIGN_OR_RETURN(r.composition, GetNumberMap(j["composition"], "composition"));
  }
  if (j.contains("structure")) {
    MATALIGN_ASSIGN_OR_RETURN(r.structure, ParseStructureJson(j["structure"]));
  }
  if (j.contains("synthesis")) {
    MATALIGN_ASSIGN_OR_RETURN(r.synthesis, ParseSynthesisJson(j["synthesis"]));
  }
  if (j.contains("images")) {
    MATALIGN_ASSIGN_OR_RETURN(r.images, ParseImagesJson(j["images"]));
  }
  if (j.contains("properties")) {
    MATALIGN_ASSIGN_OR_RETURN(r.properties, GetNumberMap(j["properties"], "properties"));
  }
  if (j.contains("labels")) {
    const Json& l = j["labels"];
    if (!l.is_object()) return absl::InvalidArgumentError("labels must be an object");
    for (auto it = l.begin(); it != l.end(); ++it) {
      MATALIGN_ASSIGN_OR_RETURN(
          r.labels[it.key()], GetString(it.value(), absl::StrCat("labels.", Printable(it.key()))));
    }
  }
  MATALIGN_RETURN_IF_ERROR(ValidateRecord(r));
  return r;
}

}  // namespace

bool IsKnownStructureFormat(absl::string_view format) {
  return format == "cif" || format == "poscar" || format == "xyz";
}

bool IsKnownImageKind(absl::string_view kind) { return kind == "sem" || kind == "xrd"; }

absl::Status ValidateRecord(const Record& record) {
  if (record.id.empty()) return absl::InvalidArgumentError("id is empty");
  for (const auto& [symbol, amount] : record.composition) {
    const materials::ElementInfo* e = materials::ElementBySymbol(symbol);
    if (e == nullptr || symbol != e->symbol) {
      return absl::InvalidArgumentError(
          absl::StrCat("composition: unknown element symbol '", Printable(symbol), "'"));
    }
    if (!std::isfinite(amount) || amount <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("composition.", symbol, " must be a finite ", "number > 0, got ", amount));
    }
  }
  if (record.structure) {
    const StructureRef& s = *record.structure;
    if (s.path.empty() == s.text.empty()) {
      return absl::InvalidArgumentError(
          "structure must have exactly one non-empty of 'path' and 'inline'");
    }
    if (!s.path.empty()) MATALIGN_RETURN_IF_ERROR(CheckRelativePath(s.path, "structure.path"));
    if (!IsKnownStructureFormat(s.format)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown structure.format '", Printable(s.format), "' (expected cif, poscar or xyz)"));
    }
  }
  if (record.synthesis) {
    const SynthesisRecipe& r = *record.synthesis;
    for (size_t i = 0; i < r.temperatures_c.size(); ++i) {
      const double t = r.temperatures_c[i];
      if (!std::isfinite(t) || t < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("synthesis.temperatures_c[", i, "] must be finite and >= 0, got ", t));
      }
    }
    for (size_t i = 0; i < r.times_h.size(); ++i) {
      const double t = r.times_h[i];
      if (!std::isfinite(t) || t < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("synthesis.times_h[", i, "] must be finite and >= 0, got ", t));
      }
    }
  }
  for (size_t i = 0; i < record.images.size(); ++i) {
    const ImageRef& img = record.images[i];
    MATALIGN_RETURN_IF_ERROR(CheckRelativePath(img.path, absl::StrCat("images[", i, "].path")));
    if (!IsKnownImageKind(img.kind)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown images[", i, "].kind '", Printable(img.kind), "' (expected sem or xrd)"));
    }
  }
  for (const auto& [name, value] : record.properties) {
    MATALIGN_RETURN_IF_ERROR(CheckFinite(value, absl::StrCat("properties.", Printable(name))));
  }
  return absl::OkStatus();
}

std::string RecordToJsonLine(const Record& record) {
  OrderedJson j;
  j["id"] = record.id;
  j["class"] = std::string(MaterialClassName(record.material_class));
  j["split"] = std::string(SplitName(record.split));
  if (!record.source.empty()) j["source"] = record.source;
  if (!record.composition.empty()) {
    OrderedJson c = OrderedJson::object();
    for (const auto& [symbol, amount] : record.composition) c[symbol] = amount;
    j["composition"] = std::move(c);
  }
  if (record.structure) {
    OrderedJson s;
    if (!record.structure->path.empty()) {
      s["path"] = record.structure->path;
    } else {
      s["inline"] = record.structure->text;
    }
    s["format"] = record.structure->format;
    j["structure"] = std::move(s);
  }
  if (record.synthesis) {
    const SynthesisRecipe& r = *record.synthesis;
    OrderedJson s;
    s["text"] = r.text;
    if (!r.route.empty()) s["route"] = r.route;
    if (!r.precursors.empty()) s["precursors"] = r.precursors;
    if (!r.temperatures_c.empty()) s["temperatures_c"] = r.temperatures_c;
    if (!r.times_h.empty()) s["times_h"] = r.times_h;
    if (!r.atmosphere.empty()) s["atmosphere"] = r.atmosphere;
    if (!r.doi.empty()) s["doi"] = r.doi;
    j["synthesis"] = std::move(s);
  }
  if (!record.images.empty()) {
    OrderedJson images = OrderedJson::array();
    for (const ImageRef& img : record.images) {
      OrderedJson e;
      e["path"] = img.path;
      e["kind"] = img.kind;
      images.push_back(std::move(e));
    }
    j["images"] = std::move(images);
  }
  if (!record.properties.empty()) {
    OrderedJson p = OrderedJson::object();
    for (const auto& [name, value] : record.properties) p[name] = value;
    j["properties"] = std::move(p);
  }
  if (!record.labels.empty()) {
    OrderedJson l = OrderedJson::object();
    for (const auto& [name, value] : record.labels) l[name] = value;
    j["labels"] = std::move(l);
  }
  // error_handler_t::replace: invalid UTF-8 becomes U+FFFD instead of throwing.
  return j.dump(-1, ' ', /*ensure_ascii=*/false, OrderedJson::error_handler_t::replace);
}

absl::StatusOr<Record> ParseRecordJson(absl::string_view line, absl::string_view source,
                                       int line_number) {
  Json j;
  try {
    j = Json::parse(line.begin(), line.end());
  } catch (const std::exception& e) {
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    const size_t bracket = what.find("] ");
    if (what.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) {
      what = what.substr(bracket + 2);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", line_number, ": invalid JSON: ", Printable(what)));
  }
  absl::StatusOr<Record> record = ParseRecordObject(j);
  if (!record.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", line_number, ": ", record.status().message()));
  }
  return record;
}

absl::StatusOr<std::vector<Record>> ReadManifest(const std::string& path,
                                                 const ManifestReadOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  std::error_code ec;
  if (!fs::exists(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  if (fs::is_directory(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": is a directory, not a manifest"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open"));
  const fs::path dir = fs::path(path).parent_path();

  std::vector<Record> records;
  std::vector<std::string> errors;
  int bad_lines = 0;
  std::unordered_map<std::string, int> first_line_of_id;
  auto add_error = [&](std::string message) {
    ++bad_lines;
    if (static_cast<int>(errors.size()) < kMaxReportedLines) errors.push_back(std::move(message));
  };

  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    absl::StatusOr<Record> record = ParseRecordJson(line, path, line_number);
    if (!record.ok()) {
      add_error(std::string(record.status().message()));
      continue;
    }
    auto [it, inserted] = first_line_of_id.emplace(record->id, line_number);
    if (!inserted) {
      add_error(absl::StrCat(path, ":", line_number, ": duplicate id '", Printable(record->id),
                             "' (first on line ", it->second, ")"));
      continue;
    }
    if (options.check_files) {
      std::vector<std::string> missing;
      if (record->structure && !record->structure->path.empty() &&
          !fs::exists(dir / record->structure->path, ec)) {
        missing.push_back(
            absl::StrCat("structure.path '", Printable(record->structure->path), "'"));
      }
      for (size_t i = 0; i < record->images.size(); ++i) {
        if (!fs::exists(dir / record->images[i].path, ec)) {
          missing.push_back(
              absl::StrCat("images[", i, "].path '", Printable(record->images[i].path), "'"));
        }
      }
      if (!missing.empty()) {
        add_error(absl::StrCat(path, ":", line_number,
                               ": missing file(s): ", absl::StrJoin(missing, ", ")));
        continue;
      }
    }
    records.push_back(*std::move(record));
  }
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(path, ": read error"));
  if (bad_lines > 0) {
    std::string message = absl::StrCat(path, ": ", bad_lines, " invalid line(s)");
    if (bad_lines > kMaxReportedLines) absl::StrAppend(&message, ", first ", kMaxReportedLines);
    for (const std::string& e : errors) absl::StrAppend(&message, "\n", e);
    return absl::InvalidArgumentError(message);
  }
  return records;
}

// ---- ManifestWriter ----

ManifestWriter::ManifestWriter(std::string path, std::FILE* file)
    : path_(std::move(path)), file_(file) {}

ManifestWriter::~ManifestWriter() {
  if (file_ != nullptr) {
    std::fclose(file_);
    std::error_code ec;
    fs::remove(path_ + ".tmp", ec);
  }
}

absl::StatusOr<std::unique_ptr<ManifestWriter>> ManifestWriter::Create(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("manifest path is empty");
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat(path, ": cannot create directory ", parent.string(), ": ", ec.message()));
    }
  }
  const std::string tmp = path + ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) {
    return absl::InternalError(absl::StrCat(tmp, ": cannot create: ", std::strerror(errno)));
  }
  return std::unique_ptr<ManifestWriter>(new ManifestWriter(path, file));
}

absl::Status ManifestWriter::Append(const Record& record) {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": Append after Close"));
  }
  absl::Status valid = ValidateRecord(record);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": record '", Printable(record.id), "': ", valid.message()));
  }
  if (!ids_.insert(record.id).second) {
    return absl::InvalidArgumentError(
        absl::StrCat(path_, ": record '", Printable(record.id), "': duplicate id"));
  }
  std::string line = RecordToJsonLine(record);
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size()) {
    return absl::InternalError(absl::StrCat(path_, ".tmp: write failed: ", std::strerror(errno)));
  }
  ++count_;
  return absl::OkStatus();
}

absl::Status ManifestWriter::Close() {
  if (file_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, ": already closed"));
  }
  const std::string tmp = path_ + ".tmp";
  const bool flushed = std::fflush(file_) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!flushed || !closed) {
    std::error_code ec;
    fs::remove(tmp, ec);
    return absl::InternalError(absl::StrCat(tmp, ": write failed: ", std::strerror(errno)));
  }
  std::error_code ec;
  fs::rename(tmp, path_, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot rename ", tmp, " to ", path_, ": ", ec.message()));
  }
  return absl::OkStatus();
}

std::map<std::string, int64_t> CountManifest(const std::vector<Record>& records) {
  std::map<std::string, int64_t> counts;
  for (const Record& r : records) {
    ++counts[absl::StrCat("class ", MaterialClassName(r.material_class))];
    ++counts[absl::StrCat("split ", SplitName(r.split))];
    if (r.structure) ++counts["with structure"];
    if (r.synthesis) ++counts["with synthesis"];
    for (const ImageRef& img : r.images) ++counts[absl::StrCat("image ", img.kind)];
  }
  return counts;
}

absl::Status WriteDerivedManifest(const std::string& path, const std::vector<Record>& records,
                                  const std::string& records_dir) {
  const fs::path from = fs::absolute(records_dir).lexically_normal();
  const fs::path to = fs::absolute(path).parent_path().lexically_normal();
  auto rebase = [&](const std::string& relative) {
    return (from / relative).lexically_normal().lexically_relative(to).string();
  };
  MATALIGN_ASSIGN_OR_RETURN(std::unique_ptr<ManifestWriter> writer, ManifestWriter::Create(path));
  for (Record record : records) {
    if (record.structure && !record.structure->path.empty()) {
      record.structure->path = rebase(record.structure->path);
    }
    for (ImageRef& image : record.images) image.path = rebase(image.path);
    MATALIGN_RETURN_IF_ERROR(writer->Append(record));
  }
  return writer->Close();
}

}  // namespace matalign::corpus
