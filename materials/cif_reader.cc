// CIF through gemmi: block selection, symmetry operations (explicit list, Hall, H-M or
// number), expansion of the asymmetric unit to the full cell. gemmi throws on malformed
// input; every exception stops here and becomes InvalidArgument.
#include <cmath>
#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gemmi/cif.hpp"
#include "gemmi/numb.hpp"
#include "gemmi/symmetry.hpp"
#include "materials/element.h"
#include "materials/structure_io.h"

namespace matalign::materials {
namespace {

// A guard against expansions that would exhaust memory before the atom limit is checked.
constexpr size_t kMaxExpandedSites = 200000;
// The largest space-group order (Fm-3m and friends in the conventional cell).
constexpr size_t kMaxSymmetryOps = 192;
// Symmetry images of one site closer than this are the same site (special positions).
constexpr double kSpecialPositionTolerance = 0.3;  // Angstrom

bool HasAtoms(gemmi::cif::Block& block) {
  return block.find_values("_atom_site_fract_x").item() != nullptr;
}

const std::string* FindFirstValue(gemmi::cif::Block& block,
                                  std::initializer_list<const char*> tags) {
  for (const char* tag : tags) {
    if (const std::string* v = block.find_value(tag)) {
      if (!gemmi::cif::is_null(*v)) return v;
    }
  }
  return nullptr;
}

// Hall symbols compared without case and with runs of spaces collapsed.
std::string CanonicalHall(absl::string_view hall) {
  std::string out;
  for (char c : hall) {
    if (absl::ascii_isspace(c)) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(absl::ascii_tolower(c));
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

const gemmi::SpaceGroup* FindSpaceGroupByHall(absl::string_view hall) {
  const std::string wanted = CanonicalHall(hall);
  for (const gemmi::SpaceGroup& sg : gemmi::spacegroup_tables::main) {
    if (CanonicalHall(sg.hall) == wanted) return &sg;
  }
  return nullptr;
}

// Returns the symmetry operations of the block, or an error. `how` says where they came from.
absl::StatusOr<std::vector<gemmi::Op>> SymmetryOps(gemmi::cif::Block& block, double alpha,
                                                   double gamma, std::string* how) {
  std::vector<gemmi::Op> ops;
  for (const char* tag : {"_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz",
                          "_space_group_symop.operation_xyz"}) {
    gemmi::cif::Column col = block.find_values(tag);
    if (col.item() == nullptr) continue;
    if (static_cast<size_t>(col.length()) > kMaxSymmetryOps) {
      return absl::InvalidArgumentError(absl::StrCat(tag, " lists ", col.length(),
                                                     " operations; no space group has more than ",
                                                     kMaxSymmetryOps));
    }
    for (const std::string& raw : col) {
      const std::string triplet = gemmi::cif::as_string(raw);
      try {
        ops.push_back(gemmi::parse_triplet(triplet));
      } catch (const std::exception& e) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad symmetry operation '", triplet, "': ", e.what()));
      }
    }
    if (!ops.empty()) {
      *how = absl::StrCat(ops.size(), " symmetry operations listed in the file");
      return ops;
    }
  }
  const gemmi::SpaceGroup* sg = nullptr;
  if (const std::string* hall =
          FindFirstValue(block, {"_space_group_name_Hall", "_symmetry_space_group_name_Hall"})) {
    // Only Hall symbols of gemmi's space-group table are used: gemmi's Hall parser reads
    // out of bounds on some malformed symbols (found by fuzzing), so free text never
    // reaches it.
    sg = FindSpaceGroupByHall(gemmi::cif::as_string(*hall));
    if (sg) *how = absl::StrCat("Hall symbol '", gemmi::cif::as_string(*hall), "'");
  }
  if (const std::string* hm = sg ? nullptr
                                 : FindFirstValue(block, {"_space_group_name_H-M_alt",
                                                          "_symmetry_space_group_name_H-M"})) {
    sg = gemmi::find_spacegroup_by_name(gemmi::cif::as_string(*hm), alpha, gamma);
    if (sg) *how = absl::StrCat("space group '", gemmi::cif::as_string(*hm), "'");
  }
  if (sg == nullptr) {
    if (const std::string* num =
            FindFirstValue(block, {"_space_group_IT_number", "_symmetry_Int_Tables_number"})) {
      const double n = gemmi::cif::as_number(*num);
      if (std::isfinite(n) && n >= 1 && n <= 230) {
        sg = gemmi::find_spacegroup_by_number(static_cast<int>(n));
        if (sg) *how = absl::StrCat("space group number ", static_cast<int>(n));
      }
    }
  }
  if (sg == nullptr) {
    *how = "no symmetry given: P1 assumed";
    ops.push_back(gemmi::Op::identity());
    return ops;
  }
  for (gemmi::Op op : sg->operations()) ops.push_back(op);
  return ops;
}

absl::StatusOr<Structure> BlockToStructure(gemmi::cif::Block& block) {
  using gemmi::cif::as_number;
  Structure st;
  st.name = block.name;
  st.periodic = true;
  double cell[6];
  const char* cell_tags[6] = {"_cell_length_a",    "_cell_length_b",   "_cell_length_c",
                              "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
  for (int i = 0; i < 6; ++i) {
    const std::string* v = block.find_value(cell_tags[i]);
    if (v == nullptr) {
      if (i >= 3) {
        cell[i] = 90.0;  // angles default to 90 degrees when absent
        continue;
      }
      return absl::InvalidArgumentError(
          absl::StrCat("data block '", block.name, "' has no ", cell_tags[i]));
    }
    cell[i] = as_number(*v);
    if (!std::isfinite(cell[i]) || cell[i] <= 0 || (i >= 3 && cell[i] >= 180)) {
      return absl::InvalidArgumentError(
          absl::StrCat(cell_tags[i], " = '", *v, "' is not a valid cell parameter"));
    }
  }
  st.lattice = Lattice::FromParameters(cell[0], cell[1], cell[2], cell[3], cell[4], cell[5]);
  if (!(st.lattice.Volume() > 1e-6)) {
    return absl::InvalidArgumentError("cell parameters give a zero-volume cell");
  }

  std::string how;
  auto ops_or = SymmetryOps(block, cell[3], cell[5], &how);
  if (!ops_or.ok()) return ops_or.status();
  const std::vector<gemmi::Op>& ops = *ops_or;
  st.notes.push_back(how);

  enum { kX, kY, kZ, kLabel, kSymbol, kOcc };
  gemmi::cif::Table atoms = block.find(
      "_atom_site_", {"fract_x", "fract_y", "fract_z", "?label", "?type_symbol", "?occupancy"});
  if (!atoms.ok() || atoms.length() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data block '", block.name, "' has no _atom_site_fract_x/y/z loop (no atoms)"));
  }
  if (!atoms.has_column(kLabel) && !atoms.has_column(kSymbol)) {
    return absl::InvalidArgumentError(
        "atom sites have neither _atom_site_label nor _atom_site_type_symbol");
  }
  int row_index = 0;
  for (auto row : atoms) {
    ++row_index;
    const std::string label =
        row.has(kLabel) ? gemmi::cif::as_string(row[kLabel]) : absl::StrCat("#", row_index);
    // The type symbol must name an element exactly ("Fe3+"); a label only has to start
    // with one ("Fe1a").
    const bool has_symbol = row.has2(kSymbol);
    const std::string symbol_text = has_symbol ? gemmi::cif::as_string(row[kSymbol]) : label;
    const ElementInfo* element =
        has_symbol ? ElementBySpecies(symbol_text) : ElementBySymbol(ElementSymbolPrefix(label));
    if (element == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("atom site ", label, ": unknown element '", symbol_text, "'"));
    }
    const Vec3 frac = {as_number(row[kX]), as_number(row[kY]), as_number(row[kZ])};
    for (double x : frac) {
      if (!std::isfinite(x)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "atom site ", label, ": fractional coordinate is missing or not a number"));
      }
    }
    const double occ = row.has2(kOcc) ? as_number(row[kOcc], 1.0) : 1.0;
    if (!(occ > 0 && occ <= 1.0 + 1e-3)) {
      return absl::InvalidArgumentError(
          absl::StrCat("atom site ", label, ": occupancy ", row[kOcc], " is outside (0, 1]"));
    }
    const size_t first = st.sites.size();
    for (const gemmi::Op& op : ops) {
      std::array<double, 3> p = op.apply_to_xyz({frac[0], frac[1], frac[2]});
      Site candidate;
      candidate.frac = {p[0] - std::floor(p[0]), p[1] - std::floor(p[1]), p[2] - std::floor(p[2])};
      bool duplicate = false;
      for (size_t k = first; k < st.sites.size() && !duplicate; ++k) {
        Vec3 d;
        for (int c = 0; c < 3; ++c) {
          d[c] = candidate.frac[c] - st.sites[k].frac[c];
          d[c] -= std::round(d[c]);
        }
        const Vec3 dc = st.lattice.ToCartesian(d);
        duplicate = dc[0] * dc[0] + dc[1] * dc[1] + dc[2] * dc[2] <
                    kSpecialPositionTolerance * kSpecialPositionTolerance;
      }
      if (duplicate) continue;
      st.AddFractional(element->atomic_number, candidate.frac, std::min(occ, 1.0), label);
      if (occ < 1.0 - 1e-6) ++st.partial_occupancy_sites;
      if (st.sites.size() > kMaxExpandedSites) {
        return absl::InvalidArgumentError(
            absl::StrCat("symmetry expansion gives more than ", kMaxExpandedSites, " atoms"));
      }
    }
  }
  return st;
}

}  // namespace

absl::StatusOr<Structure> ParseCif(absl::string_view content, absl::string_view source,
                                   const std::string& block_name) {
  auto fail = [&](const absl::Status& s) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", s.message()));
  };
  gemmi::cif::Document doc;
  try {
    doc = gemmi::cif::read_memory(content.data(), content.size(), std::string(source).c_str());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a valid CIF: ", e.what()));
  }
  gemmi::cif::Block* block = nullptr;
  std::string names;
  for (gemmi::cif::Block& b : doc.blocks) {
    absl::StrAppend(&names, names.empty() ? "" : ", ", b.name);
    if (block_name.empty() ? (block == nullptr && HasAtoms(b))
                           : absl::EqualsIgnoreCase(b.name, block_name)) {
      block = &b;
    }
  }
  if (block == nullptr) {
    if (!block_name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": no data block named '", block_name, "' (blocks: ", names, ")"));
    }
    return absl::InvalidArgumentError(absl::StrCat(source, ": no data block with atom sites",
                                                   names.empty() ? "" : " (blocks: ", names,
                                                   names.empty() ? "" : ")"));
  }
  try {
    auto st = BlockToStructure(*block);
    if (!st.ok()) return fail(st.status());
    if (block_name.empty() && doc.blocks.size() > 1) {
      st->notes.push_back(absl::StrCat("file has ", doc.blocks.size(), " data blocks; read '",
                                       block->name, "' (choose with --block)"));
    }
    if (st->partial_occupancy_sites > 0) {
      st->notes.push_back(absl::StrCat(st->partial_occupancy_sites,
                                       " site(s) of the full cell have partial occupancy"));
    }
    return st;
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", e.what()));
  }
}

}  // namespace matalign::materials
