#include "materials/structure_writer.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "materials/element.h"

namespace matalign::materials {
namespace {

std::string SourceOf(const Structure& st) {
  return st.source.empty() ? std::string("structure") : st.source;
}

// Common checks: sites present, every element known, finite coordinates.
absl::Status CheckWritable(const Structure& st, bool need_periodic, const char* format) {
  if (need_periodic && !st.periodic) {
    return absl::InvalidArgumentError(
        absl::StrCat(SourceOf(st), ": cannot write a molecule (non-periodic structure) as ", format,
                     "; write it as XYZ"));
  }
  if (st.sites.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(SourceOf(st), ": structure has no sites"));
  }
  for (size_t i = 0; i < st.sites.size(); ++i) {
    if (ElementByNumber(st.sites[i].atomic_number) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(SourceOf(st), ": site ", i + 1,
                                                     " has unknown atomic number ",
                                                     st.sites[i].atomic_number));
    }
    for (int k = 0; k < 3; ++k) {
      if (!std::isfinite(st.sites[i].frac[k]) || !std::isfinite(st.sites[i].cart[k])) {
        return absl::InvalidArgumentError(
            absl::StrCat(SourceOf(st), ": site ", i + 1, " has a non-finite coordinate"));
      }
    }
  }
  if (need_periodic && !(st.lattice.Volume() > 1e-9)) {
    return absl::InvalidArgumentError(absl::StrCat(SourceOf(st), ": lattice has zero volume"));
  }
  return absl::OkStatus();
}

// One line of text: newlines and tabs become spaces, surrounding blanks are dropped.
std::string OneLine(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

std::string Title(const Structure& st) {
  std::string t = OneLine(st.name);
  return t.empty() ? st.ReducedFormula() : t;
}

bool IsSafeCifChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '(' || c == ')' || c == '+';
}

// A CIF label must be a single unquoted token; keep the reader's label when it is one.
bool IsSafeLabel(const std::string& label) {
  if (label.empty() || label.size() > 32) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(label[0]))) return false;
  for (char c : label) {
    if (!IsSafeCifChar(c)) return false;
  }
  return true;
}

// Fractional coordinate for output: exact values stay, -0 becomes 0.
double CleanFrac(double x) { return x == 0 ? 0.0 : x; }

}  // namespace

absl::StatusOr<std::string> WriteCif(const Structure& st) {
  if (absl::Status s = CheckWritable(st, /*need_periodic=*/true, "CIF"); !s.ok()) return s;
  std::string block;
  for (char c : Title(st)) block.push_back(IsSafeCifChar(c) ? c : '_');
  if (block.empty()) block = "structure";
  const std::array<double, 6> p = st.lattice.Parameters();
  std::string out = absl::StrCat("data_", block, "\n");
  absl::StrAppend(&out, "_chemical_formula_sum '", st.CellFormula(), "'\n");
  absl::StrAppendFormat(&out, "_cell_length_a %.8f\n_cell_length_b %.8f\n_cell_length_c %.8f\n",
                        p[0], p[1], p[2]);
  absl::StrAppendFormat(&out,
                        "_cell_angle_alpha %.8f\n_cell_angle_beta %.8f\n_cell_angle_gamma %.8f\n",
                        p[3], p[4], p[5]);
  absl::StrAppend(&out, "_symmetry_space_group_name_H-M 'P 1'\n_symmetry_Int_Tables_number 1\n",
                  "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n");
  absl::StrAppend(&out,
                  "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
                  "_atom_site_fract_y\n_atom_site_fract_z\n_atom_site_occupancy\n");
  std::vector<int> count(kMaxAtomicNumber + 1, 0);
  for (const Site& site : st.sites) {
    const char* symbol = ElementByNumber(site.atomic_number)->symbol;
    ++count[site.atomic_number];
    const std::string label =
        IsSafeLabel(site.label) ? site.label : absl::StrCat(symbol, count[site.atomic_number]);
    absl::StrAppendFormat(&out, "%s %s %.10f %.10f %.10f %.6f\n", label, symbol,
                          CleanFrac(site.frac[0]), CleanFrac(site.frac[1]), CleanFrac(site.frac[2]),
                          site.occupancy);
  }
  return out;
}

absl::StatusOr<std::string> WritePoscar(const Structure& st) {
  if (absl::Status s = CheckWritable(st, /*need_periodic=*/true, "POSCAR"); !s.ok()) return s;
  std::vector<int> order;  // atomic numbers in order of first appearance
  std::vector<std::vector<const Site*>> groups;
  for (const Site& site : st.sites) {
    size_t g = 0;
    while (g < order.size() && order[g] != site.atomic_number) ++g;
    if (g == order.size()) {
      order.push_back(site.atomic_number);
      groups.emplace_back();
    }
    groups[g].push_back(&site);
  }
  std::string out = absl::StrCat(Title(st), "\n1.0\n");
  for (const Vec3& row : st.lattice.vectors()) {
    absl::StrAppendFormat(&out, "  %.12f %.12f %.12f\n", row[0], row[1], row[2]);
  }
  std::string species, counts;
  for (size_t g = 0; g < order.size(); ++g) {
    absl::StrAppend(&species, g ? " " : "", ElementByNumber(order[g])->symbol);
    absl::StrAppend(&counts, g ? " " : "", groups[g].size());
  }
  absl::StrAppend(&out, species, "\n", counts, "\nDirect\n");
  for (const auto& group : groups) {
    for (const Site* site : group) {
      absl::StrAppendFormat(&out, "  %.12f %.12f %.12f\n", CleanFrac(site->frac[0]),
                            CleanFrac(site->frac[1]), CleanFrac(site->frac[2]));
    }
  }
  return out;
}

absl::StatusOr<std::string> WriteXyz(const Structure& st) {
  if (absl::Status s = CheckWritable(st, /*need_periodic=*/false, "XYZ"); !s.ok()) return s;
  std::string out = absl::StrCat(st.sites.size(), "\n");
  if (st.periodic) {
    const auto& v = st.lattice.vectors();
    absl::StrAppendFormat(&out,
                          "Lattice=\"%.10f %.10f %.10f %.10f %.10f %.10f %.10f %.10f %.10f\" "
                          "Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n",
                          v[0][0], v[0][1], v[0][2], v[1][0], v[1][1], v[1][2], v[2][0], v[2][1],
                          v[2][2]);
  } else {
    absl::StrAppend(&out, Title(st), "\n");
  }
  for (const Site& site : st.sites) {
    absl::StrAppendFormat(&out, "%s %.10f %.10f %.10f\n",
                          ElementByNumber(site.atomic_number)->symbol, site.cart[0], site.cart[1],
                          site.cart[2]);
  }
  return out;
}

}  // namespace matalign::materials
