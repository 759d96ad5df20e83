// VASP POSCAR / CONTCAR: VASP 5 (species line) and VASP 4 (species given by the caller).
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "materials/element.h"
#include "materials/structure_io.h"

namespace matalign::materials {
namespace {

constexpr long kMaxPoscarAtoms = 200000;

std::vector<absl::string_view> Fields(absl::string_view line) {
  // Comments after '!' or '#' are allowed on the numeric lines.
  const size_t c = line.find_first_of("!#");
  if (c != absl::string_view::npos) line = line.substr(0, c);
  return absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
}

}  // namespace

absl::StatusOr<Structure> ParsePoscar(absl::string_view content, absl::string_view source,
                                      const std::vector<std::string>& species_override) {
  std::vector<absl::string_view> lines = absl::StrSplit(content, '\n');
  size_t at = 0;
  auto error = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line ", at + 1, ": ", parts...));
  };
  auto next = [&]() -> absl::string_view {
    return at < lines.size() ? lines[at] : absl::string_view();
  };
  Structure st;
  st.periodic = true;
  if (lines.size() < 8) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": POSCAR is truncated (", lines.size(),
                                                   " lines, at least 8 needed)"));
  }
  st.name = std::string(absl::StripAsciiWhitespace(lines[0]));
  at = 1;
  std::vector<absl::string_view> f = Fields(next());
  std::vector<double> scale;
  for (absl::string_view s : f) {
    double x;
    if (!absl::SimpleAtod(s, &x) || !std::isfinite(x)) return error("bad scale factor '", s, "'");
    scale.push_back(x);
  }
  if (scale.size() != 1 && scale.size() != 3) return error("expected 1 or 3 scale factors");
  std::array<Vec3, 3> rows;
  Vec3 cart_scale = {1, 1, 1};  // applied to Cartesian coordinates
  for (int r = 0; r < 3; ++r) {
    at = 2 + r;
    f = Fields(next());
    if (f.size() < 3) return error("expected 3 numbers for lattice vector ", r + 1);
    for (int k = 0; k < 3; ++k) {
      if (!absl::SimpleAtod(f[k], &rows[r][k]) || !std::isfinite(rows[r][k])) {
        return error("bad lattice component '", f[k], "'");
      }
    }
  }
  if (scale.size() == 3) {
    for (auto& row : rows) {
      for (int k = 0; k < 3; ++k) row[k] *= scale[k];
    }
    cart_scale = {scale[0], scale[1], scale[2]};
  } else {
    double factor = scale[0];
    if (factor < 0) {  // negative: the wanted cell volume
      const double v = Lattice::FromVectors(rows).Volume();
      if (!(v > 0)) return error("zero-volume lattice");
      factor = std::cbrt(-scale[0] / v);
    }
    if (factor == 0) return error("scale factor is zero");
    for (auto& row : rows) {
      for (double& x : row) x *= factor;
    }
    cart_scale = {factor, factor, factor};
  }
  st.lattice = Lattice::FromVectors(rows);

  // Line 6: species (VASP 5) or counts (VASP 4).
  at = 5;
  f = Fields(next());
  if (f.empty()) return error("expected species names or atom counts");
  std::vector<std::string> species;
  long probe;
  if (!absl::SimpleAtoi(f[0], &probe)) {
    for (absl::string_view s : f) species.emplace_back(s);
    ++at;
    f = Fields(next());
  } else if (species_override.empty()) {
    return error("VASP 4 POSCAR has no species line: give the species (--species Fe,O)");
  } else {
    species = species_override;
  }
  std::vector<long> counts;
  for (absl::string_view s : f) {
    long n;
    if (!absl::SimpleAtoi(s, &n) || n < 0 || n > kMaxPoscarAtoms) {
      return error("bad atom count '", s, "'");
    }
    counts.push_back(n);
  }
  if (counts.size() != species.size()) {
    return error(counts.size(), " atom counts for ", species.size(), " species");
  }
  long total = 0;
  for (long n : counts) total += n;
  if (total == 0) return error("no atoms");
  if (total > kMaxPoscarAtoms) return error("too many atoms (", total, ")");
  std::vector<int> z;
  for (const std::string& s : species) {
    // VASP species may carry POTCAR suffixes: "Fe_pv", "O_s", "Sr_sv".
    const ElementInfo* e = ElementBySpecies(s);
    if (e == nullptr) return error("unknown element '", s, "'");
    z.push_back(e->atomic_number);
  }
  ++at;
  absl::string_view mode = absl::StripLeadingAsciiWhitespace(next());
  if (!mode.empty() && (mode[0] == 'S' || mode[0] == 's')) {  // Selective dynamics
    ++at;
    mode = absl::StripLeadingAsciiWhitespace(next());
  }
  if (mode.empty()) return error("expected 'Direct' or 'Cartesian'");
  const bool cartesian = mode[0] == 'C' || mode[0] == 'c' || mode[0] == 'K' || mode[0] == 'k';
  if (!cartesian && mode[0] != 'D' && mode[0] != 'd') {
    return error("expected 'Direct' or 'Cartesian', got '", mode, "'");
  }
  for (size_t sp = 0; sp < counts.size(); ++sp) {
    for (long i = 0; i < counts[sp]; ++i) {
      ++at;
      if (at >= lines.size() || Fields(lines[at]).empty()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": POSCAR is truncated: ", total,
                                                       " atoms declared, ", st.sites.size(),
                                                       " found"));
      }
      f = Fields(lines[at]);
      if (f.size() < 3) return error("expected 3 coordinates");
      Vec3 p;
      for (int k = 0; k < 3; ++k) {
        if (!absl::SimpleAtod(f[k], &p[k]) || !std::isfinite(p[k])) {
          return error("bad coordinate '", f[k], "'");
        }
      }
      const std::string label = absl::StrCat(ElementByNumber(z[sp])->symbol, st.sites.size() + 1);
      if (cartesian) {
        st.AddCartesian(z[sp], {p[0] * cart_scale[0], p[1] * cart_scale[1], p[2] * cart_scale[2]},
                        1.0, label);
      } else {
        st.AddFractional(z[sp], p, 1.0, label);
      }
    }
  }
  if (st.lattice.Volume() <= 1e-9) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": lattice has zero volume"));
  }
  return st;
}

}  // namespace matalign::materials
