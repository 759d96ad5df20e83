// One material of a MatAlign corpus, as stored in a manifest line (docs/data-format.md).
// Every modality is optional.
#ifndef MATALIGN_CORPUS_RECORD_H_
#define MATALIGN_CORPUS_RECORD_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matalign::corpus {

enum class MaterialClass { kCrystalline, kAmorphous, kNano };
enum class Split { kTrain, kVal, kTest };

// "crystalline" | "amorphous" | "nano".
absl::string_view MaterialClassName(MaterialClass c);
absl::StatusOr<MaterialClass> ParseMaterialClass(absl::string_view name);
// "train" | "val" | "test".
absl::string_view SplitName(Split s);
absl::StatusOr<Split> ParseSplit(absl::string_view name);

// A structure: a file (path relative to the manifest) or inline text, and its format
// ("cif" | "poscar" | "xyz"). Exactly one of path / text is set.
struct StructureRef {
  std::string path;
  std::string text;
  std::string format;
};

// A synthesis protocol: the free text and what is known of it in structured form.
struct SynthesisRecipe {
  std::string text;                     // the protocol as prose (may be empty if unknown)
  std::string route;                    // "solid-state", "sol-gel", "hydrothermal", ...
  std::vector<std::string> precursors;  // formulas as written, e.g. "BaCO3"
  std::vector<double> temperatures_c;   // every heating step, degrees Celsius
  std::vector<double> times_h;          // durations of those steps, hours
  std::string atmosphere;               // "air", "O2", "Ar", ... ("" = not stated)
  std::string doi;                      // provenance of real recipes
};

// An image file (path relative to the manifest) and its kind: "sem" | "xrd".
struct ImageRef {
  std::string path;
  std::string kind;
};

struct Record {
  std::string id;  // unique within the manifest
  MaterialClass material_class = MaterialClass::kCrystalline;
  std::map<std::string, double> composition;  // element symbol -> amount per formula unit
  std::optional<StructureRef> structure;
  std::optional<SynthesisRecipe> synthesis;
  std::vector<ImageRef> images;
  std::map<std::string, double> properties;   // named numbers; absent = missing
  std::map<std::string, std::string> labels;  // e.g. "defect" -> "crack"
  Split split = Split::kTrain;
  std::string source;  // provenance: "synthetic", "perov5", a DOI, a file name
};

// Graded relevance of record `doc`'s synthesis text to record `query`'s property vector,
// the ground truth for retrieval metrics: 2 = the same material (same id), 1 = same route
// and the same precursor set, 0 otherwise (or when either has no synthesis).
int GradedRelevance(const Record& query, const Record& doc);

}  // namespace matalign::corpus

#endif  // MATALIGN_CORPUS_RECORD_H_
