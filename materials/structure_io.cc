#include "materials/structure_io.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/file.h"
#include "common/status_macros.h"

namespace matalign::materials {

absl::string_view FormatName(StructureFormat format) {
  switch (format) {
    case StructureFormat::kCif:
      return "cif";
    case StructureFormat::kPoscar:
      return "poscar";
    case StructureFormat::kXyz:
      return "xyz";
    case StructureFormat::kAuto:
      break;
  }
  return "auto";
}

absl::StatusOr<StructureFormat> ParseFormatName(absl::string_view name) {
  const std::string n = absl::AsciiStrToLower(name);
  if (n == "auto") return StructureFormat::kAuto;
  if (n == "cif") return StructureFormat::kCif;
  if (n == "poscar" || n == "vasp" || n == "contcar") return StructureFormat::kPoscar;
  if (n == "xyz" || n == "extxyz") return StructureFormat::kXyz;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown structure format '", name, "' (expected cif, poscar, xyz or auto)"));
}

StructureFormat DetectFormat(absl::string_view path, absl::string_view content) {
  const std::string ext = LowercaseExtension(path);
  const std::string base = absl::AsciiStrToUpper(Basename(path));
  if (ext == "cif" || ext == "mcif") return StructureFormat::kCif;
  if (ext == "xyz" || ext == "extxyz") return StructureFormat::kXyz;
  if (ext == "vasp" || ext == "poscar" || absl::StartsWith(base, "POSCAR") ||
      absl::StartsWith(base, "CONTCAR")) {
    return StructureFormat::kPoscar;
  }
  // Content sniffing: CIF has a data_ block; XYZ starts with an atom count.
  absl::string_view head = absl::StripLeadingAsciiWhitespace(content.substr(0, 4096));
  if (absl::StrContains(head, "data_")) return StructureFormat::kCif;
  const size_t eol = head.find('\n');
  absl::string_view first = absl::StripAsciiWhitespace(head.substr(0, eol));
  if (!first.empty() &&
      std::all_of(first.begin(), first.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    return StructureFormat::kXyz;
  }
  return StructureFormat::kPoscar;
}

absl::StatusOr<Structure> ParseStructure(absl::string_view content, absl::string_view source,
                                         const StructureReadOptions& options) {
  MATALIGN_RETURN_IF_ERROR(options.limits.Validate());
  if (content.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": file is empty"));
  }
  StructureFormat format = options.format;
  if (format == StructureFormat::kAuto) format = DetectFormat(source, content);
  absl::StatusOr<Structure> st;
  switch (format) {
    case StructureFormat::kCif:
      st = ParseCif(content, source, options.cif_block);
      break;
    case StructureFormat::kPoscar:
      st = ParsePoscar(content, source, options.poscar_species);
      break;
    case StructureFormat::kXyz:
    case StructureFormat::kAuto:
      st = ParseXyz(content, source);
      break;
  }
  if (!st.ok()) return st.status();
  st->source = std::string(source);
  // Checked before the O(n^2) merge below, which can at most shrink mixed sites of up to
  // kMaxSpeciesPerSite species into one; ValidateStructure checks the exact count after it.
  constexpr size_t kMaxSpeciesPerSite = 8;
  if (st->sites.size() > kMaxSpeciesPerSite * static_cast<size_t>(options.limits.max_atoms) ||
      static_cast<int>(st->sites.size()) - st->partial_occupancy_sites > options.limits.max_atoms) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": structure has ", st->sites.size(),
                                                   " atoms, more than the limit of ",
                                                   options.limits.max_atoms));
  }
  if (options.merge_disordered_sites && st->partial_occupancy_sites > 0) {
    MergeDisorderedSites(&*st);
  }
  MATALIGN_RETURN_IF_ERROR(ValidateStructure(*st, options.limits));
  return st;
}

absl::StatusOr<Structure> ReadStructureFile(const std::string& path,
                                            const StructureReadOptions& options) {
  MATALIGN_ASSIGN_OR_RETURN(std::string content, ReadFile(path, 64ull << 20));
  return ParseStructure(content, path, options);
}

}  // namespace matalign::materials
