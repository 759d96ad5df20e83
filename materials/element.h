// Per-element data used by the structure readers and the graph featurizer.
#ifndef MATALIGN_MATERIALS_ELEMENT_H_
#define MATALIGN_MATERIALS_ELEMENT_H_

#include "absl/strings/string_view.h"

namespace matalign::materials {

// Elements 1 (H) to kMaxAtomicNumber (Lr) are supported; anything else is "unknown".
inline constexpr int kMaxAtomicNumber = 103;

struct ElementInfo {
  int atomic_number = 0;
  const char* symbol = "";
  double mass = 0;               // standard atomic weight, g/mol
  double electronegativity = 0;  // Pauling; 0 where undefined (He, Ne, Ar)
  double covalent_radius = 0;    // Angstrom
  int group = 0;                 // 1..18; lanthanides and actinides are group 3
  int period = 0;                // 1..7
};

// Returns the element with atomic number `z`, or nullptr if z is outside 1..kMaxAtomicNumber.
const ElementInfo* ElementByNumber(int z);

// Returns the element whose symbol is `symbol` ("Fe", case-insensitive: "FE", "fe"), or
// nullptr. "D" (deuterium) maps to hydrogen. Charges and labels are not accepted here:
// strip them first with ElementSymbolPrefix.
const ElementInfo* ElementBySymbol(absl::string_view symbol);

// Returns the leading element symbol of a species label as written in CIF, POSCAR and XYZ
// files: "Fe3+" -> "Fe", "O2-" -> "O", "Ca1" -> "Ca", "Sr_sv" -> "Sr". Returns "" if the label
// does not start with a letter. Two-letter symbols win when they exist ("Co" not "C").
absl::string_view ElementSymbolPrefix(absl::string_view label);

// Returns the element named by a species field (POSCAR/XYZ species, CIF type symbol): the
// leading letters must be exactly an element symbol, optionally followed by a suffix that
// does not start with a letter ("Fe", "Fe3+", "O2-", "Sr_sv", "Fe_pv"). Returns nullptr for
// anything else, e.g. "Va" (vacancy), "Bq" (ghost atom), "Xx".
const ElementInfo* ElementBySpecies(absl::string_view species);

}  // namespace matalign::materials

#endif  // MATALIGN_MATERIALS_ELEMENT_H_
