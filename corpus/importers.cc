#include "corpus/importers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <filesystem>
#include <istream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/csv.h"
#include "common/file.h"
#include "common/input_file.h"
#include "common/printable.h"
#include "common/status_macros.h"
#include "corpus/manifest.h"
#include "corpus/text_mined.h"
#include "materials/element.h"
#include "materials/formula.h"
#include "materials/perov5.h"
#include "materials/structure.h"
#include "materials/structure_io.h"
#include "text/corpus.h"
#include "xrd/pattern.h"

namespace matalign::corpus {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

constexpr size_t kMaxSkipReasons = 20;
constexpr char kManifestName[] = "manifest.jsonl";
// Longest JSON line accepted from a recipe file; larger decompressed inputs are refused.
constexpr size_t kMaxRecipeLineBytes = size_t{64} << 20;
constexpr uint64_t kMaxRecipeFileBytes = uint64_t{1} << 30;

// Collects the records of one import and the reasons for skipped items.
class ImportSink {
 public:
  static absl::StatusOr<ImportSink> Create(const std::string& out_dir) {
    ImportSink sink;
    sink.summary_.manifest_path = (fs::path(out_dir) / kManifestName).string();
    MATALIGN_ASSIGN_OR_RETURN(sink.writer_, ManifestWriter::Create(sink.summary_.manifest_path));
    return sink;
  }

  // Appends `record` and returns true; a record the writer rejects (invalid, duplicate id)
  // is skipped with the writer's reason (returns false) rather than failing the import.
  absl::StatusOr<bool> Append(const Record& record) {
    absl::Status s = writer_->Append(record);
    if (s.code() == absl::StatusCode::kInvalidArgument) {
      Skip(absl::StrContains(s.message(), "duplicate id") ? "duplicate id" : "invalid record",
           std::string(s.message()));
      return false;
    }
    MATALIGN_RETURN_IF_ERROR(s);
    ++summary_.records;
    return true;
  }

  void Skip(const std::string& kind, std::string reason) {
    ++summary_.skipped;
    ++summary_.skipped_by_kind[kind];
    if (summary_.skipped_reasons.size() < kMaxSkipReasons) {
      summary_.skipped_reasons.push_back(std::move(reason));
    }
  }
  // Counts something dropped from a record that was kept (not a skipped item).
  void Note(const std::string& kind) { ++summary_.skipped_by_kind[kind]; }

  absl::StatusOr<ImportSummary> Finish() {
    MATALIGN_RETURN_IF_ERROR(writer_->Close());
    return std::move(summary_);
  }

 private:
  ImportSink() = default;
  std::unique_ptr<ManifestWriter> writer_;
  ImportSummary summary_;
};

// "12", "0.5", "1200.25": at most 3 decimals, no trailing zeros.
std::string FormatNumber(double v) {
  std::string s = absl::StrFormat("%.3f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  if (s == "-0") s = "0";
  return s;
}

// Relative path from `dir` to `file`, both made absolute and canonical (symlinks resolved
// where they exist), so the manifest in `dir` can refer to `file`.
std::string RelativePath(const std::string& file, const std::string& dir) {
  std::error_code ec;
  fs::path f = fs::weakly_canonical(fs::absolute(file), ec);
  if (ec) f = fs::absolute(file).lexically_normal();
  fs::path d = fs::weakly_canonical(fs::absolute(dir), ec);
  if (ec) d = fs::absolute(dir).lexically_normal();
  return f.lexically_relative(d).string();
}

std::string CompositionKey(const std::map<std::string, double>& composition) {
  std::string key;
  for (const auto& [symbol, amount] : composition) {
    absl::StrAppend(&key, symbol, absl::StrFormat("%.6g", amount), ";");
  }
  return key;
}

// True if `symbol` is exactly a known element symbol (case-sensitive).
bool IsElementSymbol(absl::string_view symbol) {
  const materials::ElementInfo* e = materials::ElementBySymbol(symbol);
  return e != nullptr && symbol == e->symbol;
}

// ---- recipes ----

absl::StatusOr<double> ParseAmount(const Json& v) {
  double d = 0;
  if (v.is_number()) {
    d = v.get<double>();
  } else if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (!absl::SimpleAtod(s, &d)) {
      return absl::InvalidArgumentError(absl::StrCat("non-numeric amount '", Printable(s), "'"));
    }
  } else {
    return absl::InvalidArgumentError("amount is neither a number nor a string");
  }
  if (!std::isfinite(d) || d <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("non-positive amount ", d));
  }
  return d;
}

// First non-empty string of a string or array-of-strings condition, else "".
std::string FirstString(const Json& conditions, const char* key) {
  auto it = conditions.find(key);
  if (it == conditions.end()) return "";
  if (it->is_string()) return std::string(absl::StripAsciiWhitespace(it->get<std::string>()));
  if (it->is_array()) {
    for (const Json& v : *it) {
      if (v.is_string() && !absl::StripAsciiWhitespace(v.get<std::string>()).empty()) {
        return std::string(absl::StripAsciiWhitespace(v.get<std::string>()));
      }
    }
  }
  return "";
}

// The verb of an operation: its token when it reads as a past participle, else one for its
// type. Returns "" for operations that are not steps (StartingSynthesis).
std::string OperationVerb(const std::string& type, const std::string& token) {
  if (type == "StartingSynthesis") return "";
  std::string t = absl::AsciiStrToLower(token);
  const bool letters = !t.empty() && std::all_of(t.begin(), t.end(), [](unsigned char c) {
    return std::isalpha(c) != 0;
  });
  if (letters && (absl::EndsWith(t, "ed") || t == "ground" || t == "reground" || t == "held" ||
                  t == "kept" || t == "spun")) {
    return t;
  }
  if (type == "HeatingOperation") return "heated";
  if (type == "DryingOperation") return "dried";
  if (type == "ShapingOperation") return "pressed";
  if (type == "QuenchingOperation") return "quenched";
  if (type == "LiquidGrinding") return "ground";
  if (type == "SolutionMixing") return "dissolved";
  if (type == "Mixing" || type == "MixingOperation") return "mixed";
  return "treated";
}

struct RecipeContext {
  std::string file_name;  // for sources and messages
  std::string stem;       // for ids
  bool json_lines = true;
  const ImportOptions* options = nullptr;
  ImportSink* sink = nullptr;
  size_t index = 0;     // reaction index in the file
  size_t imported = 0;  // records written from this file
};

// Converts one reaction to a record and appends it, or records why it was skipped.
absl::Status ImportReaction(const Json& r, const std::string& where, RecipeContext* ctx) {
  const ImportOptions& options = *ctx->options;
  auto skip = [&](const std::string& kind, const std::string& reason) {
    ctx->sink->Skip(kind, absl::StrCat(where, ": ", reason));
    return absl::OkStatus();
  };
  if (!r.is_object()) return skip("malformed record", "reaction is not an object");
  Record rec;
  rec.id = absl::StrCat(ctx->stem, "-", ctx->index);
  rec.material_class = options.material_class;
  rec.source = where;

  // Composition: target.composition[0].elements.
  auto target = r.find("target");
  if (target == r.end() || !target->is_object()) return skip("no target", "no target object");
  auto comp = target->find("composition");
  if (comp == target->end() || !comp->is_array() || comp->empty() || !(*comp)[0].is_object()) {
    return skip("no composition", "target has no composition");
  }
  auto elements = (*comp)[0].find("elements");
  if (elements == (*comp)[0].end() || !elements->is_object() || elements->empty()) {
    return skip("no composition", "target composition has no elements");
  }
  for (auto it = elements->begin(); it != elements->end(); ++it) {
    if (!IsElementSymbol(it.key())) {
      return skip("unknown element", absl::StrCat("unknown element '", Printable(it.key()), "'"));
    }
    absl::StatusOr<double> amount = ParseAmount(it.value());
    if (!amount.ok()) {
      return skip(absl::StartsWith(amount.status().message(), "non-numeric") ? "non-numeric amount"
                                                                             : "bad amount",
                  absl::StrCat(it.key(), ": ", amount.status().message()));
    }
    rec.composition[it.key()] = *amount;
  }

  SynthesisRecipe syn;
  if (ctx->json_lines) {
    syn.route = "solid-state";
  } else {
    auto type = r.find("synthesis_type");
    if (type != r.end() && type->is_string()) syn.route = type->get<std::string>();
  }
  auto doi = r.find("doi");
  if (doi != r.end() && doi->is_string()) syn.doi = doi->get<std::string>();
  auto precursors = r.find("precursors");
  if (precursors != r.end() && precursors->is_array()) {
    for (const Json& p : *precursors) {
      if (!p.is_object()) continue;
      auto f = p.find("material_formula");
      if (f == p.end() || !f->is_string()) continue;
      std::string formula(absl::StripAsciiWhitespace(f->get<std::string>()));
      if (!formula.empty() && std::find(syn.precursors.begin(), syn.precursors.end(), formula) ==
                                  syn.precursors.end()) {
        syn.precursors.push_back(std::move(formula));
      }
    }
  }

  std::vector<RecipeStep> steps;
  auto operations = r.find("operations");
  if (operations != r.end() && operations->is_array()) {
    for (const Json& op : *operations) {
      if (!op.is_object()) continue;
      auto type = op.find("type");
      auto token = op.find("token");
      RecipeStep step;
      step.verb =
          OperationVerb(type != op.end() && type->is_string() ? type->get<std::string>() : "",
                        token != op.end() && token->is_string() ? token->get<std::string>() : "");
      auto cond = op.find("conditions");
      if (cond != op.end() && cond->is_object()) {
        auto temps = cond->find("heating_temperature");
        if (temps != cond->end()) {
          for (const ConditionEntry& entry : ConditionEntries(*temps)) {
            if (!ToCelsius(0, entry.units)) {
              ctx->sink->Note("unknown temperature unit");
              continue;
            }
            for (double raw : entry.values) {
              const double t = *ToCelsius(raw, entry.units);
              if (!std::isfinite(t) || t < options.min_temperature_c ||
                  t > options.max_temperature_c) {
                ctx->sink->Note("dropped temperature");
                continue;
              }
              syn.temperatures_c.push_back(t);
              step.temperature_c = std::max(step.temperature_c.value_or(t), t);
            }
          }
        }
        auto times = cond->find("heating_time");
        if (times != cond->end()) {
          for (const ConditionEntry& entry : ConditionEntries(*times)) {
            const double factor = HoursPerUnit(entry.units);
            if (factor == 0) {
              ctx->sink->Note("unknown time unit");
              continue;
            }
            for (double raw : entry.values) {
              const double t = raw * factor;
              if (!std::isfinite(t) || t <= 0) {
                ctx->sink->Note("dropped time");
                continue;
              }
              syn.times_h.push_back(t);
              step.time_h = std::max(step.time_h.value_or(t), t);
            }
          }
        }
        step.atmosphere = FirstString(*cond, "heating_atmosphere");
        if (syn.atmosphere.empty()) syn.atmosphere = step.atmosphere;
        step.medium = FirstString(*cond, "mixing_media");
      }
      if (!step.verb.empty()) steps.push_back(std::move(step));
    }
  }
  syn.text = RenderRecipeText(syn.precursors, steps);
  rec.synthesis = std::move(syn);
  rec.split = SplitForKey(CompositionKey(rec.composition));
  MATALIGN_ASSIGN_OR_RETURN(const bool written, ctx->sink->Append(rec));
  if (written) ++ctx->imported;
  return absl::OkStatus();
}

// Thrown from the JSON parser callback to stop reading a .json recipe file at the limit;
// caught in ImportRecipeFile and never escapes it.
struct StopParsing {};

absl::Status ImportRecipeFile(const std::string& path, const ImportOptions& options,
                              ImportSink* sink) {
  RecipeContext ctx;
  ctx.file_name = Basename(path);
  std::string name = ctx.file_name;
  if (absl::EndsWith(name, ".xz")) name.resize(name.size() - 3);
  if (absl::EndsWith(name, ".jsonl")) {
    ctx.json_lines = true;
    ctx.stem = name.substr(0, name.size() - 6);
  } else if (absl::EndsWith(name, ".json")) {
    ctx.json_lines = false;
    ctx.stem = name.substr(0, name.size() - 5);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": unknown recipe file extension (expected .jsonl[.xz] or .json[.xz])"));
  }
  ctx.options = &options;
  ctx.sink = sink;
  MATALIGN_ASSIGN_OR_RETURN(auto buffer, InputFileBuffer::Open(path, kMaxRecipeFileBytes));

  if (ctx.json_lines) {
    std::string line;
    size_t line_number = 0;
    while (options.limit == 0 || ctx.imported < options.limit) {
      if (!buffer->ReadLine(&line, kMaxRecipeLineBytes, line_number + 1)) break;
      ++line_number;
      if (absl::StripAsciiWhitespace(line).empty()) continue;
      const std::string where = absl::StrCat(ctx.file_name, ":", line_number);
      Json r = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (r.is_discarded()) {
        sink->Skip("malformed record", absl::StrCat(where, ": invalid JSON"));
      } else {
        MATALIGN_RETURN_IF_ERROR(ImportReaction(r, where, &ctx));
      }
      ++ctx.index;
    }
    return buffer->status();
  }

  // {"reactions": [...]}: parse with a callback that hands each reaction (depth 2) to
  // ImportReaction and discards it, so the file is never held as one DOM.
  absl::Status status;
  bool saw_reactions = false;
  auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
    if (depth == 1 && event == Json::parse_event_t::key && parsed == "reactions") {
      saw_reactions = true;
    }
    if (depth == 2 && event == Json::parse_event_t::object_end && saw_reactions) {
      if (status.ok()) {
        status = ImportReaction(parsed, absl::StrCat(ctx.file_name, ":reactions[", ctx.index, "]"),
                                &ctx);
      }
      ++ctx.index;
      if (!status.ok() || (options.limit != 0 && ctx.imported >= options.limit)) {
        throw StopParsing{};
      }
      return false;
    }
    // Keep the rest of the (small) top level, drop everything below reactions' elements
    // only once they are handled above.
    return true;
  };
  std::istream in(buffer.get());
  try {
    Json root = Json::parse(in, callback);
    if (!root.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON object"));
    }
  } catch (const StopParsing&) {
    // Limit reached or an I/O error: fall through.
  } catch (const std::exception& e) {
    MATALIGN_RETURN_IF_ERROR(buffer->status());
    return absl::InvalidArgumentError(absl::StrCat(path, ": invalid JSON: ", Printable(e.what())));
  }
  MATALIGN_RETURN_IF_ERROR(status);
  MATALIGN_RETURN_IF_ERROR(buffer->status());
  if (!saw_reactions) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no \"reactions\" array"));
  }
  return absl::OkStatus();
}

// ---- XRD names ----

// True if `formula` is a chemical formula whose element symbols are all known:
// letters, digits, '.', and parentheses, every element token [A-Z][a-z]? known.
bool LooksLikeFormula(absl::string_view formula) {
  if (formula.empty() || !absl::ascii_isupper(static_cast<unsigned char>(formula[0]))) {
    return false;
  }
  for (size_t i = 0; i < formula.size();) {
    const unsigned char c = formula[i];
    if (absl::ascii_isupper(c)) {
      size_t n = 1;
      if (i + 1 < formula.size() &&
          absl::ascii_islower(static_cast<unsigned char>(formula[i + 1]))) {
        n = 2;
      }
      if (!IsElementSymbol(formula.substr(i, n))) return false;
      i += n;
    } else if (absl::ascii_isdigit(c) || c == '.' || c == '(' || c == ')') {
      ++i;
    } else {
      return false;
    }
  }
  return true;
}

// Splits "900C" into 900 and "C". Returns false if there is no leading number.
bool SplitNumberUnit(absl::string_view s, double* value, std::string* unit) {
  size_t i = 0;
  while (i < s.size() && (absl::ascii_isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
    ++i;
  }
  if (i == 0 || !absl::SimpleAtod(s.substr(0, i), value)) return false;
  *unit = std::string(s.substr(i));
  return true;
}

}  // namespace

absl::Status ImportOptions::Validate() const {
  if (!std::isfinite(min_temperature_c) || !std::isfinite(max_temperature_c) ||
      min_temperature_c > max_temperature_c) {
    return absl::InvalidArgumentError(
        absl::StrCat("ImportOptions: need finite min_temperature_c <= max_temperature_c, got ",
                     min_temperature_c, " and ", max_temperature_c));
  }
  return absl::OkStatus();
}

Split SplitForKey(absl::string_view key) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  const uint64_t bucket = h % 10;
  if (bucket < 8) return Split::kTrain;
  return bucket == 8 ? Split::kVal : Split::kTest;
}

std::string RenderRecipeText(const std::vector<std::string>& precursors,
                             const std::vector<RecipeStep>& steps) {
  std::string subject;
  if (precursors.empty()) {
    subject = "The starting materials were";
  } else if (precursors.size() == 1) {
    subject = absl::StrCat(precursors[0], " was");
  } else {
    subject = absl::StrCat(absl::StrJoin(precursors.begin(), precursors.end() - 1, ", "), " and ",
                           precursors.back(), " were");
  }
  if (steps.empty()) return absl::StrCat(subject, " used.");

  auto phrase = [](const RecipeStep& s) {
    std::string p = s.verb;
    if (!s.medium.empty()) absl::StrAppend(&p, " in ", s.medium);
    if (s.temperature_c) absl::StrAppend(&p, " at ", FormatNumber(*s.temperature_c), " \u00b0C");
    if (s.time_h) {
      if (*s.time_h < 1) {
        absl::StrAppend(&p, " for ", FormatNumber(*s.time_h * 60), " min");
      } else {
        absl::StrAppend(&p, " for ", FormatNumber(*s.time_h), " h");
      }
    }
    if (!s.atmosphere.empty()) absl::StrAppend(&p, " in ", s.atmosphere);
    return p;
  };
  auto join = [](const std::vector<std::string>& parts) {
    if (parts.size() == 1) return parts[0];
    if (parts.size() == 2) return absl::StrCat(parts[0], " and ", parts[1]);
    return absl::StrCat(absl::StrJoin(parts.begin(), parts.end() - 1, ", "), ", and ",
                        parts.back());
  };
  // One sentence per group of steps that ends with a heating step (a step with a
  // temperature), so long recipes read as several sentences.
  std::string text;
  std::vector<std::string> group;
  for (size_t i = 0; i < steps.size(); ++i) {
    // Text-mined recipes often list one action twice in a row ("added, added").
    const bool repeat = i > 0 && phrase(steps[i]) == phrase(steps[i - 1]);
    if (!repeat) group.push_back(phrase(steps[i]));
    if ((steps[i].temperature_c || i + 1 == steps.size()) && !group.empty()) {
      if (!text.empty()) text.push_back(' ');
      absl::StrAppend(&text, text.empty() ? subject : "The product was then", " ", join(group),
                      ".");
      group.clear();
    }
  }
  return text;
}

absl::StatusOr<ImportSummary> ImportPerov5(const std::string& csv_path, const std::string& out_dir,
                                           const ImportOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_ASSIGN_OR_RETURN(std::vector<materials::Perov5Row> rows,
                            materials::ReadPerov5Csv(csv_path));
  MATALIGN_ASSIGN_OR_RETURN(ImportSink sink, ImportSink::Create(out_dir));
  materials::StructureReadOptions read_options;
  read_options.format = materials::StructureFormat::kCif;
  size_t imported = 0;
  for (const materials::Perov5Row& row : rows) {
    if (options.limit != 0 && imported >= options.limit) break;
    absl::StatusOr<materials::Structure> s =
        materials::ParseStructure(row.cif, row.Source(csv_path), read_options);
    if (!s.ok()) {
      sink.Skip("unparsable CIF", std::string(s.status().message()));
      continue;
    }
    Record rec;
    rec.id = absl::StrCat("perov5-", row.material_id);
    rec.material_class = MaterialClass::kCrystalline;
    rec.composition = materials::CompositionOf(*s);
    rec.structure = StructureRef{"", row.cif, "cif"};
    rec.properties = {
        {"heat_all", row.heat_all}, {"dir_gap", row.dir_gap}, {"ind_gap", row.ind_gap}};
    rec.source = absl::StrCat("perov5:", row.material_id);
    rec.split = SplitForKey(row.material_id);
    MATALIGN_ASSIGN_OR_RETURN(const bool written, sink.Append(rec));
    if (written) ++imported;
  }
  return sink.Finish();
}

absl::StatusOr<ImportSummary> ImportRecipes(const std::string& path, const std::string& out_dir,
                                            const ImportOptions& options) {
  return ImportRecipes(std::vector<std::string>{path}, out_dir, options);
}

absl::StatusOr<ImportSummary> ImportRecipes(const std::vector<std::string>& paths,
                                            const std::string& out_dir,
                                            const ImportOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_ASSIGN_OR_RETURN(ImportSink sink, ImportSink::Create(out_dir));
  for (const std::string& path : paths) {
    MATALIGN_RETURN_IF_ERROR(ImportRecipeFile(path, options, &sink));
  }
  return sink.Finish();
}

absl::StatusOr<ImportSummary> ImportSynthesisParagraphs(const std::string& dir,
                                                        const std::string& out_dir,
                                                        const ImportOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  MATALIGN_ASSIGN_OR_RETURN(std::vector<text::SynthesisText> texts,
                            text::ReadSynthesisParagraphs(dir));
  MATALIGN_ASSIGN_OR_RETURN(ImportSink sink, ImportSink::Create(out_dir));
  size_t imported = 0;
  for (const text::SynthesisText& t : texts) {
    if (options.limit != 0 && imported >= options.limit) break;
    const std::string file = Basename(t.source);
    Record rec;
    rec.id = fs::path(file).stem().string();
    rec.material_class = options.material_class;
    rec.source = file;
    SynthesisRecipe syn;
    syn.text = t.text;
    syn.doi = t.doi;
    rec.synthesis = std::move(syn);
    if (!t.title.empty()) rec.labels["title"] = t.title;
    rec.split = SplitForKey(t.doi);
    MATALIGN_ASSIGN_OR_RETURN(const bool written, sink.Append(rec));
    if (written) ++imported;
  }
  return sink.Finish();
}

absl::StatusOr<ImportSummary> ImportSemFolder(const std::string& dir, const std::string& out_dir,
                                              const ImportOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  const std::string csv_path = (fs::path(dir) / "labels.csv").string();
  MATALIGN_ASSIGN_OR_RETURN(std::string content, ReadFile(csv_path));
  MATALIGN_ASSIGN_OR_RETURN(std::vector<CsvRow> rows, ParseCsv(content, csv_path));
  if (rows.empty()) return absl::InvalidArgumentError(absl::StrCat(csv_path, ": empty file"));
  std::vector<std::string> header;
  int file_column = -1;
  for (const std::string& f : rows[0].fields) {
    header.emplace_back(absl::StripAsciiWhitespace(f));
    if (absl::EqualsIgnoreCase(header.back(), "file") && file_column < 0) {
      file_column = static_cast<int>(header.size()) - 1;
    }
  }
  if (file_column < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(csv_path, ": line 1: the header has no \"file\" column"));
  }
  MATALIGN_ASSIGN_OR_RETURN(ImportSink sink, ImportSink::Create(out_dir));
  size_t imported = 0;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (options.limit != 0 && imported >= options.limit) break;
    const CsvRow& row = rows[r];
    const std::string where = absl::StrCat("labels.csv:", row.line);
    if (row.fields.size() == 1 && absl::StripAsciiWhitespace(row.fields[0]).empty()) continue;
    if (row.fields.size() != header.size()) {
      sink.Skip("wrong field count", absl::StrCat(where, ": ", row.fields.size(),
                                                  " fields, header has ", header.size()));
      continue;
    }
    const std::string file(absl::StripAsciiWhitespace(row.fields[file_column]));
    if (file.empty()) {
      sink.Skip("empty file name", absl::StrCat(where, ": empty file name"));
      continue;
    }
    std::error_code ec;
    fs::path image = fs::path(dir) / file;
    if (!fs::is_regular_file(image, ec)) image = fs::path(dir) / "images" / file;
    if (!fs::is_regular_file(image, ec)) {
      sink.Skip("missing image",
                absl::StrCat(where, ": image '", Printable(file), "' not found in ", dir));
      continue;
    }
    Record rec;
    rec.id = fs::path(file).stem().string();
    rec.material_class = options.material_class;
    rec.images.push_back(ImageRef{RelativePath(image.string(), out_dir), "sem"});
    for (size_t c = 0; c < header.size(); ++c) {
      if (static_cast<int>(c) == file_column || header[c].empty()) continue;
      std::string value(absl::StripAsciiWhitespace(row.fields[c]));
      if (!value.empty()) rec.labels[header[c]] = std::move(value);
    }
    rec.source = where;
    rec.split = SplitForKey(rec.id);
    MATALIGN_ASSIGN_OR_RETURN(const bool written, sink.Append(rec));
    if (written) ++imported;
  }
  return sink.Finish();
}

std::optional<SynthesisRecipe> ParseALabScanName(absl::string_view stem) {
  std::vector<absl::string_view> parts = absl::StrSplit(stem, '_');
  if (parts.size() != 3) return std::nullopt;
  double temperature = 0, time = 0;
  std::string t_unit, time_unit;
  if (!SplitNumberUnit(parts[1], &temperature, &t_unit) ||
      !SplitNumberUnit(parts[2], &time, &time_unit)) {
    return std::nullopt;
  }
  const std::optional<double> celsius = ToCelsius(temperature, t_unit);
  if (!celsius) return std::nullopt;
  temperature = *celsius;
  const double factor = HoursPerUnit(time_unit);
  if (factor == 0 || time_unit.empty() || temperature < 0 || time <= 0) return std::nullopt;
  SynthesisRecipe syn;
  for (absl::string_view p : absl::StrSplit(parts[0], '-')) {
    while (!p.empty() && absl::ascii_isdigit(static_cast<unsigned char>(p.front()))) {
      p.remove_prefix(1);
    }
    if (!LooksLikeFormula(p)) return std::nullopt;
    syn.precursors.emplace_back(p);
  }
  syn.route = "solid-state";
  syn.temperatures_c = {temperature};
  syn.times_h = {time * factor};
  RecipeStep mix{"mixed", std::nullopt, std::nullopt, "", ""};
  RecipeStep heat{"heated", temperature, time * factor, "", ""};
  syn.text = RenderRecipeText(syn.precursors, {mix, heat});
  return syn;
}

absl::StatusOr<ImportSummary> ImportXrdFolder(const std::string& dir, const std::string& out_dir,
                                              const ImportOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.Validate());
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::NotFoundError(absl::StrCat(dir, ": no such directory"));
  if (!fs::is_directory(dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(dir, ": not a directory"));
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && xrd::IsPatternFileName(it->path().filename().string())) {
      files.push_back(it->path());
    }
  }
  if (ec) return absl::InvalidArgumentError(absl::StrCat(dir, ": cannot list: ", ec.message()));
  std::sort(files.begin(), files.end());
  MATALIGN_ASSIGN_OR_RETURN(ImportSink sink, ImportSink::Create(out_dir));
  size_t imported = 0;
  for (const fs::path& file : files) {
    if (options.limit != 0 && imported >= options.limit) break;
    const std::string name = file.filename().string();
    absl::StatusOr<xrd::XrdPattern> pattern = xrd::ReadPatternFile(file.string());
    if (!pattern.ok()) {
      sink.Skip("unreadable scan", std::string(pattern.status().message()));
      continue;
    }
    Record rec;
    rec.id = file.stem().string();
    rec.material_class = options.material_class;
    rec.images.push_back(ImageRef{RelativePath(file.string(), out_dir), "xrd"});
    rec.labels["format"] = LowercaseExtension(name);
    rec.source = name;
    std::optional<SynthesisRecipe> syn = ParseALabScanName(rec.id);
    if (syn && syn->temperatures_c[0] >= options.min_temperature_c &&
        syn->temperatures_c[0] <= options.max_temperature_c) {
      rec.synthesis = std::move(syn);
    }
    rec.split = SplitForKey(rec.id);
    MATALIGN_ASSIGN_OR_RETURN(const bool written, sink.Append(rec));
    if (written) ++imported;
  }
  return sink.Finish();
}

absl::StatusOr<ImportSummary> Import(absl::string_view kind, const std::vector<std::string>& inputs,
                                     const std::string& out_dir, const ImportOptions& options) {
  if (inputs.empty()) return absl::InvalidArgumentError("import: no input given");
  const std::string& in = inputs[0];
  if (kind == "perov5") return ImportPerov5(in, out_dir, options);
  if (kind == "recipes") return ImportRecipes(inputs, out_dir, options);
  if (kind == "paragraphs") return ImportSynthesisParagraphs(in, out_dir, options);
  if (kind == "sem") return ImportSemFolder(in, out_dir, options);
  if (kind == "xrd") return ImportXrdFolder(in, out_dir, options);
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown import kind '", kind, "' (expected perov5, recipes, paragraphs, sem or xrd)"));
}

}  // namespace matalign::corpus
