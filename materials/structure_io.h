// Readers for structure files: CIF (through gemmi), VASP POSCAR/CONTCAR, extended XYZ.
// Every reader returns a validated Structure or InvalidArgument naming the source and the
// reason; none throws or crashes on malformed input.
#ifndef MATALIGN_MATERIALS_STRUCTURE_IO_H_
#define MATALIGN_MATERIALS_STRUCTURE_IO_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "materials/structure.h"

namespace matalign::materials {

enum class StructureFormat { kAuto, kCif, kPoscar, kXyz };

// "cif", "poscar", "xyz" or "auto".
absl::string_view FormatName(StructureFormat format);
// Parses "cif" | "poscar" | "vasp" | "xyz" | "extxyz" | "auto".
absl::StatusOr<StructureFormat> ParseFormatName(absl::string_view name);

struct StructureReadOptions {
  // File format. Default: kAuto (from the file name, then from the content).
  StructureFormat format = StructureFormat::kAuto;
  // CIF: name of the data block to read. Default: "" = the first block that has atoms.
  std::string cif_block;
  // POSCAR: species in order, required for VASP 4 files (no species line), ignored for
  // VASP 5 files. Default: empty.
  std::vector<std::string> poscar_species;
  // Merge co-located partially occupied sites (see MergeDisorderedSites). Default: true.
  bool merge_disordered_sites = true;
  // Bounds checked by ValidateStructure after reading.
  StructureLimits limits;
};

// Guesses the format from the file name (".cif", ".xyz"/".extxyz", "POSCAR*", "CONTCAR*",
// ".vasp", ".poscar"), then from the content ("data_" -> CIF, an integer first line -> XYZ,
// else POSCAR).
StructureFormat DetectFormat(absl::string_view path, absl::string_view content);

// Parses `content` read from `source` (a file name used in messages and for detection).
absl::StatusOr<Structure> ParseStructure(absl::string_view content, absl::string_view source,
                                         const StructureReadOptions& options = {});

// Reads and parses the file at `path`.
absl::StatusOr<Structure> ReadStructureFile(const std::string& path,
                                            const StructureReadOptions& options = {});

// Format-specific entry points (no validation; ParseStructure validates).
absl::StatusOr<Structure> ParseCif(absl::string_view content, absl::string_view source,
                                   const std::string& block_name);
absl::StatusOr<Structure> ParsePoscar(absl::string_view content, absl::string_view source,
                                      const std::vector<std::string>& species);
absl::StatusOr<Structure> ParseXyz(absl::string_view content, absl::string_view source);

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_STRUCTURE_IO_H_
