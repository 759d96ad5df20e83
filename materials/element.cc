#include "materials/element.h"

#include <array>
#include <cctype>

#include "gemmi/elem.hpp"

namespace matalign::materials {
namespace {

// Pauling electronegativities, index = atomic number (index 0 unused).
constexpr double kPauling[kMaxAtomicNumber + 1] = {
    0,    2.20, 0,                                                     // H He
    0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, 0,                       // Li..Ne
    0.93, 1.31, 1.61, 1.90, 2.19, 2.58, 3.16, 0,                       // Na..Ar
    0.82, 1.00, 1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88, 1.91, 1.90,  // K..Cu
    1.65, 1.81, 2.01, 2.18, 2.55, 2.96, 3.00,                          // Zn..Kr
    0.82, 0.95, 1.22, 1.33, 1.60, 2.16, 1.90, 2.20, 2.28, 2.20, 1.93,  // Rb..Ag
    1.69, 1.78, 1.96, 2.05, 2.10, 2.66, 2.60,                          // Cd..Xe
    0.79, 0.89, 1.10, 1.12, 1.13, 1.14, 1.13, 1.17, 1.20, 1.20, 1.10,  // Cs..Tb
    1.22, 1.23, 1.24, 1.25, 1.10, 1.27,                                // Dy..Lu
    1.30, 1.50, 2.36, 1.90, 2.20, 2.20, 2.28, 2.54, 2.00,              // Hf..Hg
    1.62, 2.33, 2.02, 2.00, 2.20, 2.20,                                // Tl..Rn
    0.70, 0.90, 1.10, 1.30, 1.50, 1.38, 1.36, 1.28, 1.13, 1.28, 1.30,  // Fr..Bk
    1.30, 1.30, 1.30, 1.30, 1.30, 1.30,                                // Cf..Lr
};

void GroupAndPeriod(int z, int* group, int* period) {
  static constexpr int kPeriodStart[] = {1, 3, 11, 19, 37, 55, 87, 119};
  int p = 1;
  while (z >= kPeriodStart[p]) ++p;
  *period = p;
  const int index = z - kPeriodStart[p - 1] + 1;  // 1-based position in the period
  switch (p) {
    case 1:
      *group = (z == 1) ? 1 : 18;
      break;
    case 2:
    case 3:
      *group = index <= 2 ? index : index + 10;
      break;
    case 4:
    case 5:
      *group = index;
      break;
    default:  // periods 6 and 7 carry the f block, counted as group 3
      *group = index <= 2 ? index : (index <= 17 ? 3 : index - 14);
      break;
  }
}

std::array<ElementInfo, kMaxAtomicNumber + 1> BuildTable() {
  std::array<ElementInfo, kMaxAtomicNumber + 1> table{};
  for (int z = 1; z <= kMaxAtomicNumber; ++z) {
    const gemmi::Element el(z);
    ElementInfo& e = table[z];
    e.atomic_number = z;
    e.symbol = el.name();
    e.mass = el.weight();
    e.covalent_radius = el.covalent_r();
    e.electronegativity = kPauling[z];
    GroupAndPeriod(z, &e.group, &e.period);
  }
  return table;
}

const std::array<ElementInfo, kMaxAtomicNumber + 1>& Table() {
  static const auto* table = new std::array<ElementInfo, kMaxAtomicNumber + 1>(BuildTable());
  return *table;
}

}  // namespace

const ElementInfo* ElementByNumber(int z) {
  if (z < 1 || z > kMaxAtomicNumber) return nullptr;
  return &Table()[z];
}

const ElementInfo* ElementBySymbol(absl::string_view symbol) {
  if (symbol.empty() || symbol.size() > 2) return nullptr;
  auto lower = [](char c) {
    return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  };
  if (symbol.size() == 1 && lower(symbol[0]) == 'd') return ElementByNumber(1);
  for (int z = 1; z <= kMaxAtomicNumber; ++z) {
    absl::string_view s = Table()[z].symbol;
    if (s.size() != symbol.size()) continue;
    bool same = true;
    for (size_t i = 0; i < s.size(); ++i) same = same && lower(s[i]) == lower(symbol[i]);
    if (same) return &Table()[z];
  }
  return nullptr;
}

absl::string_view ElementSymbolPrefix(absl::string_view label) {
  if (label.empty() || !std::isalpha(static_cast<unsigned char>(label[0]))) return "";
  const bool second_is_letter =
      label.size() >= 2 && std::isalpha(static_cast<unsigned char>(label[1]));
  if (!second_is_letter) return label.substr(0, 1);
  const bool second_is_lower = std::islower(static_cast<unsigned char>(label[1]));
  // "Co1" is cobalt; "CO3" (an upper-case label) is carbon unless no one-letter element fits.
  if ((second_is_lower || ElementBySymbol(label.substr(0, 1)) == nullptr) &&
      ElementBySymbol(label.substr(0, 2)) != nullptr) {
    return label.substr(0, 2);
  }
  return label.substr(0, 1);
}

const ElementInfo* ElementBySpecies(absl::string_view species) {
  size_t letters = 0;
  while (letters < species.size() && std::isalpha(static_cast<unsigned char>(species[letters]))) {
    ++letters;
  }
  if (letters == 0 || letters > 2) return nullptr;
  return ElementBySymbol(species.substr(0, letters));
}

}  // namespace matalign::materials
