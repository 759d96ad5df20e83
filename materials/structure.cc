#include "materials/structure.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "materials/element.h"
#include "materials/graph.h"

namespace matalign::materials {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kAmuPerA3ToGPerCm3 = 1.66053906660;  // 1 amu/A^3 in g/cm^3

double Dot(const Vec3& a, const Vec3& b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }
Vec3 Cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
double Norm(const Vec3& a) { return std::sqrt(Dot(a, a)); }

double Wrap(double x) {
  double w = x - std::floor(x);
  return w >= 1.0 ? 0.0 : w;  // floor rounding can give exactly 1.0
}

// "" for 1, "2" for 2, "0.333" for 1/3: counts are rounded to 3 decimals first.
std::string FormatCount(double n) {
  const double rounded = std::round(n * 1000.0) / 1000.0;
  if (std::fabs(rounded - std::round(rounded)) < 1e-9) {
    const long k = std::lround(rounded);
    return k == 1 ? "" : absl::StrCat(k);
  }
  std::string s = absl::StrFormat("%.3f", rounded);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// Hill order: C, H, then alphabetical; without carbon, all alphabetical.
std::vector<std::pair<std::string, double>> HillCounts(const std::vector<Site>& sites) {
  std::map<std::string, double> counts;
  for (const Site& s : sites) {
    const ElementInfo* e = ElementByNumber(s.atomic_number);
    counts[e ? e->symbol : "X"] += s.occupancy;
  }
  std::vector<std::pair<std::string, double>> out;
  const bool has_carbon = counts.count("C") > 0;
  if (has_carbon) {
    out.emplace_back("C", counts["C"]);
    counts.erase("C");
    if (counts.count("H")) {
      out.emplace_back("H", counts["H"]);
      counts.erase("H");
    }
  }
  for (const auto& kv : counts) out.push_back(kv);
  return out;
}

}  // namespace

Lattice Lattice::FromVectors(const std::array<Vec3, 3>& rows) {
  Lattice l;
  l.rows_ = rows;
  return l;
}

Lattice Lattice::FromParameters(double a, double b, double c, double alpha, double beta,
                                double gamma) {
  const double ca = std::cos(alpha * kPi / 180), cb = std::cos(beta * kPi / 180);
  const double cg = std::cos(gamma * kPi / 180), sg = std::sin(gamma * kPi / 180);
  const double cx = c * cb;
  const double cy = c * (ca - cb * cg) / sg;
  const double cz2 = c * c - cx * cx - cy * cy;
  const double cz = cz2 > 0 ? std::sqrt(cz2) : 0.0;
  return FromVectors({Vec3{a, 0, 0}, Vec3{b * cg, b * sg, 0}, Vec3{cx, cy, cz}});
}

double Lattice::Volume() const { return std::fabs(Dot(rows_[0], Cross(rows_[1], rows_[2]))); }

std::array<double, 6> Lattice::Parameters() const {
  const double a = Norm(rows_[0]), b = Norm(rows_[1]), c = Norm(rows_[2]);
  auto angle = [](const Vec3& u, const Vec3& v, double nu, double nv) {
    if (nu == 0 || nv == 0) return 0.0;
    return std::acos(std::clamp(Dot(u, v) / (nu * nv), -1.0, 1.0)) * 180 / kPi;
  };
  return {a,
          b,
          c,
          angle(rows_[1], rows_[2], b, c),
          angle(rows_[0], rows_[2], a, c),
          angle(rows_[0], rows_[1], a, b)};
}

Vec3 Lattice::ToCartesian(const Vec3& f) const {
  Vec3 r{};
  for (int k = 0; k < 3; ++k) {
    r[k] = f[0] * rows_[0][k] + f[1] * rows_[1][k] + f[2] * rows_[2][k];
  }
  return r;
}

Vec3 Lattice::ToFractional(const Vec3& cart) const {
  // Rows of the inverse are the reciprocal vectors (without 2*pi): b x c / V etc.
  const double v = Dot(rows_[0], Cross(rows_[1], rows_[2]));
  const Vec3 r0 = Cross(rows_[1], rows_[2]), r1 = Cross(rows_[2], rows_[0]),
             r2 = Cross(rows_[0], rows_[1]);
  return {Dot(cart, r0) / v, Dot(cart, r1) / v, Dot(cart, r2) / v};
}

Vec3 Lattice::PerpendicularWidths() const {
  const double v = Volume();
  return {v / Norm(Cross(rows_[1], rows_[2])), v / Norm(Cross(rows_[2], rows_[0])),
          v / Norm(Cross(rows_[0], rows_[1]))};
}

void Structure::AddFractional(int atomic_number, const Vec3& frac, double occupancy,
                              std::string label) {
  Site s;
  s.atomic_number = atomic_number;
  s.frac = {Wrap(frac[0]), Wrap(frac[1]), Wrap(frac[2])};
  s.cart = lattice.ToCartesian(s.frac);
  s.occupancy = occupancy;
  s.label = std::move(label);
  sites.push_back(std::move(s));
}

void Structure::AddCartesian(int atomic_number, const Vec3& cart, double occupancy,
                             std::string label) {
  if (periodic) {
    AddFractional(atomic_number, lattice.ToFractional(cart), occupancy, std::move(label));
    return;
  }
  Site s;
  s.atomic_number = atomic_number;
  s.cart = cart;
  s.occupancy = occupancy;
  s.label = std::move(label);
  sites.push_back(std::move(s));
}

std::string Structure::CellFormula() const {
  std::string out;
  for (const auto& [symbol, n] : HillCounts(sites)) {
    if (!out.empty()) out += ' ';
    absl::StrAppend(&out, symbol, FormatCount(n).empty() ? "1" : FormatCount(n));
  }
  return out;
}

std::string Structure::ReducedFormula() const {
  auto counts = HillCounts(sites);
  // Greatest common divisor of the integer counts; fractional counts stay as they are.
  long g = 0;
  bool all_integer = true;
  for (const auto& kv : counts) {
    const double n = kv.second;
    if (std::fabs(n - std::round(n)) > 1e-6 || n < 0.5) {
      all_integer = false;
      break;
    }
    long k = std::lround(n);
    long a = g, b = k;
    while (b) {
      long t = a % b;
      a = b;
      b = t;
    }
    g = a;
  }
  std::string out;
  for (const auto& [symbol, n] : counts) {
    absl::StrAppend(&out, symbol, FormatCount(all_integer && g > 0 ? n / g : n));
  }
  return out;
}

double Structure::Mass() const {
  double m = 0;
  for (const Site& s : sites) {
    if (const ElementInfo* e = ElementByNumber(s.atomic_number)) m += e->mass * s.occupancy;
  }
  return m;
}

double Structure::Density() const {
  const double v = lattice.Volume();
  if (!periodic || v <= 0) return 0;
  return Mass() / v * kAmuPerA3ToGPerCm3;
}

absl::Status StructureLimits::Validate() const {
  if (max_atoms < 1) return absl::InvalidArgumentError("max_atoms must be >= 1");
  if (!(min_distance >= 0)) return absl::InvalidArgumentError("min_distance must be >= 0");
  if (!(min_volume_per_atom >= 0)) {
    return absl::InvalidArgumentError("min_volume_per_atom must be >= 0");
  }
  if (!(min_cell_width > 0)) return absl::InvalidArgumentError("min_cell_width must be > 0");
  if (!(max_coordinate > 0)) return absl::InvalidArgumentError("max_coordinate must be > 0");
  return absl::OkStatus();
}

double MinimumImageDistance(const Structure& st, int i, int j) {
  const Vec3& a = st.sites[i].cart;
  const Vec3& b = st.sites[j].cart;
  if (!st.periodic) {
    return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                     (a[2] - b[2]) * (a[2] - b[2]));
  }
  // Fractional difference wrapped to [-0.5, 0.5), then the 27 neighbouring images: exact
  // for all but extremely skewed cells, which ValidateStructure rejects via volume.
  Vec3 df;
  for (int k = 0; k < 3; ++k) {
    df[k] = st.sites[j].frac[k] - st.sites[i].frac[k];
    df[k] -= std::round(df[k]);
  }
  double best = 1e300;
  for (int x = -1; x <= 1; ++x) {
    for (int y = -1; y <= 1; ++y) {
      for (int z = -1; z <= 1; ++z) {
        const Vec3 d = st.lattice.ToCartesian({df[0] + x, df[1] + y, df[2] + z});
        best = std::min(best, Dot(d, d));
      }
    }
  }
  return std::sqrt(best);
}

void MergeDisorderedSites(Structure* st, double tolerance) {
  const int n = static_cast<int>(st->sites.size());
  std::vector<bool> consumed(n, false);
  std::vector<Site> merged;
  int merged_groups = 0;
  for (int i = 0; i < n; ++i) {
    if (consumed[i]) continue;
    consumed[i] = true;
    std::vector<int> group = {i};
    if (st->sites[i].occupancy < 1.0 - 1e-6) {
      for (int j = i + 1; j < n; ++j) {
        if (!consumed[j] && st->sites[j].occupancy < 1.0 - 1e-6 &&
            MinimumImageDistance(*st, i, j) < tolerance) {
          group.push_back(j);
        }
      }
    }
    double total = 0;
    int best = i;
    for (int k : group) {
      total += st->sites[k].occupancy;
      if (st->sites[k].occupancy > st->sites[best].occupancy) best = k;
    }
    if (group.size() > 1 && total <= 1.0 + 1e-3) {
      for (int k : group) consumed[k] = true;
      Site s = st->sites[best];
      s.occupancy = std::min(1.0, total);
      merged.push_back(std::move(s));
      ++merged_groups;
    } else {
      merged.push_back(st->sites[i]);
    }
  }
  if (merged_groups > 0) {
    st->notes.push_back(absl::StrCat(merged_groups,
                                     " mixed-occupancy site(s) merged into their majority "
                                     "species (",
                                     n, " -> ", merged.size(), " sites)"));
  }
  st->sites = std::move(merged);
}

absl::Status ValidateStructure(const Structure& st, const StructureLimits& limits) {
  auto invalid = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(st.source, ": ", parts...));
  };
  if (st.sites.empty()) return invalid("structure has no atoms");
  if (static_cast<int>(st.sites.size()) > limits.max_atoms) {
    return invalid("structure has ", st.sites.size(), " atoms, more than the limit of ",
                   limits.max_atoms);
  }
  if (st.periodic) {
    for (const Vec3& row : st.lattice.vectors()) {
      for (double x : row) {
        if (!std::isfinite(x) || std::fabs(x) > limits.max_coordinate) {
          return invalid("lattice vector component ", x, " is not finite or too large");
        }
      }
    }
    const double v = st.lattice.Volume();
    if (!(v > limits.min_volume_per_atom * static_cast<double>(st.sites.size()))) {
      return invalid("cell volume ", absl::StrFormat("%.4g", v), " A^3 is zero or too small for ",
                     st.sites.size(), " atoms");
    }
    const Vec3 w = st.lattice.PerpendicularWidths();
    for (int k = 0; k < 3; ++k) {
      if (!(w[k] >= limits.min_cell_width)) {
        return invalid("cell is only ", absl::StrFormat("%.3g", w[k]), " A thick along ",
                       absl::string_view("abc").substr(k, 1), "* (less than ",
                       limits.min_cell_width, " A): degenerate or unreduced lattice");
      }
    }
  }
  for (size_t i = 0; i < st.sites.size(); ++i) {
    const Site& s = st.sites[i];
    const std::string name = s.label.empty() ? absl::StrCat("#", i + 1) : s.label;
    if (ElementByNumber(s.atomic_number) == nullptr) {
      return invalid("site ", name, " has unknown element (Z=", s.atomic_number, ")");
    }
    for (int k = 0; k < 3; ++k) {
      if (!std::isfinite(s.cart[k]) || (st.periodic && !std::isfinite(s.frac[k])) ||
          std::fabs(s.cart[k]) > limits.max_coordinate) {
        return invalid("site ", name, " has a non-finite or out-of-range coordinate");
      }
    }
    if (!(s.occupancy > 0 && s.occupancy <= 1.0 + 1e-6)) {
      return invalid("site ", name, " has occupancy ", s.occupancy, " outside (0, 1]");
    }
  }
  // Close contacts, periodic images included, by the exact neighbour search. The width check
  // above bounds the images it needs.
  if (limits.min_distance > 0) {
    const auto neighbors = FindNeighbors(st, limits.min_distance);
    for (size_t i = 0; i < neighbors.size(); ++i) {
      for (const Neighbor& nb : neighbors[i]) {
        if (nb.distance >= limits.min_distance) continue;
        const Site& a = st.sites[i];
        const Site& b = st.sites[nb.index];
        return invalid("atoms ", i + 1, " (", a.label, ") and ", nb.index + 1, " (", b.label,
                       static_cast<int>(i) == nb.index ? ", a periodic image" : "", ") are ",
                       absl::StrFormat("%.3f", nb.distance), " A apart, closer than ",
                       limits.min_distance, " A");
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace matalign::materials
