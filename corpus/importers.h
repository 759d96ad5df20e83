// Importers that bring real data into the manifest format (docs/data-format.md). Each reads
// one kind of source, writes out_dir/manifest.jsonl (through ManifestWriter, so the
// manifest appears only when complete) and returns what it did. Input items that cannot be
// represented (missing file, unreadable scan, non-numeric composition, ...) are skipped and
// counted; a source that cannot be read at all is an error.
//
// Splits: imported records get a deterministic 80/10/10 train/val/test split from a hash of
// a per-importer material key (SplitForKey), so the same material always lands in the same
// split and re-importing gives the same manifest.
#ifndef MATALIGN_CORPUS_IMPORTERS_H_
#define MATALIGN_CORPUS_IMPORTERS_H_

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "corpus/record.h"

namespace matalign::corpus {

// What an importer did.
struct ImportSummary {
  std::string manifest_path;  // out_dir/manifest.jsonl
  size_t records = 0;         // lines written
  size_t skipped = 0;         // input items not imported
  // The first few (up to 20) reasons, each "<source>: <reason>".
  std::vector<std::string> skipped_reasons;
  // Skipped items per reason kind, e.g. "non-numeric amount" -> 312 (all of them).
  std::map<std::string, size_t> skipped_by_kind;
};

struct ImportOptions {
  // Import at most this many records per input file (0 = all). Default: 0.
  size_t limit = 0;
  // Material class written for records whose class the source does not say (paragraphs,
  // SEM and XRD folders, recipes). perov5 is always crystalline. Default: kCrystalline.
  MaterialClass material_class = MaterialClass::kCrystalline;
  // Recipes and XRD file names: temperatures outside [min, max] degrees C are dropped from
  // temperatures_c (counted in skipped_by_kind as "dropped temperature", the record itself
  // is kept). The text-mined recipes hold some heating rates ("5 °C/min") read as
  // temperatures. Default: 20 and 3000.
  double min_temperature_c = 20;
  double max_temperature_c = 3000;

  absl::Status Validate() const;
};

// The deterministic split of a material key: train for 80% of keys, val 10%, test 10%
// (a 64-bit FNV-1a hash of the key, mixed, modulo 10).
Split SplitForKey(absl::string_view key);

// perov5 CSV (materials/perov5.h): one record per row, id "perov5-<material_id>", class
// crystalline, the row's CIF inline (format "cif"), composition from the parsed structure
// (occupancy-weighted counts divided by their greatest common divisor), properties heat_all
// (eV/cell), dir_gap and ind_gap (eV), source "perov5:<material_id>", split key the
// material_id. Rows whose CIF does not parse are skipped. Errors: those of ReadPerov5Csv.
absl::StatusOr<ImportSummary> ImportPerov5(const std::string& csv_path, const std::string& out_dir,
                                           const ImportOptions& options = {});

// Text-mined recipe files (solid_state_recipes.jsonl[.xz]: one reaction per line;
// sol_gel_recipes.json[.xz]: {"reactions": [...]}; xz detected from the content). One record
// per reaction, id "<file stem>-<index>" (0-based reaction index in the file), source
// "<file name>:<line>" or "<file name>:reactions[i]"; no structure.
//  - composition: target.composition[0].elements; a reaction whose amounts are not plain
//    numbers ("1-x"), are <= 0 or name unknown elements is skipped.
//  - synthesis.route: "solid-state" for JSON Lines files, else the reaction's
//    synthesis_type ("sol-gel"); precursors: precursors[].material_formula.
//  - temperatures_c / times_h: every value of heating_temperature / heating_time of every
//    operation, in order (a range without values contributes its max_value); K converted to
//    °C; min/s/day converted to h. times_h may be shorter than temperatures_c.
//  - atmosphere: the first heating_atmosphere stated; doi kept.
//  - text: the structured recipe rendered as prose (RenderRecipeText).
// The split key is the composition, so one material is never in two splits.
// Errors: NotFound; InvalidArgument for an unknown extension or a file that is not JSON
// Lines / a {"reactions": [...]} object (malformed individual records are skipped).
absl::StatusOr<ImportSummary> ImportRecipes(const std::string& path, const std::string& out_dir,
                                            const ImportOptions& options = {});

// Several recipe files into one manifest (ids stay unique through the file stem); `limit`
// applies per file.
absl::StatusOr<ImportSummary> ImportRecipes(const std::vector<std::string>& paths,
                                            const std::string& out_dir,
                                            const ImportOptions& options = {});

// One step of a recipe for RenderRecipeText.
struct RecipeStep {
  std::string verb;  // past participle: "mixed", "heated", "pressed"
  std::optional<double> temperature_c;
  std::optional<double> time_h;
  std::string atmosphere;  // "" = not stated
  std::string medium;      // mixing medium, "" = not stated
};

// Renders precursors and steps as prose, e.g. "BaCO3, Ta2O5 and Ho2O3 were mixed, ground in
// acetone, and heated at 1200 °C for 12 h in air." A new sentence ("The product was then
// ...") starts after every step with a temperature; a step identical to the one before it
// is written once. Numbers have at most 3 decimals; times below 1 h are written in min. An
// empty precursor list gives "The starting materials were ...", no steps "... were used.".
std::string RenderRecipeText(const std::vector<std::string>& precursors,
                             const std::vector<RecipeStep>& steps);

// Synthesis paragraph files (text/corpus.h ReadSynthesisParagraphs): one record per .txt
// file, id the file stem, synthesis {text, doi, route ""}, labels {"title"} when the file
// has one, source the file name, split key the DOI. Errors: those of
// ReadSynthesisParagraphs.
absl::StatusOr<ImportSummary> ImportSynthesisParagraphs(const std::string& dir,
                                                        const std::string& out_dir,
                                                        const ImportOptions& options = {});

// A labelled SEM image folder: `dir`/labels.csv with a header row that has a "file" column
// (path of the image relative to `dir`, or to `dir`/images when not found in `dir`); every
// other column becomes a label. One record per row: id the file stem, images [{path
// relative to out_dir, "sem"}] (the image is not copied, only checked to exist), source
// "labels.csv:<line>", split key the id. Rows with a missing image, an empty file name, a
// wrong field count or a duplicate id are skipped. Errors: NotFound if labels.csv is
// missing; InvalidArgument for malformed CSV or no "file" column.
absl::StatusOr<ImportSummary> ImportSemFolder(const std::string& dir, const std::string& out_dir,
                                              const ImportOptions& options = {});

// An XRD scan folder: every file directly in `dir` that xrd::IsPatternFileName accepts, in
// name order; xrd::ReadPatternFile must succeed, else the file is skipped. One record per
// scan: id the file stem, images [{path relative to out_dir, "xrd"}], labels {"format": the
// extension}, source the file name, split key the id. A-Lab style names
// "<precursors>_<T><C|K>_<t><min|h|s>" with precursors joined by '-' and optional leading
// integer coefficients (e.g. "Fe3O4-3SrCO3_900C_60min.xrdml") also give a synthesis record:
// route "solid-state", precursors without coefficients, one temperature (°C) and time (h),
// text rendered by RenderRecipeText. Errors: NotFound / InvalidArgument if `dir` is not a
// directory.
absl::StatusOr<ImportSummary> ImportXrdFolder(const std::string& dir, const std::string& out_dir,
                                              const ImportOptions& options = {});

// Parses an A-Lab style scan name (the file stem, see ImportXrdFolder) into a synthesis
// record, or std::nullopt if the stem does not match the pattern.
std::optional<SynthesisRecipe> ParseALabScanName(absl::string_view stem);

// Runs the importer named `kind` ("perov5", "recipes", "paragraphs", "sem", "xrd") on
// `inputs` (several files only for "recipes"; the others take the first). InvalidArgument
// for an unknown kind or a missing input.
absl::StatusOr<ImportSummary> Import(absl::string_view kind, const std::vector<std::string>& inputs,
                                     const std::string& out_dir, const ImportOptions& options = {});

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_IMPORTERS_H_
