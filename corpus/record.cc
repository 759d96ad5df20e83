#include "corpus/record.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace matalign::corpus {

absl::string_view MaterialClassName(MaterialClass c) {
  switch (c) {
    case MaterialClass::kCrystalline:
      return "crystalline";
    case MaterialClass::kAmorphous:
      return "amorphous";
    case MaterialClass::kNano:
      return "nano";
  }
  return "crystalline";
}

absl::StatusOr<MaterialClass> ParseMaterialClass(absl::string_view name) {
  for (MaterialClass c :
       {MaterialClass::kCrystalline, MaterialClass::kAmorphous, MaterialClass::kNano}) {
    if (name == MaterialClassName(c)) return c;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown material class '", name,
                                                 "' (expected crystalline, amorphous or nano)"));
}

absl::string_view SplitName(Split s) {
  switch (s) {
    case Split::kTrain:
      return "train";
    case Split::kVal:
      return "val";
    case Split::kTest:
      return "test";
  }
  return "train";
}

absl::StatusOr<Split> ParseSplit(absl::string_view name) {
  for (Split s : {Split::kTrain, Split::kVal, Split::kTest}) {
    if (name == SplitName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown split '", name, "' (expected train, val or test)"));
}

int GradedRelevance(const Record& query, const Record& doc) {
  if (!query.synthesis || !doc.synthesis) return 0;
  if (query.id == doc.id) return 2;
  if (query.synthesis->route != doc.synthesis->route) return 0;
  std::vector<std::string> a = query.synthesis->precursors, b = doc.synthesis->precursors;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return !a.empty() && a == b ? 1 : 0;
}

}  // namespace matalign::corpus
