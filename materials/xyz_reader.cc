// (Extended) XYZ: periodic when the comment line has Lattice="...", a molecule otherwise.
// The first frame is read.
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "materials/element.h"
#include "materials/structure_io.h"

namespace matalign::materials {
namespace {

constexpr long kMaxXyzAtoms = 200000;

// Parses key=value pairs of an extended-XYZ comment line; values may be "quoted".
std::vector<std::pair<std::string, std::string>> KeyValues(absl::string_view line) {
  std::vector<std::pair<std::string, std::string>> kv;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && absl::ascii_isspace(line[i])) ++i;
    size_t k = i;
    while (i < line.size() && line[i] != '=' && !absl::ascii_isspace(line[i])) ++i;
    std::string key(line.substr(k, i - k));
    std::string value;
    if (i < line.size() && line[i] == '=') {
      ++i;
      if (i < line.size() && (line[i] == '"' || line[i] == '\'')) {
        const char q = line[i++];
        size_t v = i;
        while (i < line.size() && line[i] != q) ++i;
        value = std::string(line.substr(v, i - v));
        if (i < line.size()) ++i;
      } else {
        size_t v = i;
        while (i < line.size() && !absl::ascii_isspace(line[i])) ++i;
        value = std::string(line.substr(v, i - v));
      }
    }
    if (!key.empty()) kv.emplace_back(absl::AsciiStrToLower(key), value);
  }
  return kv;
}

}  // namespace

absl::StatusOr<Structure> ParseXyz(absl::string_view content, absl::string_view source) {
  std::vector<absl::string_view> lines = absl::StrSplit(content, '\n');
  auto error = [&](size_t line, auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": line ", line + 1, ": ", parts...));
  };
  long n = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(lines[0]), &n) || n <= 0) {
    return error(0, "expected a positive atom count, got '",
                 absl::StripAsciiWhitespace(lines[0]).substr(0, 40), "'");
  }
  if (n > kMaxXyzAtoms) return error(0, "too many atoms (", n, ")");
  if (lines.size() < static_cast<size_t>(n) + 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": XYZ is truncated: ", n, " atoms declared, ",
                     lines.size() < 2 ? 0 : lines.size() - 2, " lines follow"));
  }
  Structure st;
  const absl::string_view comment = absl::StripAsciiWhitespace(lines[1]);
  st.name = std::string(comment.substr(0, 200));
  int species_col = 0, pos_col = 1;
  bool has_lattice = false;
  for (const auto& [key, value] : KeyValues(comment)) {
    if (key == "lattice") {
      std::vector<absl::string_view> f =
          absl::StrSplit(value, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (f.size() != 9) return error(1, "Lattice needs 9 numbers, got ", f.size());
      std::array<Vec3, 3> rows;
      for (int i = 0; i < 9; ++i) {
        if (!absl::SimpleAtod(f[i], &rows[i / 3][i % 3]) || !std::isfinite(rows[i / 3][i % 3])) {
          return error(1, "bad Lattice component '", f[i], "'");
        }
      }
      st.lattice = Lattice::FromVectors(rows);
      has_lattice = true;
    } else if (key == "properties") {
      // name:type:count triples; find the columns of "species" and "pos".
      std::vector<absl::string_view> f = absl::StrSplit(value, ':');
      if (f.size() % 3 != 0) return error(1, "malformed Properties '", value, "'");
      int col = 0;
      species_col = pos_col = -1;
      for (size_t i = 0; i + 2 < f.size(); i += 3) {
        int count = 0;
        if (!absl::SimpleAtoi(f[i + 2], &count) || count < 1 || count > 64) {
          return error(1, "malformed Properties '", value, "'");
        }
        const std::string name = absl::AsciiStrToLower(f[i]);
        if (name == "species") species_col = col;
        if (name == "pos") pos_col = col;
        col += count;
      }
      if (species_col < 0 || pos_col < 0) return error(1, "Properties lacks species or pos");
    }
  }
  st.periodic = has_lattice;
  if (has_lattice && !(st.lattice.Volume() > 1e-9)) return error(1, "lattice has zero volume");
  const int needed = std::max(species_col, pos_col + 2) + 1;
  Vec3 lo{1e300, 1e300, 1e300}, hi{-1e300, -1e300, -1e300};
  for (long i = 0; i < n; ++i) {
    const size_t line = static_cast<size_t>(i) + 2;
    std::vector<absl::string_view> f =
        absl::StrSplit(lines[line], absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (static_cast<int>(f.size()) < needed) return error(line, "expected ", needed, " columns");
    const ElementInfo* e = ElementBySpecies(f[species_col]);
    int z_direct = 0;
    if (e == nullptr && absl::SimpleAtoi(f[species_col], &z_direct)) e = ElementByNumber(z_direct);
    if (e == nullptr) return error(line, "unknown element '", f[species_col], "'");
    Vec3 p;
    for (int k = 0; k < 3; ++k) {
      if (!absl::SimpleAtod(f[pos_col + k], &p[k]) || !std::isfinite(p[k])) {
        return error(line, "bad coordinate '", f[pos_col + k], "'");
      }
      lo[k] = std::min(lo[k], p[k]);
      hi[k] = std::max(hi[k], p[k]);
    }
    st.AddCartesian(e->atomic_number, p, 1.0, absl::StrCat(e->symbol, i + 1));
  }
  if (!has_lattice) {
    // A molecule: the lattice is the bounding box plus 10 A of vacuum, for reference only.
    st.lattice =
        Lattice::FromVectors({Vec3{hi[0] - lo[0] + 10, 0, 0}, Vec3{0, hi[1] - lo[1] + 10, 0},
                              Vec3{0, 0, hi[2] - lo[2] + 10}});
  }
  return st;
}

}  // namespace matalign::materials
